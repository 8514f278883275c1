package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"odd", []float64{3, 1, 2}, 2},
		{"even averages the middle two", []float64{4, 1, 3, 2}, 2.5},
		{"single", []float64{7}, 7},
		{"NaN ignored", []float64{nan, 5, 1, nan, 3}, 3},
		{"all NaN", []float64{nan, nan}, nan},
		{"empty", nil, nan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.in...)
			got := median(in)
			if !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Fatalf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
			for i := range in { // the caller's order is left alone
				if !(in[i] == tt.in[i] || math.IsNaN(in[i]) && math.IsNaN(tt.in[i])) {
					t.Fatalf("median reordered its input: %v", in)
				}
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"small int", fmtInt(999.4), "999"},
		{"thousands", fmtInt(12735.6), "12,736"},
		{"millions", fmtInt(1234567), "1,234,567"},
		{"negative", fmtInt(-4321), "-4,321"},
		{"NaN int", fmtInt(math.NaN()), "–"},
		{"fixed", fmtFixed(2.345, 1), "2.3"},
		{"NaN fixed", fmtFixed(math.NaN(), 2), "–"},
		{"ms below 10", fmtMs(5.9), "5.90"},
		{"ms above 10", fmtMs(13.94), "13.9"},
		{"statuses by count", fmtStatuses(map[int]int64{202: 1500, 503: 2, 200: 2}, 0, ""), "202: 1,500, 200: 2, 503: 2"},
		{"conn errors", fmtStatuses(nil, 3, "dial tcp: connection refused"), "conn errors: 3 (dial tcp: connection refused)"},
		{"no answers", fmtStatuses(nil, 0, ""), "none"},
		{"ratio", fmtFixed(ratio(25470, 12735), 2), "2.00"},
		{"ratio by zero", fmtFixed(ratio(1, 0), 2), "–"},
		{"GiB", formatGiB(8 << 30), "8.0 GiB"},
		{"percent", fmtPercent(100 * ratio(65953, 117035)), "56.4%"},
		{"NaN percent", fmtPercent(100 * ratio(0, 0)), "–"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// fakeRun is a result with the figures the tables read.
func fakeRun(sc string, conns, size, round int, rps float64, p99 time.Duration) *runResult {
	return &runResult{
		runSpec:  runSpec{scenario: sc, conns: conns, size: size, round: round},
		rps:      rps,
		p50:      p99 / 3,
		p99:      p99,
		statuses: map[int]int64{200: int64(rps)},
		caddyCPU: 80, caddyRSS: 60, benchCPU: 50, hostBusy: 97,
		accepted: int64(rps) * 12, delivered: int64(rps) * 12, drained: true,
	}
}

func TestReport(t *testing.T) {
	opts := &options{scenarios: []string{"proxy", "inbox"}, rounds: 3, conns: []int{64}, sizes: []int{400},
		warmup: 2 * time.Second, duration: 10 * time.Second, drain: 10 * time.Second}
	var results []*runResult
	for round, v := range []struct{ proxy, inbox float64 }{{12000, 30000}, {13000, 26000}, {10000, 20000}} {
		results = append(results,
			fakeRun("proxy", 64, 400, round+1, v.proxy, 14*time.Millisecond),
			fakeRun("inbox", 64, 400, round+1, v.inbox, 7*time.Millisecond))
	}
	tests := []struct {
		name    string
		opts    *options
		results []*runResult
		want    []string
		notWant []string
	}{
		{
			name:    "one combination: medians and ratio, no scaling table",
			opts:    opts,
			results: results,
			want: []string{
				"- command: `go run ./bench`",
				"### 64 connections, 400-byte bodies",
				"| proxy | 12,000 | 4.67 | 14.0 | 0 | 80.0 | 60.0 |",
				"| inbox | 26,000 | 2.33 | 7.00 | 0 |",
				"- ingest while delivering (inbox / proxy): rps **2.17×**, p99 **0.50×**",
				"- end to end (app ev/s overall, inbox / proxy): **",
				"| 3 | inbox | 20,000 |",
				"| 100.0% (3/3 rounds complete) |",
			},
			notWant: []string{"### Scaling", "durable ingest"},
		},
		{
			name: "ingest with the app down: its own ratio, no delivery figures",
			opts: &options{scenarios: []string{"proxy", "ingest"}, rounds: 1, conns: []int{64}, sizes: []int{400}},
			results: []*runResult{
				fakeRun("proxy", 64, 400, 1, 12000, 14*time.Millisecond),
				func() *runResult {
					r := fakeRun("ingest", 64, 400, 1, 30000, 7*time.Millisecond)
					r.appDown, r.delivered, r.drained = true, 0, false
					return r
				}(),
			},
			want: []string{
				"- durable ingest (ingest / proxy): rps **2.50×**, p99 **0.50×** (target: rps ≥ 2×, p99 ≤ 1×)",
				"| – | – | app down |",
				"| app down; 360,000 stored |",
			},
			notWant: []string{"end to end", "(0/1 rounds complete)"},
		},
		{
			name: "several combinations: scaling table",
			opts: &options{scenarios: []string{"proxy", "inbox"}, rounds: 1, conns: []int{1, 64}, sizes: []int{400},
				warmup: time.Second, duration: time.Second},
			results: []*runResult{
				fakeRun("proxy", 1, 400, 1, 2000, 2*time.Millisecond),
				fakeRun("inbox", 1, 400, 1, 1000, 4*time.Millisecond),
				fakeRun("proxy", 64, 400, 1, 12000, 14*time.Millisecond),
				fakeRun("inbox", 64, 400, 1, 24000, 14*time.Millisecond),
			},
			want: []string{
				"### 1 connections, 400-byte bodies",
				"### Scaling (medians)",
				"| conns | size | proxy rps | proxy p99 ms | inbox rps | inbox p99 ms | inbox/proxy rps | inbox/proxy p99 |",
				"| 1 | 400 | 2,000 | 2.00 | 1,000 | 4.00 | 0.50× | 2.00× |",
				"| 64 | 400 | 12,000 | 14.0 | 24,000 | 14.0 | 2.00× | 1.00× |",
			},
		},
		{
			name:    "direct only: no ratio, caddy columns empty",
			opts:    &options{scenarios: []string{"direct"}, rounds: 1, conns: []int{64}, sizes: []int{400}},
			results: []*runResult{{runSpec: runSpec{scenario: "direct", conns: 64, size: 400, round: 1}, rps: 30000, caddyCPU: math.NaN(), caddyRSS: math.NaN(), hostBusy: 99, benchCPU: 55}},
			want:    []string{"| direct | 30,000 | 0.00 | 0.00 | 0 | – | – |", "| – (0/1 rounds complete) |"},
			notWant: []string{"inbox / proxy", "durable ingest"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			rp := &report{command: commandLine(nil), facts: machineFacts{nproc: 2}, opts: tt.opts, results: tt.results}
			rp.write(&buf)
			out := buf.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q", w)
				}
			}
			if t.Failed() {
				t.Log(out)
			}
		})
	}
}

func TestCPUModel(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"x86", "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t: sha_ni\n", "Intel(R) Xeon(R) Processor"},
		{"none", "processor\t: 0\n", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cpuModel([]byte(tt.in)); got != tt.want {
				t.Fatalf("cpuModel = %q, want %q", got, tt.want)
			}
		})
	}
}
