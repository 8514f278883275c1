// Picks the page from the URL: <root>, <root>events/<id>, <root>targets.
import { root, loadConfig } from './api.js';
import { errorBox, replace } from './dom.js';
import { renderList } from './list.js';
import { renderEvent } from './event.js';
import { renderTargets } from './targets.js';

function page() {
	const path = location.pathname;
	const rel = path.startsWith(root.pathname) ? path.slice(root.pathname.length) : '';
	if (rel === 'targets') return { name: 'targets' };
	if (rel.startsWith('events/') && rel.length > 'events/'.length) {
		return { name: 'event', id: decodeURIComponent(rel.slice('events/'.length)) };
	}
	return { name: 'list' };
}

async function main() {
	const el = document.getElementById('main');
	const p = page();
	for (const a of document.querySelectorAll('header nav a')) {
		if (a.dataset.page === p.name || (p.name === 'event' && a.dataset.page === 'list')) {
			a.setAttribute('aria-current', 'page');
		}
	}
	let config;
	try {
		config = await loadConfig();
	} catch (err) {
		replace(el, errorBox(err));
		return;
	}
	document.getElementById('mode').hidden = !config.read_only;
	if (p.name === 'targets') renderTargets(el, config);
	else if (p.name === 'event') renderEvent(el, config, p.id);
	else renderList(el, config);
}

main();
