// A small stacked bar chart of one target's deliveries per bucket, drawn
// as SVG elements; colours come from the stylesheet's classes.
import { h } from './dom.js';

const RESULTS = ['success', 'retry', 'dead'];
const W = 360;
const H = 72;

export function chart(name, series, bucketSeconds) {
	const n = series.success.length;
	const totals = RESULTS.map((r) => series[r].reduce((a, b) => a + b, 0));
	let peak = 1;
	for (let i = 0; i < n; i++) peak = Math.max(peak, RESULTS.reduce((a, r) => a + series[r][i], 0));
	const bw = W / n;
	const bars = [];
	for (let i = 0; i < n; i++) {
		let y = H;
		const tip = [];
		for (const r of RESULTS) {
			const v = series[r][i];
			if (!v) continue;
			tip.push(r + ' ' + v);
			const bh = (v / peak) * (H - 4);
			y -= bh;
			bars.push(h('svg:rect', { class: 'bar-' + r, x: (i * bw + 0.5).toFixed(1), y: y.toFixed(1), width: Math.max(bw - 1, 1).toFixed(1), height: bh.toFixed(1) }));
		}
		if (tip.length) {
			const ago = Math.round(((n - 1 - i) * bucketSeconds) / 60);
			bars.push(h('svg:rect', { class: 'bar-hit', x: (i * bw).toFixed(1), y: 0, width: bw.toFixed(1), height: H },
				h('svg:title', null, (ago ? ago + ' min ago: ' : 'this minute: ') + tip.join(', '))));
		}
	}
	const svg = h('svg:svg', { viewBox: '0 0 ' + W + ' ' + (H + 14), width: W, height: H + 14, role: 'img', 'aria-label': 'deliveries of ' + name + ' by result, last hour' },
		h('svg:line', { class: 'axis', x1: 0, y1: H + 0.5, x2: W, y2: H + 0.5 }),
		bars,
		h('svg:text', { class: 'tick', x: 0, y: H + 12 }, '−60 min'),
		h('svg:text', { class: 'tick', x: W, y: H + 12, 'text-anchor': 'end' }, 'now'));
	return h('figure', { class: 'chart', 'data-target': name },
		h('figcaption', null, h('strong', null, name), ' ',
			RESULTS.map((r, i) => h('span', { class: 'legend legend-' + r }, r + ' ' + totals[i]))),
		svg);
}
