package relay

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

func TestDeliveryRequest(t *testing.T) {
	tests := []struct {
		name      string
		secret    []byte
		eventType string
	}{
		{name: "signed, with event type", secret: []byte("s3cret-for-app"), eventType: "cost.exceeded"},
		{name: "no secret, no signature", eventType: "request.completed"},
		{name: "no event type, no event header", secret: []byte("k")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(http.StatusOK)
				fmt.Fprint(w, "thanks")
			})
			h := newHarness(t, "", DispatcherOptions{})
			cfg := target("app", rv.URL+"/webhooks/unicraft")
			cfg.Secret = tc.secret
			cfg.Headers = http.Header{
				"X-Forwarded-By": {"caddy-webhook-inbox"},
				"Host":           {"app.internal"},
				// Configured headers cannot replace the delivery headers.
				"Content-Type":         {"text/plain"},
				"X-Unicraft-Signature": {"forged"},
				"x-webhook-attempt":    {"99"},
			}
			h.d.SetTargets([]TargetConfig{cfg})

			ev := testEvent("evt_req", "app")
			ev.Type = tc.eventType
			mustAccept(t, h.in, ev)
			waitFor(t, "delivery", h.statusIs("evt_req", "app", store.StatusDelivered))

			reqs := rv.requests("evt_req")
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			got := reqs[0]
			body := rv.body("evt_req")
			if string(body) != string(ev.Body) {
				t.Errorf("body %q, want the original bytes %q", body, ev.Body)
			}
			want := map[string]string{
				"X-Method":            http.MethodPost,
				"Content-Type":        "application/json",
				"X-Unicraft-Event-Id": "evt_req",
				"X-Unicraft-Event":    tc.eventType,
				"X-Webhook-Attempt":   "1",
				"X-Forwarded-By":      "caddy-webhook-inbox",
				"Host":                "app.internal",
			}
			if len(tc.secret) > 0 {
				// Verified the way the app would: on the raw bytes received.
				want["X-Unicraft-Signature"] = sign(tc.secret, body)
			} else {
				want["X-Unicraft-Signature"] = ""
			}
			for k, v := range want {
				if g := got.Get(k); g != v {
					t.Errorf("header %s = %q, want %q", k, g, v)
				}
			}
			st := h.state(t, "evt_req", "app")
			if len(st.Attempts) != 1 || st.Attempts[0].Status != 200 || st.Attempts[0].Body != "thanks" ||
				!st.Attempts[0].At.Equal(h.clock.Now()) || st.Attempts[0].Duration <= 0 {
				t.Errorf("attempt %+v, want status 200, body excerpt and timing", st.Attempts)
			}
		})
	}
}

