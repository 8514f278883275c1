package cli

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCommandSendFlags(t *testing.T) {
	base := []string{"--url", "http://127.0.0.1:8080/hook", "--secret", cliTestSecret}
	tests := []struct {
		name    string
		args    []string
		env     string // UNICRAFT_WEBHOOK_SECRET
		wantErr string
		check   func(t *testing.T, o cliSendOptions)
	}{
		{
			name: "defaults send one of each type",
			args: base,
			check: func(t *testing.T, o cliSendOptions) {
				if o.Count != 7 || len(o.Types) != 7 || o.Concurrency != 1 || o.Rate != 0 || o.Timeout != 10*time.Second {
					t.Errorf("got %+v", o)
				}
				if o.Secret != cliTestSecret {
					t.Error("secret not taken from --secret")
				}
			},
		},
		{
			name: "all with count cycles",
			args: append(slices.Clone(base), "--event", "all", "--count", "14", "--rate", "50", "--concurrency", "8"),
			check: func(t *testing.T, o cliSendOptions) {
				if o.Count != 14 || len(o.Types) != 7 || o.Rate != 50 || o.Concurrency != 8 {
					t.Errorf("got %+v", o)
				}
			},
		},
		{
			name: "one type",
			args: append(slices.Clone(base), "--event", "cost.exceeded"),
			check: func(t *testing.T, o cliSendOptions) {
				if !slices.Equal(o.Types, []string{"cost.exceeded"}) || o.Count != 1 {
					t.Errorf("got %+v", o)
				}
			},
		},
		{
			name: "list of types",
			args: append(slices.Clone(base), "--event", "request.failed, error.high_rate"),
			check: func(t *testing.T, o cliSendOptions) {
				if !slices.Equal(o.Types, []string{"request.failed", "error.high_rate"}) {
					t.Errorf("types = %v", o.Types)
				}
			},
		},
		{
			name: "secret from the environment",
			args: []string{"--url", "https://example.com/hook"},
			env:  cliTestSecret,
			check: func(t *testing.T, o cliSendOptions) {
				if o.Secret != cliTestSecret {
					t.Error("secret not taken from the environment")
				}
			},
		},
		{
			name: "headers",
			args: append(slices.Clone(base), "--header", "X-Forwarded-For: 10.0.0.1", "--header", "X-Test:a", "--source-header"),
			check: func(t *testing.T, o cliSendOptions) {
				if o.Header.Get("X-Forwarded-For") != "10.0.0.1" || o.Header.Get("X-Test") != "a" || !o.SourceHeader {
					t.Errorf("got %+v", o)
				}
			},
		},
		{name: "no url", args: []string{"--secret", cliTestSecret}, wantErr: "--url is required"},
		{name: "relative url", args: []string{"--url", "/hook", "--secret", cliTestSecret}, wantErr: "absolute http"},
		{name: "other scheme", args: []string{"--url", "ftp://example.com/", "--secret", cliTestSecret}, wantErr: "absolute http"},
		{name: "no secret", args: []string{"--url", "http://127.0.0.1/"}, wantErr: "a secret is required"},
		{name: "unknown type", args: append(slices.Clone(base), "--event", "request.done"), wantErr: `unknown event type "request.done"`},
		{name: "negative count", args: append(slices.Clone(base), "--count", "-1"), wantErr: "--count -1"},
		{name: "negative rate", args: append(slices.Clone(base), "--rate", "-2"), wantErr: "--rate -2"},
		{name: "zero concurrency", args: append(slices.Clone(base), "--concurrency", "0"), wantErr: "--concurrency 0"},
		{name: "zero timeout", args: append(slices.Clone(base), "--timeout", "0s"), wantErr: "--timeout 0s"},
		{name: "bad header", args: append(slices.Clone(base), "--header", "no colon"), wantErr: "--header"},
		{name: "not a number", args: append(slices.Clone(base), "--count", "many"), wantErr: `invalid argument "many"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(cliSecretEnv, tt.env)
			cmd := cliSendCommand()
			err := cmd.ParseFlags(tt.args)
			var o cliSendOptions
			if err == nil {
				o, err = cliParseSendFlags(cmd.Flags())
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), cliTestSecret) {
					t.Fatalf("error %q shows the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

func TestCommandSendPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var out []time.Duration
		for _, v := range n {
			out = append(out, time.Duration(v)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{name: "one value", sorted: ms(7), p: 0.99, want: 7 * time.Millisecond},
		{name: "median of four", sorted: ms(1, 2, 3, 4), p: 0.5, want: 2 * time.Millisecond},
		{name: "p99 of a hundred", sorted: ms(cliSeq(100)...), p: 0.99, want: 99 * time.Millisecond},
		{name: "p100", sorted: ms(1, 2, 3), p: 1, want: 3 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cliPercentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// cliSeq returns 1..n.
func cliSeq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestCommandSendSummary(t *testing.T) {
	s := &cliSendSummary{
		elapsed: 2 * time.Second,
		conc:    2,
		results: []cliSendResult{
			{status: 202, latency: time.Millisecond},
			{status: 202, latency: 3 * time.Millisecond},
			{status: 200, latency: 2 * time.Millisecond},
			{status: 401, latency: time.Millisecond, excerpt: `{"status":"error","error":"invalid signature"}`},
			{err: "connection refused"},
		},
	}
	var out bytes.Buffer
	s.print(&out)
	for _, want := range []string{
		"sent 5 requests in 2s (2.5 req/s, concurrency 2)",
		"status 200: 1\n",
		"status 202: 2\n",
		`status 401: 1  e.g. {"status":"error","error":"invalid signature"}`,
		"errors: 1\n",
		"1 × connection refused",
		"latency: p50 1ms  p99 3ms  max 3ms",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	if s.failed() != 2 {
		t.Errorf("failed = %d, want 2", s.failed())
	}
}

// TestCommandSendPacing checks that --rate spaces requests and that the
// sender stops when its context ends, against a local server.
func TestCommandSendPacing(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	srv := cliTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	opts := cliSendOptions{
		URL: srv.URL, Secret: cliTestSecret, Types: cliEventTypes, Count: 5,
		Rate: 100, Concurrency: 2, Timeout: 5 * time.Second, SourceHeader: true,
		Header: http.Header{"X-Extra": {"1"}},
	}
	sum, err := cliSend(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.total() != 5 || sum.failed() != 0 {
		t.Fatalf("total %d, failed %d", sum.total(), sum.failed())
	}
	// Five requests at 100/s are spread over at least 40ms.
	if sum.elapsed < 40*time.Millisecond {
		t.Errorf("5 requests at 100/s took %s", sum.elapsed)
	}
	for _, h := range got {
		if h.Get(cliSourceHeader) != cliSourceValue || h.Get("X-Extra") != "1" || h.Get("User-Agent") != cliUserAgent {
			t.Errorf("headers %v", h)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	opts.Count = 1000
	sum, err = cliSend(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.total() == 1000 {
		t.Error("a cancelled run sent everything")
	}
}

// TestCommandSendSummaryOne says one request in the singular (issue 16,
// item 4).
func TestCommandSendSummaryOne(t *testing.T) {
	s := &cliSendSummary{elapsed: time.Second, conc: 1, results: []cliSendResult{{status: 202, latency: time.Millisecond}}}
	var out bytes.Buffer
	s.print(&out)
	if want := "sent 1 request in 1s (1.0 req/s, concurrency 1)\n"; !strings.HasPrefix(out.String(), want) {
		t.Errorf("summary starts %q, want %q", out.String(), want)
	}
}
