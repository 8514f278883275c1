package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// healthyConfig delivers every event to one healthy app at APP_URL with
// the default breaker threshold (5), so five events the relay cannot
// send would open its circuit if they counted as the app's failures.
const healthyConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space off
		target app {
			url APP_URL
			secret {env.CHAOS_APP_SECRET}
			timeout 2s
			retry {
				backoff 50ms 500ms
			}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	webhook_inbox chaos {
		secret {env.CHAOS_SOURCE_SECRET}
		default app
	}
}
`

// startHealthy starts caddy relaying to a healthy receiver whose fault
// hook sees every delivery.
func startHealthy(t *testing.T, seen func(r *http.Request)) (*testcaddy.Instance, *receiver) {
	t.Helper()
	rc := newReceiver(appSecret, func(_ http.ResponseWriter, r *http.Request, _ int) verdict {
		if seen != nil {
			seen(r)
		}
		return pass
	})
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	cfg := strings.Replace(healthyConfig, "APP_URL", srv.URL+"/hook", 1)
	return testcaddy.Start(t, cfg, "CHAOS_SOURCE_SECRET="+sourceSecret, "CHAOS_APP_SECRET="+appSecret), rc
}

type appStats struct {
	Targets map[string]struct {
		Pending             int64  `json:"pending"`
		Dead                int64  `json:"dead"`
		Circuit             string `json:"circuit"`
		ConsecutiveFailures int    `json:"consecutive_failures"`
	} `json:"targets"`
}

// TestEventTypesInHeaders sends events whose "event" field, copied into
// X-UniCraft-Event, no header can carry as it is. Each used to fail
// every attempt on the relay's side, retried as if the app were down,
// and five of them opened a healthy app's circuit (issue 18). Each must
// be delivered once, with a valid header of at most 256 bytes, and the
// app's circuit must not count a thing.
func TestEventTypesInHeaders(t *testing.T) {
	var mu sync.Mutex
	types := map[string]string{} // event ID -> X-UniCraft-Event received
	in, rc := startHealthy(t, func(r *http.Request) {
		mu.Lock()
		types[r.Header.Get("X-UniCraft-Event-Id")] = r.Header.Get("X-UniCraft-Event")
		mu.Unlock()
	})
	tests := []struct {
		name string
		typ  string
		want string // the header received; empty: check bounds only
	}{
		{name: "newline", typ: "request.completed\nX-Injected: 1", want: "request.completed?X-Injected: 1"},
		{name: "CR LF", typ: "a\r\nb", want: "a??b"},
		{name: "NUL", typ: "a\u0000b", want: "a?b"},
		{name: "DEL", typ: "a\u007fb", want: "a?b"},
		{name: "C1 CSI", typ: "a\u009b31mb", want: "a?31mb"},
		{name: "ESC", typ: "a\u001b[2Jb", want: "a?[2Jb"},
		{name: "20,000 characters", typ: strings.Repeat("t", 20000)},
		{name: "multi-byte characters past the bound", typ: strings.Repeat("ü", 10000)},
	}
	var acked []string
	for i, tc := range tests {
		id := fmt.Sprintf("type-%d", i)
		body, err := json.Marshal(map[string]any{"id": id, "event": tc.typ, "timestamp": time.Now().UTC().Format(time.RFC3339Nano)})
		if err != nil {
			t.Fatal(err)
		}
		if got := post(t, in.URL("/"), body, signedBy(sourceSecret, body)); got.status != http.StatusAccepted {
			t.Fatalf("%s: %d %s, want 202", tc.name, got.status, got.body)
		}
		acked = append(acked, id)
	}
	if missing := rc.waitDelivered(acked, 30*time.Second); len(missing) > 0 {
		t.Fatalf("not delivered: %v", missing)
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			got := types[fmt.Sprintf("type-%d", i)]
			mu.Unlock()
			if tc.want != "" && got != tc.want {
				t.Errorf("X-UniCraft-Event %q, want %q", got, tc.want)
			}
			if len(got) == 0 || len(got) > 256 || !utf8.ValidString(got) {
				t.Errorf("X-UniCraft-Event is %d bytes (valid UTF-8: %v), want 1 to 256 of valid UTF-8", len(got), utf8.ValidString(got))
			}
		})
	}
	report(t, "event types in headers", rc.tally(acked, acked))
	var st appStats
	adminJSON(t, in, "/webhook_inbox/stats", &st)
	if app := st.Targets["app"]; app.Circuit != "closed" || app.ConsecutiveFailures != 0 || app.Dead != 0 {
		t.Errorf("app after the deliveries: %+v, want a closed circuit, no failures counted, no dead letters", app)
	}
}

// TestConcurrentReplays replays delivered events 50 times at once each
// through the admin API. Badger's "Transaction Conflict" used to reach
// the answers as 500s, and a lost conflict in the store dropped attempt
// records, so the app got attempts the event does not list (issue 18).
// Every replay must be answered 202, no answer may name a store
// internal, and the event must list every attempt the app received.
func TestConcurrentReplays(t *testing.T) {
	const (
		events  = 3
		replays = 50
	)
	in, rc := startHealthy(t, nil)
	snd := newSender(in.URL("/"), "replay")
	for range events {
		snd.PostOne()
	}
	sent, acked := snd.IDs()
	if missing := rc.waitDelivered(acked, 30*time.Second); len(missing) > 0 || len(acked) != events {
		t.Fatalf("acked %d of %d, not delivered: %v", len(acked), events, missing)
	}

	answers := make(chan reply, events*replays)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, id := range acked {
		for range replays {
			wg.Go(func() {
				<-start
				req, err := http.NewRequest(http.MethodPost, "http://"+in.Admin+"/webhook_inbox/events/"+id+"/replay", nil)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := send(req)
				if err != nil {
					t.Errorf("replay %s: %v", id, err)
					return
				}
				answers <- got
			})
		}
	}
	close(start)
	wg.Wait()
	close(answers)
	statuses := map[int]int{}
	leaks, leak := 0, ""
	for a := range answers {
		statuses[a.status]++
		if strings.Contains(a.body, "Transaction Conflict") || strings.Contains(strings.ToLower(a.body), "badger") {
			leaks, leak = leaks+1, fmt.Sprintf("%d %s", a.status, a.body)
		}
	}
	if statuses[http.StatusAccepted] != events*replays {
		t.Errorf("replay answers %v, want %d times 202", statuses, events*replays)
	}
	if leaks > 0 {
		t.Errorf("%d replay answers name a store internal, e.g. %s", leaks, leak)
	}

	waitUntil(t, 30*time.Second, "every replay delivered", func() bool {
		var st appStats
		adminJSON(t, in, "/webhook_inbox/stats", &st)
		return st.Targets["app"].Pending == 0
	})
	for _, id := range acked {
		var ev struct {
			Targets []struct {
				Status       string `json:"status"`
				AttemptCount int    `json:"attempt_count"`
			} `json:"targets"`
		}
		adminJSON(t, in, "/webhook_inbox/events/"+id, &ev)
		rc.mu.Lock()
		arrivals := rc.arrivals[id]
		rc.mu.Unlock()
		if len(ev.Targets) != 1 || ev.Targets[0].AttemptCount != arrivals {
			t.Errorf("%s: %+v on record, but the app received it %d times", id, ev.Targets, arrivals)
		} else {
			t.Logf("%s: delivered %d times for %d replays, every attempt on record", id, arrivals, replays)
		}
	}
	tl := rc.tally(sent, acked)
	if tl.Lost > 0 || tl.Phantoms > 0 || tl.BadSignatures > 0 {
		t.Errorf("lost %d, phantoms %d, bad signatures %d; want 0", tl.Lost, tl.Phantoms, tl.BadSignatures)
	}
}

// TestStopWhileTargetHolds stops caddy while its target answers 101 and
// then holds every connection for a minute. The attempt used to outlive
// its timeout until the target hung up, so a graceful stop waited for
// the target (issue 18); it must end on its own, well before
// testcaddy's 30 s kill.
func TestStopWhileTargetHolds(t *testing.T) {
	held := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		select {
		case held <- struct{}{}:
		default:
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
		_, _ = io.Copy(io.Discard, conn)
	}))
	t.Cleanup(srv.Close)
	cfg := strings.Replace(healthyConfig, "APP_URL", srv.URL+"/hook", 1)
	in := testcaddy.Start(t, cfg, "CHAOS_SOURCE_SECRET="+sourceSecret, "CHAOS_APP_SECRET="+appSecret)
	body := payload("request.completed", "held")
	if got := post(t, in.URL("/"), body, signedBy(sourceSecret, body)); got.status != http.StatusAccepted {
		t.Fatalf("%d %s, want 202", got.status, got.body)
	}
	select {
	case <-held:
	case <-time.After(15 * time.Second):
		t.Fatal("the target never saw an attempt")
	}
	start := time.Now()
	if !in.Stop() {
		t.Fatal("caddy did not stop by itself within 30s while the target held its connection")
	}
	t.Logf("caddy stopped in %s", time.Since(start).Round(time.Millisecond))
}
