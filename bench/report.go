package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// summary is the median of each figure over a scenario's rounds.
type summary struct {
	scenario       string
	rounds         int
	rps            float64
	p50ms, p99ms   float64
	errors         float64
	caddyCPU       float64
	caddyRSS       float64
	benchCPU       float64
	hostBusy       float64
	appWindowRate  float64
	appOverallRate float64
	deliveredPct   float64 // delivered after the drain, % of accepted
	drainedRounds  int     // rounds in which the app received every accepted event
	appDown        bool    // the app was down on purpose; nothing was delivered
}

// summarize takes the medians of one scenario's runs.
func summarize(scenario string, runs []*runResult) summary {
	s := summary{scenario: scenario, rounds: len(runs)}
	pick := func(f func(*runResult) float64) float64 {
		vals := make([]float64, 0, len(runs))
		for _, r := range runs {
			vals = append(vals, f(r))
		}
		return median(vals)
	}
	s.rps = pick(func(r *runResult) float64 { return r.rps })
	s.p50ms = pick(func(r *runResult) float64 { return ms(r.p50.Seconds()) })
	s.p99ms = pick(func(r *runResult) float64 { return ms(r.p99.Seconds()) })
	s.errors = pick(func(r *runResult) float64 { return float64(r.errors) })
	s.caddyCPU = pick(func(r *runResult) float64 { return r.caddyCPU })
	s.caddyRSS = pick(func(r *runResult) float64 { return r.caddyRSS })
	s.benchCPU = pick(func(r *runResult) float64 { return r.benchCPU })
	s.hostBusy = pick(func(r *runResult) float64 { return r.hostBusy })
	s.appWindowRate = pick(func(r *runResult) float64 { return r.appWindowRate })
	s.appOverallRate = pick(func(r *runResult) float64 { return r.appOverallRate })
	s.deliveredPct = pick(func(r *runResult) float64 { return 100 * ratio(float64(r.delivered), float64(r.accepted)) })
	for _, r := range runs {
		if r.drained {
			s.drainedRounds++
		}
		s.appDown = s.appDown || r.appDown
	}
	return s
}

func ms(seconds float64) float64 { return seconds * 1000 }

// median of the values that are not NaN; NaN if there are none.
func median(vals []float64) float64 {
	v := slices.DeleteFunc(slices.Clone(vals), math.IsNaN)
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	if n := len(v); n%2 == 1 {
		return v[n/2]
	} else {
		return (v[n/2-1] + v[n/2]) / 2
	}
}

// ratio is a/b, NaN when either is unknown or b is zero.
func ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return math.NaN()
	}
	return a / b
}

// report is everything the command prints on stdout.
type report struct {
	command string
	facts   machineFacts
	opts    *options
	results []*runResult
}

// combo is one connection count and body size.
type combo struct{ conns, size int }

// write prints the report as markdown.
func (rp *report) write(w io.Writer) {
	o := rp.opts
	fmt.Fprintf(w, "## caddy reverse_proxy vs webhook_inbox\n\n")
	fmt.Fprintf(w, "- command: `%s`\n", rp.command)
	f := rp.facts
	fmt.Fprintf(w, "- machine: nproc %d (%s), %s RAM, %s, %s\n", f.nproc, f.cpuModel, f.memory, f.kernel, f.goVer)
	fmt.Fprintf(w, "- caddy: %s; repo %s\n", f.caddy, f.repo)
	fmt.Fprintf(w, "- date: %s; load average at start %s\n", f.date, f.loadAvg)
	conc := "as many as connections (like reverse_proxy's requests in flight)"
	switch {
	case o.concurrency == 0:
		conc = "the module's default, 8"
	case o.concurrency > 0:
		conc = strconv.Itoa(o.concurrency)
	}
	fmt.Fprintf(w, "- inbox target concurrency: %s\n", conc)
	if o.appLatency > 0 {
		fmt.Fprintf(w, "- app: takes %s over each request\n", o.appLatency)
	}
	if slices.ContainsFunc(o.scenarios, isCluster) {
		fmt.Fprintf(w, "- cluster1, cluster3: webhook_inbox on `storage nats` (replicas %d) against a %d-node JetStream cluster run in the bench process on 127.0.0.1 (sync always: every ack is on disk on each replica), fresh for each run; cluster3 runs three gateways with the connections round robin over them and each target's concurrency a third of the connections; caddy CPU and RSS are summed over the gateways, and the nats-servers' CPU counts as bench CPU\n",
			clusterReplicas, clusterNodes)
	}
	fmt.Fprintf(w, "- load: signed seed-shaped `request.completed` events with unique IDs; body bytes %s; keep-alive connections %s, each a closed loop; %s warm-up, %s measured, up to %s drain; medians of %d round(s), scenarios alternating %s, each run in a fresh caddy with fresh storage; generator and downstream app share one process and the same CPUs as caddy\n\n",
		joinInts(o.sizes), joinInts(o.conns), o.warmup, o.duration, o.drain, o.rounds, strings.Join(o.scenarios, ", "))

	combos := rp.combos()
	for _, c := range combos {
		fmt.Fprintf(w, "### %d connections, %d-byte bodies\n\n", c.conns, c.size)
		sums := rp.summaries(c)
		writeSummaryTable(w, sums)
		if lines := ratioLines(sums); len(lines) > 0 {
			fmt.Fprintf(w, "\n%s\n", strings.Join(lines, "\n"))
		}
		fmt.Fprintf(w, "\nPer round:\n\n")
		writeRunTable(w, rp.runs(c, ""))
		fmt.Fprintln(w)
	}
	if len(combos) > 1 {
		fmt.Fprintf(w, "### Scaling (medians)\n\n")
		writeScalingTable(w, o.scenarios, combos, rp.summaries)
		fmt.Fprintln(w)
	}
	fmt.Fprint(w, legend)
}

