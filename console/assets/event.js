// One event: what arrived, where it went, every attempt, and the actions
// (replay, delete) unless the console is read-only.
import { get, getText, send, eventPath, eventHref, root } from './api.js';
import { h, replace, badge, time, bytes, errorBox, poller } from './dom.js';

const POLL_MS = 2000;

export function renderEvent(main, config, id) {
	const source = new URLSearchParams(location.search).get('source') || '';
	const apiPath = eventPath(id);
	const q = { source };

	const meta = h('dl', { class: 'meta' });
	const message = h('p', { class: 'message', role: 'status' });
	const targets = h('section', { id: 'targets' });
	const attempts = h('section', { id: 'attempts' });
	const headers = h('section', { id: 'headers' });
	const body = h('section', { id: 'body' });
	const actions = config.read_only ? null : h('div', { class: 'actions' });
	replace(main, h('h1', null, 'Event ', h('code', { class: 'event-id' }, id)), meta, actions, message, targets, attempts, headers, body);

	let ev = null;
	let drawnBody = false;
	let poll = null;

	const draw = () => {
		replace(meta,
			h('dt', null, 'Source'), h('dd', null, ev.source),
			h('dt', null, 'Type'), h('dd', null, ev.type || '—'),
			h('dt', null, 'Status'), h('dd', { id: 'event-status' }, badge(ev.status)),
			h('dt', null, 'Received'), h('dd', null, time(ev.received_at)),
			h('dt', null, 'Client IP'), h('dd', null, ev.client_ip || '—'),
			h('dt', null, 'Body'), h('dd', null, bytes(ev.body_size)));
		drawTargets(targets, ev, config, replay);
		drawAttempts(attempts, ev);
		if (!drawnBody) {
			drawHeaders(headers, ev.headers);
			drawBody(body, ev, () => getText(apiPath + '/body', q));
			drawnBody = true;
		}
	};

	const load = async () => {
		try {
			ev = await get(apiPath, q);
		} catch (err) {
			const choices = err.sources && err.sources.length ? h('ul', { class: 'sources' },
				err.sources.map((s) => h('li', null, h('a', { href: eventHref(id, s) }, 'Source ', s)))) : null;
			replace(main, h('h1', null, 'Event ', h('code', { class: 'event-id' }, id)), errorBox(err), choices,
				h('p', null, h('a', { href: './' }, '← All events')));
			if (poll) poll.stop();
			throw err;
		}
		draw();
		const busy = ev.status === 'pending' || ev.targets.some((t) => t.status === 'pending');
		if (!busy && poll) {
			poll.stop();
			poll = null;
		}
	};

	const follow = () => {
		if (!poll) poll = poller(load, POLL_MS);
	};

	async function replay(target) {
		const label = target ? 'target ' + target : 'all targets';
		replace(message, 'Replaying to ' + label + '…');
		try {
			const answer = await send('POST', apiPath + '/replay', { source: ev.source, target });
			replace(message, 'Requeued for ' + answer.targets.join(', ') + '.');
		} catch (err) {
			replace(message, errorBox(err));
			return;
		}
		follow();
	}

	if (actions) {
		const confirm = h('div', { class: 'confirm', hidden: true },
			'Delete this event and its delivery history? This cannot be undone. ',
			h('button', { type: 'button', class: 'danger', id: 'confirm-delete', onclick: async () => {
				if (poll) {
					poll.stop();
					poll = null;
				}
				try {
					await send('DELETE', apiPath, { source: ev.source });
				} catch (err) {
					replace(message, errorBox(err));
					return;
				}
				location.assign(new URL('./', root));
			} }, 'Delete permanently'),
			' ',
			h('button', { type: 'button', onclick: () => { confirm.hidden = true; } }, 'Cancel'));
		replace(actions,
			h('button', { type: 'button', id: 'replay-all', onclick: () => replay('') }, 'Replay (all targets)'),
			' ',
			h('button', { type: 'button', class: 'danger', id: 'delete', onclick: () => { confirm.hidden = false; } }, 'Delete…'),
			confirm);
	}

	poll = poller(load, POLL_MS);
}

