package module_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// controlConfig delivers every event to the recorder at RECORDER with the
// target options in TARGET_OPTIONS, with short backoffs.
const controlConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space off
		target app {
			url RECORDER/app
			concurrency 8
			TARGET_OPTIONS
			retry {
				max_attempts 50
				backoff 50ms 200ms
				max_age 1h
			}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	route /hook {
		webhook_inbox unicraft {
			secret {env.TEST_NEW_SECRET}
			default app
		}
	}
	route /metrics {
		metrics
	}
}
`

// arrival is one request the recorder received.
type arrival struct {
	id          string
	at          time.Time
	status      int
	traceparent string
	tracestate  string
}

// recorder is a downstream app that keeps every request's arrival time
// and answers with the status answer chooses (by event ID and how many
// times it has arrived).
type recorder struct {
	*httptest.Server
	mu       sync.Mutex
	answer   func(id string, n int) int
	arrivals []arrival
	counts   map[string]int
}

func newRecorder(t *testing.T, answer func(id string, n int) int) *recorder {
	rc := &recorder{answer: answer, counts: make(map[string]int)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get("X-UniCraft-Event-Id")
		rc.mu.Lock()
		rc.counts[id]++
		status := rc.answer(id, rc.counts[id])
		rc.arrivals = append(rc.arrivals, arrival{id: id, at: at, status: status,
			traceparent: r.Header.Get("Traceparent"), tracestate: r.Header.Get("Tracestate")})
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *recorder) all() []arrival {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.arrivals)
}

// delivered counts the events answered 2xx.
func (rc *recorder) delivered() map[string]int {
	out := make(map[string]int)
	for _, a := range rc.all() {
		if a.status < 300 {
			out[a.id]++
		}
	}
	return out
}

func startControl(t *testing.T, rc *recorder, options string) *testcaddy.Instance {
	t.Helper()
	cfg := strings.ReplaceAll(controlConfig, "RECORDER", rc.URL)
	cfg = strings.Replace(cfg, "TARGET_OPTIONS", options, 1)
	return testcaddy.Start(t, cfg, secretEnv...)
}

// postAll posts the events with IDs ids in parallel, workers at a time.
func postAll(t *testing.T, in *testcaddy.Instance, ids []string, workers int, body func(id string) []byte) {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan string)
	for range workers {
		wg.Go(func() {
			for id := range next {
				b := body(id)
				if got := post(t, in.URL("/hook"), b, signed(b)); got.status != http.StatusAccepted {
					t.Errorf("posting %s: %d %s", id, got.status, got.body)
				}
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
}

func eventIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return ids
}

// controlStats is a target's line in GET /webhook_inbox/stats.
type controlStats struct {
	Pending       int64     `json:"pending"`
	Circuit       string    `json:"circuit"`
	Paused        bool      `json:"paused"`
	RateLimited   bool      `json:"rate_limited"`
	HeldBackUntil time.Time `json:"held_back_until"`
}

func appStats(t *testing.T, in *testcaddy.Instance) controlStats {
	t.Helper()
	var s struct {
		Targets map[string]controlStats `json:"targets"`
	}
	adminGet(t, in, "/webhook_inbox/stats", &s)
	return s.Targets["app"]
}

// maxPerWindow is the most arrivals in any window-long half-open interval
// (the busiest one starts at an arrival).
func maxPerWindow(times []time.Time, window time.Duration) int {
	slices.SortFunc(times, time.Time.Compare)
	most, j := 0, 0
	for i := range times {
		for j < len(times) && times[j].Sub(times[i]) < window {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

// TestRateLimitThroughCaddy posts 200 events at once to a target with
// rate_limit 20 1s: no second-long interval at the app holds more than 20
// arrivals, every event arrives once, and stats show the wait.
func TestRateLimitThroughCaddy(t *testing.T) {
	rc := newRecorder(t, always(http.StatusOK))
	in := startControl(t, rc, "rate_limit 20 1s")
	ids := eventIDs("paced", 200)
	start := time.Now()
	postAll(t, in, ids, 16, func(id string) []byte { return event("request.completed", id, "") })
	heldBack := false
	deadline := time.Now().Add(60 * time.Second)
	for len(rc.delivered()) < len(ids) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events arrived", len(rc.delivered()), len(ids))
		}
		if s := appStats(t, in); s.RateLimited && !s.HeldBackUntil.IsZero() {
			heldBack = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(start)
	var times []time.Time
	for _, a := range rc.all() {
		times = append(times, a.at)
	}
	most := maxPerWindow(times, time.Second)
	t.Logf("200 events at rate_limit 20 1s: all arrived in %s; at most %d in any 1s sliding window", elapsed.Round(time.Millisecond), most)
	if most > 20 {
		t.Errorf("%d arrivals in one second, want at most 20", most)
		for _, a := range rc.all() {
			t.Logf("%s %s", a.at.Sub(start), a.id)
		}
	}
	for id, n := range rc.delivered() {
		if n != 1 {
			t.Errorf("%s arrived %d times", id, n)
		}
	}
	if !heldBack {
		t.Error("stats never showed the target held back by its rate limit")
	}
}

// TestPauseThroughCaddy pauses the target with the CLI: nothing arrives,
// not after a restart or a reload either, stats and the metric say paused; resuming
// over the admin API delivers the backlog once.
func TestPauseThroughCaddy(t *testing.T) {
	rc := newRecorder(t, always(http.StatusOK))
	in := startControl(t, rc, "")
	if got := adminCall(t, in, http.MethodPost, "/webhook_inbox/targets/nope/pause", ""); got.status != http.StatusNotFound {
		t.Errorf("pausing an unknown target: %d %s, want 404", got.status, got.body)
	}
	if got := adminCall(t, in, http.MethodGet, "/webhook_inbox/targets/app/pause", ""); got.status != http.StatusMethodNotAllowed {
		t.Errorf("GET pause: %d, want 405", got.status)
	}
	out, err := exec.Command(testcaddy.Binary(t), "webhook", "pause", "app", "--address", in.Admin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "paused app") {
		t.Fatalf("caddy webhook pause app: %v\n%s", err, out)
	}
	ids := eventIDs("held", 20)
	postAll(t, in, ids, 4, func(id string) []byte { return event("request.completed", id, "") })

	quiet := func(when string) {
		t.Helper()
		// Nothing may arrive: watch for a while (several polls of the
		// dispatcher) while the queue holds everything.
		for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if n := len(rc.all()); n > 0 {
				t.Fatalf("%s: %d requests reached the paused target", when, n)
			}
		}
		if s := appStats(t, in); !s.Paused || s.Pending != int64(len(ids)) || s.Circuit != "closed" {
			t.Fatalf("%s: stats %+v, want paused with %d pending and the circuit closed", when, s, len(ids))
		}
		if m := metricLine(t, in, `caddy_webhook_inbox_target_paused{target="app"}`); m != "1" {
			t.Fatalf("%s: target_paused = %q, want 1", when, m)
		}
	}
	quiet("paused")
	if !in.Stop() {
		t.Fatal("caddy did not stop")
	}
	in.Start()
	quiet("after a restart")
	reloaded := strings.Replace(strings.ReplaceAll(controlConfig, "RECORDER", rc.URL), "TARGET_OPTIONS", "timeout 5s", 1)
	if err := in.Reload(reloaded); err != nil {
		t.Fatalf("reload: %v", err)
	}
	quiet("after a reload")

	if got := adminCall(t, in, http.MethodPost, "/webhook_inbox/targets/app/resume", ""); got.status != http.StatusOK || !strings.Contains(got.body, `"paused":false`) {
		t.Fatalf("resume: %d %s", got.status, got.body)
	}
	waitUntil(t, "the backlog", func() bool { return len(rc.delivered()) == len(ids) })
	for id, n := range rc.delivered() {
		if n != 1 {
			t.Errorf("%s arrived %d times", id, n)
		}
	}
	if s := appStats(t, in); s.Paused {
		t.Errorf("stats %+v after resume", s)
	}
}

// metricLine returns the value of one series on the /metrics route.
func metricLine(t *testing.T, in *testcaddy.Instance, series string) string {
	t.Helper()
	resp, err := http.Get(in.URL("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// TestOrderedThroughCaddy posts 5 keys × 10 events, interleaved, to a
// target with order_by; the first attempt of every event of key k0
// fails. Each key arrives strictly in receive order, one at a time (k0:
// every event twice, the next only after), and the other keys finish
// while k0 is still working through its retries.
func TestOrderedThroughCaddy(t *testing.T) {
	const keys, perKey = 5, 10
	keyOf := map[string]string{}
	var ids []string
	for i := range keys * perKey {
		id := fmt.Sprintf("ord-%02d", i)
		keyOf[id] = fmt.Sprintf("k%d", i%keys)
		ids = append(ids, id)
	}
	rc := newRecorder(t, func(id string, n int) int {
		if keyOf[id] == "k0" && n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	in := startControl(t, rc, "order_by `event.data.customer`")
	start := time.Now()
	for _, id := range ids {
		// One at a time, so receive order is ids' order.
		b := event("request.completed", id, fmt.Sprintf(`,"customer":%q`, keyOf[id]))
		if got := post(t, in.URL("/hook"), b, signed(b)); got.status != http.StatusAccepted {
			t.Fatalf("posting %s: %d %s", id, got.status, got.body)
		}
	}
	waitUntil(t, "every event", func() bool { return len(rc.delivered()) == len(ids) })

	perKeyArrivals := map[string][]arrival{}
	for _, a := range rc.all() {
		perKeyArrivals[keyOf[a.id]] = append(perKeyArrivals[keyOf[a.id]], a)
	}
	var othersDone, k0Done time.Time
	for k, as := range perKeyArrivals {
		var want []string
		for _, id := range ids {
			if keyOf[id] != k {
				continue
			}
			want = append(want, id)
			if k == "k0" {
				want = append(want, id) // failed, then retried before the next
			}
		}
		got := make([]string, len(as))
		for i, a := range as {
			got[i] = a.id
		}
		if !slices.Equal(got, want) {
			t.Errorf("key %s arrived as %v, want %v", k, got, want)
		}
		last := as[len(as)-1].at
		if k == "k0" {
			k0Done = last
		} else if last.After(othersDone) {
			othersDone = last
		}
	}
	t.Logf("5 keys x 10 events, k0's first attempts failing: other keys done after %s, k0 after %s (%d attempts)",
		othersDone.Sub(start).Round(time.Millisecond), k0Done.Sub(start).Round(time.Millisecond), len(perKeyArrivals["k0"]))
	if !othersDone.Before(k0Done) {
		t.Errorf("the other keys finished at %s, after k0 at %s: held back", othersDone.Sub(start), k0Done.Sub(start))
	}
	var ev struct {
		Targets []struct {
			Attempts []json.RawMessage `json:"attempts"`
		} `json:"targets"`
	}
	adminGet(t, in, "/webhook_inbox/events/ord-00", &ev)
	if len(ev.Targets) != 1 || len(ev.Targets[0].Attempts) != 2 {
		t.Errorf("ord-00: %+v, want two attempts", ev)
	}
}

// TestTraceparentThroughCaddy: the sender's trace context arrives with
// its trace ID and flags, a fresh span ID for each attempt, and the
// tracestate.
func TestTraceparentThroughCaddy(t *testing.T) {
	rc := newRecorder(t, func(_ string, n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	in := startControl(t, rc, "")
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		spanID  = "00f067aa0ba902b7"
	)
	b := event("request.completed", "traced", "")
	h := signed(b)
	h["Traceparent"] = "00-" + traceID + "-" + spanID + "-01"
	h["Tracestate"] = "congo=t61rcWkgMzE"
	if got := post(t, in.URL("/hook"), b, h); got.status != http.StatusAccepted {
		t.Fatalf("posting: %d %s", got.status, got.body)
	}
	waitUntil(t, "the retried delivery", func() bool { return len(rc.delivered()) == 1 })
	as := rc.all()
	if len(as) != 2 {
		t.Fatalf("%d attempts, want 2", len(as))
	}
	spans := map[string]bool{}
	for i, a := range as {
		parts := strings.Split(a.traceparent, "-")
		if len(parts) != 4 || parts[0] != "00" || parts[1] != traceID || parts[3] != "01" || parts[2] == spanID {
			t.Errorf("attempt %d: traceparent %q, want 00-%s-<new span>-01", i+1, a.traceparent, traceID)
		}
		if len(parts) == 4 {
			spans[parts[2]] = true
		}
		if a.tracestate != "congo=t61rcWkgMzE" {
			t.Errorf("attempt %d: tracestate %q", i+1, a.tracestate)
		}
	}
	if len(spans) != 2 {
		t.Errorf("span IDs %v, want a new one per attempt", spans)
	}
}
