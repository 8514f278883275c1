// DOM helpers. Everything that comes from an event (payload, headers, IDs,
// types, answers) reaches the page through text nodes and attributes set
// one by one: nothing here parses HTML.

// h builds an element. props: class, hidden, disabled and on<event>
// handlers are set as properties; every other key is an attribute.
// children: strings become text nodes, null and false are skipped,
// arrays are flattened.
export function h(tag, props, ...children) {
	const el = tag.startsWith('svg:')
		? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
		: document.createElement(tag);
	for (const [key, value] of Object.entries(props || {})) {
		if (value === undefined || value === null || value === false) continue;
		if (key.startsWith('on') && typeof value === 'function') {
			el.addEventListener(key.slice(2), value);
		} else if (key === 'class') {
			el.setAttribute('class', value);
		} else if (key === 'hidden' || key === 'disabled' || key === 'selected' || key === 'checked') {
			el[key] = Boolean(value);
		} else if (key === 'value') {
			el.value = value;
		} else {
			el.setAttribute(key, String(value));
		}
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const child of children) {
		if (child === null || child === undefined || child === false) continue;
		if (Array.isArray(child)) append(el, child);
		else if (child instanceof Node) el.appendChild(child);
		else el.appendChild(document.createTextNode(String(child)));
	}
}

// replace empties el and appends children.
export function replace(el, ...children) {
	el.replaceChildren();
	append(el, children);
	return el;
}

// The statuses the page has a colour for; anything else is drawn plain.
const STATUSES = new Set(['pending', 'delivered', 'dead', 'unrouted', 'orphaned', 'open', 'closed', 'paused']);

export function badge(status) {
	const known = STATUSES.has(status) ? status : 'other';
	return h('span', { class: 'badge status-' + known }, status || '—');
}

// time formats a timestamp in local time, with the exact one as a tooltip.
export function time(iso) {
	if (!iso || iso.startsWith('0001-')) return h('span', { class: 'muted' }, '—');
	const d = new Date(iso);
	return h('time', { datetime: iso, title: iso }, d.toLocaleString());
}

// age is a number of seconds, short and readable.
export function age(seconds) {
	if (!seconds) return '—';
	const s = Math.round(seconds);
	if (s < 120) return s + ' s';
	if (s < 7200) return Math.round(s / 60) + ' min';
	if (s < 172800) return (s / 3600).toFixed(1) + ' h';
	return (s / 86400).toFixed(1) + ' d';
}

export function bytes(n) {
	if (n === undefined || n === null) return '—';
	if (n < 1024) return n + ' B';
	if (n < 1 << 20) return (n / 1024).toFixed(1) + ' KiB';
	if (n < 1 << 30) return (n / (1 << 20)).toFixed(1) + ' MiB';
	return (n / (1 << 30)).toFixed(1) + ' GiB';
}

// errorBox shows an error where a page would be.
export function errorBox(err) {
	return h('p', { class: 'error', role: 'alert' }, err && err.message ? err.message : String(err));
}

// poller calls fn now and then every ms while the page is visible,
// never two at once; stop() ends it.
export function poller(fn, ms) {
	let timer = null;
	let stopped = false;
	const tick = async () => {
		timer = null;
		if (stopped) return;
		if (!document.hidden) {
			try {
				await fn();
			} catch (err) {
				// the page shows the error; a later tick may recover
			}
		}
		if (!stopped) timer = setTimeout(tick, ms);
	};
	tick();
	return {
		stop() {
			stopped = true;
			if (timer) clearTimeout(timer);
		},
	};
}
