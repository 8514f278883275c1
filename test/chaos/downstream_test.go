package chaos

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// faultWindow is how long the period faults (hang, reset, drip) last
// from the first delivery the target sees.
const faultWindow = 1500 * time.Millisecond

// during returns a fault that applies f while the window since the first
// arrival is open, and passes afterwards: a target that recovers.
func during(f func(w http.ResponseWriter, r *http.Request) verdict) func(http.ResponseWriter, *http.Request, int) verdict {
	var once sync.Once
	var start time.Time
	var mu sync.Mutex
	return func(w http.ResponseWriter, r *http.Request, _ int) verdict {
		mu.Lock()
		once.Do(func() { start = time.Now() })
		open := time.Since(start) < faultWindow
		mu.Unlock()
		if !open {
			return pass
		}
		return f(w, r)
	}
}

// firstN returns a fault that applies f to the target's first n
// deliveries, whatever their event, and passes afterwards.
func firstN(n int, f func(w http.ResponseWriter, r *http.Request) verdict) func(http.ResponseWriter, *http.Request, int) verdict {
	var mu sync.Mutex
	seen := 0
	return func(w http.ResponseWriter, r *http.Request, _ int) verdict {
		mu.Lock()
		seen++
		hit := seen <= n
		mu.Unlock()
		if !hit {
			return pass
		}
		return f(w, r)
	}
}

// downstreamFaults are the misbehaving targets; backoff is each target's
// "backoff FIRST CAP".
var downstreamFaults = []struct {
	name    string
	backoff string
	fault   func(w http.ResponseWriter, r *http.Request, n int) verdict
	// minGap is the least time between an event's first and second
	// arrival the relay must keep (Retry-After).
	minGap time.Duration
}{
	// more than the 5 consecutive failures that open the circuit
	{name: "500-then-200", backoff: "50ms 500ms", fault: firstN(8, func(w http.ResponseWriter, _ *http.Request) verdict {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return refused
	})},
	// CAP is above Retry-After, which is capped at CAP
	{name: "429-retry-after", backoff: "50ms 2s", minGap: 900 * time.Millisecond, fault: during(func(w http.ResponseWriter, _ *http.Request) verdict {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return refused
	})},
	{name: "hang-past-timeout", backoff: "50ms 500ms", fault: during(func(_ http.ResponseWriter, r *http.Request) verdict {
		select {
		case <-r.Context().Done(): // the relay gave up after its 1s timeout
		case <-time.After(5 * time.Second):
		}
		return refused
	})},
	{name: "connection-reset", backoff: "50ms 500ms", fault: during(func(w http.ResponseWriter, _ *http.Request) verdict {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST, not FIN
		}
		conn.Close()
		return refused
	})},
	{name: "1GB-answer", backoff: "50ms 500ms", fault: firstN(3, func(w http.ResponseWriter, _ *http.Request) verdict {
		// the app took the event and answers 200 with a 1 GB body; the
		// relay reads 64 KiB of it and hangs up, so the writes soon fail
		w.Header().Set("Content-Length", strconv.Itoa(1<<30))
		w.WriteHeader(http.StatusOK)
		chunk := make([]byte, 64<<10)
		for written := 0; written < 1<<30; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				break
			}
		}
		return answered
	})},
	// a 0 or a date in the past is floored at the first backoff (300ms)
	{name: "retry-after-0", backoff: "300ms 1s", minGap: 250 * time.Millisecond, fault: during(func(w http.ResponseWriter, _ *http.Request) verdict {
		w.Header().Set("Retry-After", "0")
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return refused
	})},
	{name: "retry-after-past-date", backoff: "300ms 1s", minGap: 250 * time.Millisecond, fault: during(func(w http.ResponseWriter, _ *http.Request) verdict {
		w.Header().Set("Retry-After", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return refused
	})},
	{name: "101-then-hold", backoff: "50ms 500ms", fault: during(func(w http.ResponseWriter, _ *http.Request) verdict {
		// the answer hands the connection over, then the target holds it
		// until the relay hangs up (or a minute passes); an attempt must
		// still end within the 1s timeout
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
		_, _ = io.Copy(io.Discard, conn)
		return refused
	})},
	{name: "slow-drip", backoff: "50ms 500ms", fault: during(func(w http.ResponseWriter, r *http.Request) verdict {
		// the app took the event and answers 200, but the answer's body
		// trickles for longer than the relay's 1s timeout
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for range 20 {
			if _, err := w.Write([]byte(".")); err != nil {
				break
			}
			_ = rc.Flush()
			select {
			case <-r.Context().Done():
				return answered
			case <-time.After(100 * time.Millisecond):
			}
		}
		return answered
	})},
}

// TestDownstreamFaults relays events to targets that fail in different
// ways and recover; every acknowledged event must be delivered, nothing
// unsent may arrive, and duplicates are counted.
func TestDownstreamFaults(t *testing.T) {
	var globals, sites strings.Builder
	receivers := map[string]*receiver{}
	for _, f := range downstreamFaults {
		rc := newReceiver(appSecret, f.fault)
		srv := httptest.NewServer(rc)
		t.Cleanup(srv.Close)
		receivers[f.name] = rc
		fmt.Fprintf(&globals, `
		target %s {
			url %s/hook
			secret {env.CHAOS_APP_SECRET}
			timeout 1s
			retry {
				max_attempts 1000
				backoff %s
				max_age 1h
			}
		}`, f.name, srv.URL, f.backoff)
		fmt.Fprintf(&sites, `
	route /%s {
		webhook_inbox %s {
			secret {env.CHAOS_SOURCE_SECRET}
			default %s
		}
	}`, f.name, f.name, f.name)
	}
	cfg := `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space off` + globals.String() + `
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1` + sites.String() + `
}
`
	in := testcaddy.Start(t, cfg, "CHAOS_SOURCE_SECRET="+sourceSecret, "CHAOS_APP_SECRET="+appSecret)
	events := rounds(40)
	for _, f := range downstreamFaults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			rc := receivers[f.name]
			snd := newSender(in.URL("/"+f.name), f.name)
			for range events {
				snd.PostOne()
			}
			sent, acked := snd.IDs()
			if other := snd.Other(); len(other) > 0 {
				t.Errorf("answers other than 202: %v", other)
			}
			if missing := rc.waitDelivered(acked, 45*time.Second); len(missing) > 0 {
				t.Errorf("%d acknowledged events not delivered, e.g. %v", len(missing), missing[:min(5, len(missing))])
			}
			report(t, f.name, rc.tally(sent, acked))
			arrivals, faulted := rc.faulted()
			t.Logf("%s: %d deliveries reached the target, %d of them met the fault", f.name, arrivals, faulted)
			if faulted == 0 {
				t.Error("the fault was never injected")
			}
			if gap := rc.minGap(); f.minGap > 0 && gap < f.minGap {
				t.Errorf("a retry came %s after the first attempt, want at least %s (Retry-After, floored at the first backoff)", gap, f.minGap)
			} else if f.minGap > 0 {
				t.Logf("shortest first-to-second attempt gap %s", gap.Round(time.Millisecond))
			}
		})
	}
}