function drawTargets(section, ev, config, replay) {
	const rows = ev.targets.map((t) => h('tr', { 'data-target': t.target },
		h('td', null, t.target),
		h('td', null, badge(t.status)),
		h('td', { class: 'num' }, String(t.run_attempts), ' / ', String(t.attempt_count)),
		h('td', null, time(t.due)),
		h('td', null, time(t.updated_at)),
		h('td', { class: 'reason' }, t.reason || ''),
		config.read_only ? null : h('td', null, h('button', { type: 'button', class: 'small replay-target', onclick: () => replay(t.target) }, 'Replay'))));
	replace(section, h('h2', null, 'Targets'),
		ev.targets.length === 0 ? h('p', { class: 'muted' }, 'Unrouted: no target matched.') : h('table', null,
			h('thead', null, h('tr', null, ['Target', 'State', 'Attempts (run / all)', 'Due', 'Updated', 'Reason'].map((c) => h('th', null, c)), config.read_only ? null : h('th', null, ''))),
			h('tbody', null, rows)));
}

function drawAttempts(section, ev) {
	const parts = [h('h2', null, 'Attempts')];
	for (const t of ev.targets) {
		parts.push(h('h3', null, t.target));
		if (t.attempts.length === 0) {
			parts.push(h('p', { class: 'muted' }, 'No attempt yet.'));
			continue;
		}
		parts.push(h('table', { class: 'attempts', 'data-target': t.target },
			h('thead', null, h('tr', null, ['Time', 'Duration', 'Status', 'Error', 'Answer'].map((c) => h('th', null, c)))),
			h('tbody', null, t.attempts.map((a) => h('tr', null,
				h('td', null, time(a.at)),
				h('td', { class: 'num' }, a.duration_ms.toFixed(1) + ' ms'),
				h('td', { class: 'num attempt-status' }, a.status ? String(a.status) : 'no answer'),
				h('td', { class: 'reason' }, a.error || ''),
				h('td', null, a.body ? h('code', { class: 'excerpt' }, a.body) : ''))))));
	}
	replace(section, parts);
}

function drawHeaders(section, headers) {
	const names = Object.keys(headers).sort();
	replace(section, h('h2', null, 'Headers'),
		names.length === 0 ? h('p', { class: 'muted' }, 'None kept.') : h('table', { class: 'headers' },
			h('tbody', null, names.map((n) => h('tr', null, h('th', null, n), h('td', null, h('code', null, headers[n])))))));
}

// pretty is the body as the page shows it first: indented JSON, or the
// decoded bytes of a body that is not JSON.
function pretty(ev) {
	if (ev.body_encoding === 'json') return JSON.stringify(ev.body, null, 2);
	const bin = atob(ev.body);
	const buf = Uint8Array.from(bin, (c) => c.charCodeAt(0));
	return new TextDecoder().decode(buf);
}

function drawBody(section, ev, fetchRaw) {
	const view = h('pre', { class: 'body', id: 'body-pretty' }, pretty(ev));
	const raw = h('pre', { class: 'body', id: 'body-raw', hidden: true });
	let loaded = false;
	const toggle = h('button', { type: 'button', id: 'show-raw', onclick: async () => {
		if (!raw.hidden) {
			raw.hidden = true;
			view.hidden = false;
			toggle.textContent = 'Raw bytes';
			return;
		}
		if (!loaded) {
			try {
				replace(raw, await fetchRaw());
				loaded = true;
			} catch (err) {
				replace(raw, errorBox(err));
			}
		}
		raw.hidden = false;
		view.hidden = true;
		toggle.textContent = 'Pretty';
	} }, 'Raw bytes');
	const note = ev.body_encoding === 'json' ? 'JSON, indented' : 'not JSON, shown as text';
	replace(section, h('h2', null, 'Body'), h('p', { class: 'muted' }, note + ' · ', toggle), view, raw);
}