func TestDeliveryOutcomes(t *testing.T) {
	// The redirect target must never be hit.
	elsewhere := newReceiver(t, status(http.StatusOK))
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + refused.Addr().String() + "/hook"
	refused.Close()

	tests := []struct {
		name       string
		respond    respondFunc
		url        string // instead of the receiver's
		want       store.Status
		wantStatus int
		wantText   string        // in the dead reason, or the attempt's error
		timeout    time.Duration // the attempt's; 5s (no timeout in practice) when zero
	}{
		{name: "200", respond: status(200), want: store.StatusDelivered, wantStatus: 200},
		{name: "204", respond: status(204), want: store.StatusDelivered, wantStatus: 204},
		{name: "400 is permanent", want: store.StatusDead, wantStatus: 400, wantText: "status 400: missing field data",
			respond: func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(400)
				fmt.Fprint(w, "missing field\n data")
			}},
		{name: "410 is permanent", respond: status(410), want: store.StatusDead, wantStatus: 410, wantText: "status 410"},
		{name: "404 is permanent", respond: status(404), want: store.StatusDead, wantStatus: 404, wantText: "status 404"},
		{name: "301 is permanent and not followed", want: store.StatusDead, wantStatus: 301, wantText: "redirects are not followed",
			respond: func(w http.ResponseWriter, r *http.Request, _ int) {
				http.Redirect(w, r, elsewhere.URL+"/moved", http.StatusMovedPermanently)
			}},
		{name: "307 is permanent", want: store.StatusDead, wantStatus: 307, wantText: "status 307",
			respond: func(w http.ResponseWriter, r *http.Request, _ int) {
				http.Redirect(w, r, elsewhere.URL+"/moved", http.StatusTemporaryRedirect)
			}},
		{name: "500 is retried", respond: status(500), want: store.StatusPending, wantStatus: 500},
		{name: "503 is retried", respond: status(503), want: store.StatusPending, wantStatus: 503},
		{name: "408 is retried", respond: status(408), want: store.StatusPending, wantStatus: 408},
		{name: "425 is retried", respond: status(425), want: store.StatusPending, wantStatus: 425},
		{name: "429 is retried", respond: status(429), want: store.StatusPending, wantStatus: 429},
		{name: "timeout is retried", respond: hang, want: store.StatusPending, wantText: "timeout after 100ms", timeout: 100 * time.Millisecond},
		{name: "connection reset is retried", want: store.StatusPending, wantText: "",
			respond: func(w http.ResponseWriter, _ *http.Request, _ int) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}},
		{name: "connection refused is retried", url: refusedURL, want: store.StatusPending, wantText: "refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rv := newReceiver(t, tc.respond)
			h := newHarness(t, "", DispatcherOptions{})
			cfg := target("app", rv.URL)
			if tc.url != "" {
				cfg.URL = tc.url
			}
			// Only the timeout case may time out: on a loaded machine a
			// short timeout would turn a 400 into a retried timeout.
			cfg.Timeout = cmp.Or(tc.timeout, 5*time.Second)
			h.d.SetTargets([]TargetConfig{cfg})
			mustAccept(t, h.in, testEvent("evt", "app"))
			waitFor(t, "the first attempt", h.runAttempts("evt", "app", 1))

			st := h.state(t, "evt", "app")
			if st.Status != tc.want || len(st.Attempts) != 1 {
				t.Fatalf("state %s with %d attempts, want %s with 1", st.Status, len(st.Attempts), tc.want)
			}
			a := st.Attempts[0]
			if a.Status != tc.wantStatus {
				t.Errorf("attempt status %d, want %d", a.Status, tc.wantStatus)
			}
			switch tc.want {
			case store.StatusDead:
				if !strings.Contains(st.Reason, tc.wantText) {
					t.Errorf("reason %q does not contain %q", st.Reason, tc.wantText)
				}
			case store.StatusPending:
				// Jitter 0.5 of the 1s first backoff.
				if d := st.Due.Sub(a.At); d != 500*time.Millisecond {
					t.Errorf("retry due %s after the attempt, want 500ms", d)
				}
				if tc.wantStatus == 0 && (a.Error == "" || !strings.Contains(a.Error, tc.wantText)) {
					t.Errorf("attempt error %q, want one containing %q", a.Error, tc.wantText)
				}
				if strings.Contains(a.Error, "127.0.0.1") && strings.Contains(a.Error, "/hook") {
					t.Errorf("attempt error %q repeats the target URL", a.Error)
				}
			}
			if n := elsewhere.total.Load(); n != 0 {
				t.Errorf("redirect target hit %d times", n)
			}
		})
	}
}

func TestRetryBackoffThenDeliver(t *testing.T) {
	rv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, hit int) {
		if hit <= 3 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h := newHarness(t, "", DispatcherOptions{})
	h.d.SetTargets([]TargetConfig{target("app", rv.URL)})
	mustAccept(t, h.in, testEvent("flaky", "app"))

	var gaps []time.Duration
	for k := 1; k <= 3; k++ {
		waitFor(t, fmt.Sprintf("attempt %d", k), h.runAttempts("flaky", "app", k))
		st := h.state(t, "flaky", "app")
		gaps = append(gaps, st.Due.Sub(st.Attempts[k-1].At))
		advanceUntil(t, h.clock, 50*time.Millisecond, fmt.Sprintf("attempt %d", k+1), func() bool {
			return rv.count("flaky") > k
		})
	}
	waitFor(t, "delivery", h.statusIs("flaky", "app", store.StatusDelivered))

	// Jitter 0.5 of 1s, 2s, 4s. The delay counts from the attempt's end;
	// the gap is measured from its start, and under load the test's clock
	// may step (50ms at a time) while an attempt is in flight.
	for i, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second} {
		if gaps[i] < want || gaps[i] >= want+250*time.Millisecond {
			t.Errorf("retry delays %v, want 500ms, 1s, 2s (each at most 250ms later)", gaps)
			break
		}
	}
	st := h.state(t, "flaky", "app")
	var statuses []int
	for i, a := range st.Attempts {
		statuses = append(statuses, a.Status)
		if i > 0 && a.At.Sub(st.Attempts[i-1].At) < gaps[i-1] {
			t.Errorf("attempt %d came %s after the previous one, before its due time", i+1, a.At.Sub(st.Attempts[i-1].At))
		}
	}
	if fmt.Sprint(statuses) != "[500 500 500 200]" {
		t.Errorf("attempt statuses %v, want [500 500 500 200]", statuses)
	}
	if n := rv.count("flaky"); n != 4 {
		t.Errorf("received %d times, want 4", n)
	}
	var numbers []string
	for _, hd := range rv.requests("flaky") {
		numbers = append(numbers, hd.Get(headerAttempt))
	}
	if fmt.Sprint(numbers) != "[1 2 3 4]" {
		t.Errorf("X-Webhook-Attempt %v, want [1 2 3 4]", numbers)
	}
}

