// The targets: queue figures and circuits, an hour of deliveries, and
// the bulk replay of dead letters (dry run first).
import { get, send } from './api.js';
import { h, replace, badge, time, age, bytes, errorBox, poller } from './dom.js';
import { chart } from './chart.js';

const POLL_MS = 5000;

export function renderTargets(main, config) {
	const table = h('div', { id: 'target-table' });
	const store = h('p', { class: 'muted', id: 'store' });
	const charts = h('div', { class: 'charts', id: 'charts' });
	const message = h('p', { class: 'message', role: 'status' });
	replace(main, h('h1', null, 'Targets'), message, table, store,
		h('h2', null, 'Deliveries, last hour'), charts,
		config.read_only ? null : bulkReplay(config));

	const load = async () => {
		let stats;
		let series;
		try {
			[stats, series] = await Promise.all([get('stats'), get('series')]);
		} catch (err) {
			replace(table, errorBox(err));
			throw err;
		}
		drawTable(table, stats, config, message, load);
		const st = stats.store || {};
		replace(store, 'Store: ', st.backend || 'unknown',
			st.size_bytes !== undefined ? ' · ' + bytes(st.size_bytes) + ' used' : '',
			st.free_space_bytes !== undefined && st.free_space_bytes >= 0 ? ' · ' + bytes(st.free_space_bytes) + ' free' : '');
		const names = Object.keys(series.targets).sort();
		replace(charts, names.length === 0 ? h('p', { class: 'muted' }, 'No targets.') :
			names.map((n) => chart(n, series.targets[n], series.bucket_seconds)));
	};
	poller(load, POLL_MS);
}

function drawTable(el, stats, config, message, reload) {
	const names = Object.keys(stats.targets).sort();
	// pause/resume appear once the admin API reports "paused"
	const pausable = names.some((n) => 'paused' in stats.targets[n]);
	const act = (name, verb) => async () => {
		try {
			await send('POST', 'targets/' + encodeURIComponent(name) + '/' + verb);
			replace(message, 'Target ' + name + (verb === 'pause' ? ' paused.' : ' resumed.'));
		} catch (err) {
			replace(message, errorBox(err));
		}
		reload().catch(() => {});
	};
	const head = ['Target', 'Pending', 'Dead', 'Oldest pending', 'Circuit', 'Failures', 'Next probe'];
	if (pausable) head.push('Paused');
	replace(el, h('table', { class: 'targets' },
		h('thead', null, h('tr', null, head.map((c) => h('th', null, c)), h('th', null, ''))),
		h('tbody', null, names.map((n) => {
			const t = stats.targets[n];
			const dead = new URLSearchParams({ status: 'dead', target: n });
			return h('tr', { 'data-target': n },
				h('td', null, n, t.configured ? '' : h('span', { class: 'muted' }, ' (not configured)')),
				h('td', { class: 'num' }, String(t.pending)),
				h('td', { class: 'num' }, t.dead ? h('a', { href: './?' + dead.toString() }, String(t.dead)) : '0'),
				h('td', null, age(t.oldest_pending_seconds)),
				h('td', null, badge(t.circuit)),
				h('td', { class: 'num' }, String(t.consecutive_failures)),
				h('td', null, time(t.next_probe)),
				pausable ? h('td', null, t.paused ? badge('paused') : 'no') : null,
				h('td', null, !pausable || config.read_only || !t.configured ? null :
					h('button', { type: 'button', class: 'small', onclick: act(n, t.paused ? 'resume' : 'pause') }, t.paused ? 'Resume' : 'Pause')));
		}))));
}

// bulkReplay is the form that replays dead letters by CEL filter: it
// counts the matches first and only then offers to replay that many.
function bulkReplay(config) {
	const target = h('select', { name: 'target' }, h('option', { value: '' }, 'all targets'), config.targets.map((t) => h('option', { value: t }, t)));
	const filter = h('textarea', { name: 'filter', rows: 2, cols: 60, placeholder: 'CEL, e.g. event.event == "request.failed" (empty: every dead letter)', spellcheck: 'false' });
	const rate = h('input', { name: 'rate', type: 'number', min: '0.01', step: 'any', placeholder: '100', size: 6 });
	const result = h('p', { class: 'message', role: 'status', id: 'bulk-result' });
	const go = h('button', { type: 'button', class: 'danger', id: 'bulk-replay', hidden: true });
	const request = (dryRun) => {
		const body = { status: 'dead', target: target.value, filter: filter.value.trim(), dry_run: dryRun };
		if (!dryRun && rate.value) body.rate = Number(rate.value);
		return body;
	};
	const reset = () => {
		go.hidden = true;
		replace(result);
	};
	const count = h('button', { type: 'button', id: 'bulk-count', onclick: async () => {
		reset();
		try {
			const a = await send('POST', 'replay', null, request(true));
			const errs = a.filter_errors ? ' ' + a.filter_errors + ' could not be evaluated (first: ' + a.filter_error + ').' : '';
			replace(result, h('strong', { id: 'bulk-matched' }, String(a.matched)), ' dead letter' + (a.matched === 1 ? '' : 's') + ' match.' + errs);
			if (a.matched > 0) {
				go.textContent = 'Replay ' + a.matched + ' dead letter' + (a.matched === 1 ? '' : 's');
				go.hidden = false;
			}
		} catch (err) {
			replace(result, errorBox(err));
		}
	} }, 'Count matching (dry run)');
	go.addEventListener('click', async () => {
		go.hidden = true;
		try {
			const a = await send('POST', 'replay', null, request(false));
			replace(result, 'Requeued ' + a.requeued + ', spread over ' + a.spread_seconds.toFixed(1) + ' s at ' + a.rate + '/s.');
		} catch (err) {
			replace(result, errorBox(err));
		}
	});
	for (const el of [target, filter, rate]) el.addEventListener('input', reset);
	return h('section', { class: 'bulk', id: 'bulk' },
		h('h2', null, 'Replay dead letters'),
		h('div', { class: 'filters' },
			h('label', null, 'Target', target),
			h('label', { class: 'wide' }, 'Filter', filter),
			h('label', null, 'Rate (events/s)', rate)),
		h('p', null, count, ' ', go),
		result);
}
