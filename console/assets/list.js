// The event list: newest first, filters in the URL, paging by cursor,
// new events appearing by themselves on the first page.
import { get, eventHref } from './api.js';
import { h, replace, badge, time, errorBox, poller } from './dom.js';

const STATUSES = ['pending', 'delivered', 'dead', 'unrouted', 'orphaned'];
const PERIODS = [['', 'any time'], ['15m', 'last 15 minutes'], ['1h', 'last hour'], ['24h', 'last 24 hours'], ['168h', 'last 7 days'], ['custom', 'from … to …']];
const FILTERS = ['status', 'target', 'source', 'type', 'since', 'until'];
const PAGE_SIZE = 50;
const POLL_MS = 2000;

// localInput turns an RFC 3339 time into a datetime-local value.
function localInput(iso) {
	const d = new Date(iso);
	if (isNaN(d)) return '';
	return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function select(name, label, options, value) {
	return h('label', null, label,
		h('select', { name }, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text))));
}

export function renderList(main, config) {
	const params = new URLSearchParams(location.search);
	const cursor = params.get('cursor') || '';
	const since = params.get('since') || '';
	const until = params.get('until') || '';
	const preset = PERIODS.some(([v]) => v === since && v !== 'custom') && !until ? since : 'custom';
	const period = since === '' && until === '' ? '' : preset;

	const form = h('form', { class: 'filters', role: 'search' },
		select('status', 'Status', [['', 'any']].concat(STATUSES.map((s) => [s, s])), params.get('status') || ''),
		select('target', 'Target', [['', 'any']].concat(config.targets.map((t) => [t, t])), params.get('target') || ''),
		h('label', null, 'Source', h('input', { name: 'source', value: params.get('source') || '', placeholder: 'any', size: 12, list: 'sources' })),
		h('label', null, 'Type', h('input', { name: 'type', value: params.get('type') || '', placeholder: 'any', size: 16 })),
		select('period', 'Received', PERIODS, period),
		h('label', { class: 'custom-time', hidden: period !== 'custom' }, 'From',
			h('input', { type: 'datetime-local', name: 'from', value: period === 'custom' && since ? localInput(since) : '' })),
		h('label', { class: 'custom-time', hidden: period !== 'custom' }, 'To',
			h('input', { type: 'datetime-local', name: 'to', value: period === 'custom' && until ? localInput(until) : '' })),
		FILTERS.some((k) => params.get(k)) ? h('a', { href: './', class: 'clear' }, 'Clear filters') : null,
	);
	// the sources seen so far, offered while typing a source
	const sources = new Set();
	const sourceList = h('datalist', { id: 'sources' });
	const status = h('p', { class: 'live muted', role: 'status' });
	const body = h('tbody');
	const table = h('table', { class: 'events' },
		h('thead', null, h('tr', null, ['Received', 'Status', 'Source', 'Type', 'Event ID', 'Targets'].map((c) => h('th', null, c)))),
		body);
	const pager = h('nav', { class: 'pager' });
	replace(main, h('h1', null, 'Events'), form, sourceList, status, table, pager);

	form.addEventListener('change', (ev) => {
		if (ev.target.name === 'period') {
			for (const el of form.querySelectorAll('.custom-time')) el.hidden = ev.target.value !== 'custom';
		}
		apply(form);
	});
	form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		apply(form);
	});

	const query = { limit: params.get('limit') || PAGE_SIZE, cursor };
	for (const k of FILTERS) query[k] = params.get(k) || '';

	const seen = new Set();
	let first = true;
	let last = '';
	const load = async () => {
		let answer;
		try {
			answer = await get('events', query);
		} catch (err) {
			replace(status, errorBox(err));
			throw err;
		}
		// an unchanged answer leaves the rows alone (and any text selected in them)
		const sig = JSON.stringify(answer);
		if (sig === last) return;
		last = sig;
		const before = sources.size;
		for (const ev of answer.events) sources.add(ev.source);
		if (sources.size !== before) replace(sourceList, [...sources].sort().map((v) => h('option', { value: v })));
		const rows = answer.events.map((ev) => {
			const key = ev.source + '\u0000' + ev.id;
			const fresh = !first && !seen.has(key);
			seen.add(key);
			return row(ev, fresh);
		});
		if (rows.length === 0) rows.push(h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'No events match.')));
		replace(body, rows);
		replace(pager,
			cursor ? h('a', { href: link(params, '') }, '← Newest') : null,
			answer.next_cursor ? h('a', { href: link(params, answer.next_cursor), rel: 'next' }, 'Older →') : null);
		replace(status, cursor ? 'Older page: new events appear on the newest page.' : h('span', { class: 'dot' }, 'Live: new events appear as they arrive.'));
		first = false;
	};
	if (cursor) load().catch(() => {});
	else poller(load, POLL_MS);
}

function row(ev, fresh) {
	return h('tr', { class: fresh ? 'new' : null, 'data-id': ev.id, 'data-source': ev.source },
		h('td', null, time(ev.received_at)),
		h('td', null, badge(ev.status)),
		h('td', null, ev.source),
		h('td', null, ev.type || h('span', { class: 'muted' }, '—')),
		h('td', { class: 'id' }, h('a', { href: eventHref(ev.id, ev.source) }, ev.id)),
		h('td', null, ev.targets.length === 0 ? h('span', { class: 'muted' }, 'none') : ev.targets.map((t) =>
			h('span', { class: 'target', title: t.reason || '' }, badge(t.status), ' ', t.target, t.attempts ? ' ×' + t.attempts : ''))));
}

// link is this list's URL on another page of results.
function link(params, cursor) {
	const p = new URLSearchParams(params);
	if (cursor) p.set('cursor', cursor);
	else p.delete('cursor');
	const q = p.toString();
	return './' + (q ? '?' + q : '');
}

// apply reloads the list with the form's filters, from the newest page.
function apply(form) {
	const data = new FormData(form);
	const p = new URLSearchParams();
	for (const k of ['status', 'target', 'source', 'type']) {
		const v = String(data.get(k) || '').trim();
		if (v) p.set(k, v);
	}
	const period = data.get('period');
	if (period === 'custom') {
		const from = data.get('from');
		const to = data.get('to');
		if (from) p.set('since', new Date(from).toISOString());
		if (to) p.set('until', new Date(to).toISOString());
	} else if (period) {
		p.set('since', period);
	}
	const q = p.toString();
	location.assign('./' + (q ? '?' + q : ''));
}