// legend says what the columns mean.
const legend = `Columns: rps counts 2xx answers only, over the measured window; p50/p99 are
latencies of those answers; errors are non-2xx answers plus connection errors in
the window. Caddy CPU is utime+stime of the caddy process over the window per 2xx
answer; RSS is its VmHWM at the end. App ev/s is distinct event IDs the downstream
app received per second in the window; "overall" is all it received divided by the
time from load start to its last new event. Delivered is what the app had when the
drain ended, of the events the gateway accepted (2xx) in the whole run, warm-up
included. Bench CPU is this process (generator and app together) per 2xx answer;
host busy is all CPUs, whoever used them.
`

func (rp *report) combos() []combo {
	var out []combo
	for _, r := range rp.results {
		c := combo{r.conns, r.size}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// runs returns the results of combo c, of one scenario or of all.
func (rp *report) runs(c combo, scenario string) []*runResult {
	var out []*runResult
	for _, r := range rp.results {
		if r.conns == c.conns && r.size == c.size && (scenario == "" || r.scenario == scenario) {
			out = append(out, r)
		}
	}
	return out
}

// summaries returns the medians of each scenario that ran at c, in the
// order of -scenarios.
func (rp *report) summaries(c combo) []summary {
	var out []summary
	for _, sc := range rp.opts.scenarios {
		if runs := rp.runs(c, sc); len(runs) > 0 {
			out = append(out, summarize(sc, runs))
		}
	}
	return out
}

func writeSummaryTable(w io.Writer, sums []summary) {
	fmt.Fprintln(w, "| scenario | rps | p50 ms | p99 ms | errors | caddy CPU µs/event | caddy peak RSS MiB | app ev/s (window) | app ev/s (overall) | delivered after drain | bench CPU µs/event | host busy % |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range sums {
		delivered := fmt.Sprintf("%s (%d/%d rounds complete)", fmtPercent(s.deliveredPct), s.drainedRounds, s.rounds)
		appWindow, appOverall := fmtInt(s.appWindowRate), fmtInt(s.appOverallRate)
		if s.appDown {
			delivered, appWindow, appOverall = "app down", "–", "–"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			s.scenario, fmtInt(s.rps), fmtMs(s.p50ms), fmtMs(s.p99ms), fmtInt(s.errors),
			fmtFixed(s.caddyCPU, 1), fmtFixed(s.caddyRSS, 1), appWindow, appOverall,
			delivered, fmtFixed(s.benchCPU, 1), fmtFixed(s.hostBusy, 0))
	}
}

// ratioLines compare the inbox scenarios with the proxy against the
// targets: durable ingest (the ingest scenario, where nothing is being
// delivered) at ≥ 2× the proxy's rps with p99 no higher, and end to end
// (the inbox scenario: events the app received per second overall) at
// ≥ 1× the proxy's. Empty unless the proxy and an inbox scenario ran.
func ratioLines(sums []summary) []string {
	by := make(map[string]*summary)
	for i := range sums {
		by[sums[i].scenario] = &sums[i]
	}
	proxy := by[scenarioProxy]
	if proxy == nil {
		return nil
	}
	var lines []string
	if in := by[scenarioIngest]; in != nil {
		lines = append(lines, fmt.Sprintf("- durable ingest (ingest / proxy): rps **%s×**, p99 **%s×** (target: rps ≥ 2×, p99 ≤ 1×)",
			fmtFixed(ratio(in.rps, proxy.rps), 2), fmtFixed(ratio(in.p99ms, proxy.p99ms), 2)))
	}
	if in := by[scenarioInbox]; in != nil {
		lines = append(lines,
			fmt.Sprintf("- ingest while delivering (inbox / proxy): rps **%s×**, p99 **%s×**",
				fmtFixed(ratio(in.rps, proxy.rps), 2), fmtFixed(ratio(in.p99ms, proxy.p99ms), 2)),
			fmt.Sprintf("- end to end (app ev/s overall, inbox / proxy): **%s×** (target ≥ 1×)",
				fmtFixed(ratio(in.appOverallRate, proxy.appOverallRate), 2)))
	}
	for _, sc := range []string{scenarioCluster1, scenarioCluster3} {
		if in := by[sc]; in != nil {
			lines = append(lines,
				fmt.Sprintf("- %s / proxy: ingest rps **%s×**, p99 **%s×**; end to end (app ev/s overall) **%s×**; caddy CPU per event **%s×**",
					sc, fmtFixed(ratio(in.rps, proxy.rps), 2), fmtFixed(ratio(in.p99ms, proxy.p99ms), 2),
					fmtFixed(ratio(in.appOverallRate, proxy.appOverallRate), 2), fmtFixed(ratio(in.caddyCPU, proxy.caddyCPU), 2)))
		}
	}
	return lines
}

func writeRunTable(w io.Writer, runs []*runResult) {
	fmt.Fprintln(w, "| round | scenario | rps | p50 ms | p99 ms | answers in window | caddy CPU µs/event | caddy peak RSS MiB | app ev/s (window) | delivered / accepted (drain) | bench CPU µs/event | host busy % |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---|---:|---:|---:|---|---:|---:|")
	for _, r := range runs {
		drain := "complete"
		if !r.drained {
			drain = "incomplete"
		}
		delivered := fmt.Sprintf("%s / %s (%s after %.1fs)",
			fmtInt(float64(r.delivered)), fmtInt(float64(r.accepted)), drain, r.drainTime.Seconds())
		appWindow := fmtInt(r.appWindowRate)
		if r.appDown {
			delivered, appWindow = fmt.Sprintf("app down; %s stored", fmtInt(float64(r.accepted))), "–"
		}
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.round, r.scenario, fmtInt(r.rps), fmtMs(ms(r.p50.Seconds())), fmtMs(ms(r.p99.Seconds())),
			fmtStatuses(r.statuses, r.netErrors, r.errSample),
			fmtFixed(r.caddyCPU, 1), fmtFixed(r.caddyRSS, 1), appWindow,
			delivered, fmtFixed(r.benchCPU, 1), fmtFixed(r.hostBusy, 0))
	}
}

// writeScalingTable prints rps and p99 of every scenario per combo, and
// the inbox/proxy ratios when both ran.
func writeScalingTable(w io.Writer, scenarios []string, combos []combo, sums func(combo) []summary) {
	var compared []string // scenarios shown as ratios to the proxy
	if slices.Contains(scenarios, scenarioProxy) {
		for _, sc := range scenarios {
			if sc == scenarioInbox || sc == scenarioIngest || isCluster(sc) {
				compared = append(compared, sc)
			}
		}
	}
	head, align := []string{"conns", "size"}, []string{"---:", "---:"}
	for _, sc := range scenarios {
		head = append(head, sc+" rps", sc+" p99 ms")
		align = append(align, "---:", "---:")
	}
	for _, sc := range compared {
		head = append(head, sc+"/proxy rps", sc+"/proxy p99")
		align = append(align, "---:", "---:")
	}
	fmt.Fprintf(w, "| %s |\n|%s|\n", strings.Join(head, " | "), strings.Join(align, "|"))
	for _, c := range combos {
		row := []string{strconv.Itoa(c.conns), strconv.Itoa(c.size)}
		byName := make(map[string]summary)
		for _, s := range sums(c) {
			byName[s.scenario] = s
		}
		for _, sc := range scenarios {
			s, ok := byName[sc]
			if !ok {
				row = append(row, "–", "–")
				continue
			}
			row = append(row, fmtInt(s.rps), fmtMs(s.p99ms))
		}
		for _, sc := range compared {
			p, i := byName[scenarioProxy], byName[sc]
			row = append(row, fmtFixed(ratio(i.rps, p.rps), 2)+"×", fmtFixed(ratio(i.p99ms, p.p99ms), 2)+"×")
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
}

// fmtInt rounds v and groups thousands with commas; "–" for NaN.
func fmtInt(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	n := int64(math.Round(v))
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return sign + s
}

// fmtFixed prints v with prec decimals; "–" for NaN.
func fmtFixed(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// fmtPercent prints a percentage with one decimal; "–" for NaN.
func fmtPercent(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmtFixed(v, 1) + "%"
}

// fmtMs prints milliseconds with two decimals below 10 ms, one above.
func fmtMs(v float64) string {
	if !math.IsNaN(v) && v >= 10 {
		return fmtFixed(v, 1)
	}
	return fmtFixed(v, 2)
}

// fmtStatuses lists answers by status, most frequent first, then
// connection errors with one sample message.
func fmtStatuses(statuses map[int]int64, netErrors int64, sample string) string {
	codes := make([]int, 0, len(statuses))
	for c := range statuses {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool {
		if statuses[codes[i]] != statuses[codes[j]] {
			return statuses[codes[i]] > statuses[codes[j]]
		}
		return codes[i] < codes[j]
	})
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d: %s", c, fmtInt(float64(statuses[c]))))
	}
	if netErrors > 0 {
		parts = append(parts, fmt.Sprintf("conn errors: %s (%s)", fmtInt(float64(netErrors)), strings.ReplaceAll(sample, "|", "/")))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// formatGiB prints a byte count in GiB with one decimal.
func formatGiB(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + " GiB"
}