func TestRetryAfter(t *testing.T) {
	now := newFakeClock().Now()
	tests := []struct {
		name   string
		code   int
		header string
		want   time.Duration
	}{
		{name: "delta seconds", code: 429, header: "7", want: 7 * time.Second},
		{name: "delta seconds on 503", code: 503, header: "12", want: 12 * time.Second},
		{name: "HTTP-date", code: 429, header: now.Add(30 * time.Second).Format(http.TimeFormat), want: 30 * time.Second},
		{name: "capped at the backoff cap", code: 429, header: "86400", want: time.Minute},
		{name: "date capped at the backoff cap", code: 503, header: now.Add(48 * time.Hour).Format(http.TimeFormat), want: time.Minute},
		{name: "garbage falls back to backoff", code: 429, header: "soon", want: 500 * time.Millisecond},
		{name: "negative falls back to backoff", code: 429, header: "-5", want: 500 * time.Millisecond},
		// A target asking for no wait at all would otherwise burn every
		// attempt in milliseconds (issue 18).
		{name: "zero is floored at the first backoff", code: 429, header: "0", want: time.Second},
		{name: "date in the past is floored at the first backoff", code: 503, header: now.Add(-time.Hour).Format(http.TimeFormat), want: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Retry-After", tc.header)
				w.WriteHeader(tc.code)
			})
			// Jitter would change a backoff, never a Retry-After.
			h := newHarness(t, "", DispatcherOptions{Jitter: func() float64 { return 0.5 }})
			cfg := target("app", rv.URL)
			cfg.BackoffCap = time.Minute
			h.d.SetTargets([]TargetConfig{cfg})
			mustAccept(t, h.in, testEvent("evt", "app"))
			waitFor(t, "the first attempt", h.runAttempts("evt", "app", 1))
			st := h.state(t, "evt", "app")
			if got := st.Due.Sub(st.Attempts[0].At); got != tc.want {
				t.Errorf("next due %s after the attempt, want %s", got, tc.want)
			}
		})
	}
}

func TestLargeResponseIsCutOff(t *testing.T) {
	chunk := []byte(strings.Repeat("x", 32<<10))
	rv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.WriteHeader(http.StatusOK)
		// Up to 1 GiB, stopping when the client hangs up.
		for range (1 << 30) / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	h := newHarness(t, "", DispatcherOptions{})
	h.d.SetTargets([]TargetConfig{target("app", rv.URL)})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 4 {
		mustAccept(t, h.in, testEvent(fmt.Sprintf("big%d", i), "app"))
	}
	for i := range 4 {
		waitFor(t, "delivery", h.statusIs(fmt.Sprintf("big%d", i), "app", store.StatusDelivered))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 16<<20 {
		t.Errorf("heap grew by %d MiB", grew>>20)
	}
	if total := after.TotalAlloc - before.TotalAlloc; total > 256<<20 {
		t.Errorf("allocated %d MiB while delivering", total>>20)
	}
	st := h.state(t, "big0", "app")
	if a := st.Attempts[0]; len(a.Body) != store.MaxExcerpt || a.Status != 200 {
		t.Errorf("attempt kept %d body bytes with status %d, want %d and 200", len(a.Body), a.Status, store.MaxExcerpt)
	}
}

func TestMaxAttemptsAndMaxAge(t *testing.T) {
	tests := []struct {
		name     string
		jitter   float64
		cfg      func(*TargetConfig)
		attempts int
		reason   string
	}{
		{name: "max attempts", jitter: 0, attempts: 3, reason: "max attempts (3) reached; last: status 500",
			cfg: func(c *TargetConfig) { c.MaxAttempts = 3 }},
		{name: "max age", jitter: 0.5, attempts: 1, reason: "max age (10s) reached; last: status 500",
			cfg: func(c *TargetConfig) { c.MaxAge = 10 * time.Second; c.BackoffFirst = time.Minute }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rv := newReceiver(t, status(500))
			// Jitter 0 retries at once, so no clock needs to move.
			h := newHarness(t, "", DispatcherOptions{Jitter: func() float64 { return tc.jitter }})
			cfg := target("app", rv.URL)
			tc.cfg(&cfg)
			h.d.SetTargets([]TargetConfig{cfg})
			mustAccept(t, h.in, testEvent("evt", "app"))
			waitFor(t, "dead letter", h.statusIs("evt", "app", store.StatusDead))
			st := h.state(t, "evt", "app")
			if st.RunAttempts != tc.attempts || st.Reason != tc.reason {
				t.Errorf("dead after %d attempts with reason %q, want %d and %q", st.RunAttempts, st.Reason, tc.attempts, tc.reason)
			}
			if n := rv.count("evt"); n != tc.attempts {
				t.Errorf("received %d times, want %d", n, tc.attempts)
			}
		})
	}
}
