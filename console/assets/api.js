// The console's JSON API, under <root>api/: the admin API's routes and
// shapes, plus config, series and an event's raw body.

export const root = new URL(document.baseURI);

export class APIError extends Error {
	constructor(status, message, sources) {
		super(message);
		this.status = status;
		// for a 409: the sources that hold the event ID asked for
		this.sources = Array.isArray(sources) ? sources : [];
	}
}

function url(path, params) {
	const u = new URL('api/' + path, root);
	for (const [k, v] of Object.entries(params || {})) {
		if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, v);
	}
	return u;
}

async function answer(resp) {
	if (resp.status === 204) return null;
	const text = await resp.text();
	let data = null;
	try {
		data = text ? JSON.parse(text) : null;
	} catch {
		data = null;
	}
	if (!resp.ok) {
		const msg = data && typeof data.error === 'string' ? data.error : 'HTTP ' + resp.status;
		throw new APIError(resp.status, msg, data && data.sources);
	}
	return data;
}

export async function get(path, params) {
	const resp = await fetch(url(path, params), { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
	return answer(resp);
}

export async function getText(path, params) {
	const resp = await fetch(url(path, params), { credentials: 'same-origin' });
	if (!resp.ok) return answer(resp);
	return resp.text();
}

// send makes a state-changing request; the console refuses one without
// X-Inbox-Console, which no form and no other site can send.
export async function send(method, path, params, body) {
	const init = {
		method,
		credentials: 'same-origin',
		headers: { 'X-Inbox-Console': '1', Accept: 'application/json' },
	};
	if (body !== undefined) {
		init.headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	return answer(await fetch(url(path, params), init));
}

// eventPath is an event's path below the root (or below api/).
export function eventPath(id) {
	return 'events/' + encodeURIComponent(id);
}

// eventHref links an event's page; the source picks it among events of
// several sources that share its ID.
export function eventHref(id, source) {
	return eventPath(id) + '?source=' + encodeURIComponent(source);
}

let config = null;

// loadConfig reads api/config once: read_only and the target names.
export async function loadConfig() {
	if (!config) config = await get('config');
	return config;
}
