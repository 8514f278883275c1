package relay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/badger"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// fakeClock is a Clock the tests move by hand; a timer fires when Advance
// reaches its deadline. Its Now also serves as the store's clock.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c        *fakeClock
	ch       chan time.Time
	deadline time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) store.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1), deadline: c.now.Add(d)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock and fires the timers it passes.
func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool {
		if t.deadline.After(c.now) {
			return false
		}
		t.ch <- c.now
		return true
	})
	return c.now
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	n := len(t.c.timers)
	t.c.timers = slices.DeleteFunc(t.c.timers, func(x *fakeTimer) bool { return x == t })
	return len(t.c.timers) < n
}

// waitFor polls cond until it holds, failing the test after 15 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// advanceUntil moves the fake clock by step between polls until cond
// holds: the dispatcher's timers fire as the clock passes them, whatever
// moment a loop set them.
func advanceUntil(t testing.TB, clock *fakeClock, step time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		clock.Advance(step)
		time.Sleep(2 * time.Millisecond)
	}
}

// receiver is a downstream app on 127.0.0.1 that counts deliveries per
// event ID and answers through a swappable respond function.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	counts  map[string]int
	headers map[string][]http.Header // per event ID, per request
	bodies  map[string][]byte
	total   atomic.Int64
	respond atomic.Pointer[respondFunc]
}

// respondFunc answers one delivery; hit counts this event's requests, 1
// for the first.
type respondFunc func(w http.ResponseWriter, r *http.Request, hit int)

func newReceiver(t testing.TB, respond respondFunc) *receiver {
	rv := &receiver{
		counts:  make(map[string]int),
		headers: make(map[string][]http.Header),
		bodies:  make(map[string][]byte),
	}
	rv.setRespond(respond)
	rv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		id := r.Header.Get(headerEventID)
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		h.Set("X-Method", r.Method)
		rv.mu.Lock()
		rv.counts[id]++
		hit := rv.counts[id]
		rv.headers[id] = append(rv.headers[id], h)
		rv.bodies[id] = body
		rv.mu.Unlock()
		rv.total.Add(1)
		if f := rv.respond.Load(); f != nil && *f != nil {
			(*f)(w, r, hit)
		}
	}))
	t.Cleanup(rv.Close)
	return rv
}

func (rv *receiver) setRespond(f respondFunc) {
	rv.respond.Store(&f)
}

func (rv *receiver) count(id string) int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.counts[id]
}

func (rv *receiver) requests(id string) []http.Header {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return slices.Clone(rv.headers[id])
}

func (rv *receiver) body(id string) []byte {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.bodies[id]
}

// duplicates lists the event IDs received more than once.
func (rv *receiver) duplicates() map[string]int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	out := make(map[string]int)
	for id, n := range rv.counts {
		if n > 1 {
			out[id] = n
		}
	}
	return out
}

func status(code int) respondFunc {
	return func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(code) }
}

// hang holds the request until the client gives up.
func hang(_ http.ResponseWriter, r *http.Request, _ int) {
	<-r.Context().Done()
}

// harness is a store and a dispatcher sharing a fake clock.
type harness struct {
	clock *fakeClock
	in    *badger.Store
	d     *Dispatcher
}

// newHarness opens a store in dir (a temp dir when empty) on a new fake
// clock and a dispatcher with jitter 0.5 unless opts says otherwise; both
// close when the test ends.
func newHarness(t testing.TB, dir string, opts DispatcherOptions) *harness {
	t.Helper()
	return newHarnessAt(t, dir, newFakeClock(), opts)
}

// newHarnessAt is newHarness on a given clock, for a store reopened at the
// time the previous one stopped.
func newHarnessAt(t testing.TB, dir string, clock *fakeClock, opts DispatcherOptions) *harness {
	t.Helper()
	h := &harness{clock: clock}
	h.in = openTest(t, dir, badger.Options{Clock: h.clock, Logger: zap.NewNop()})
	if opts.Jitter == nil {
		opts.Jitter = func() float64 { return 0.5 }
	}
	if opts.Logger == nil {
		if tt, ok := t.(*testing.T); ok {
			opts.Logger = zaptest.NewLogger(tt, zaptest.Level(zap.WarnLevel))
		}
	}
	h.d = NewDispatcher(h.in, opts)
	t.Cleanup(func() { _ = h.d.Close() })
	return h
}

func (h *harness) state(t testing.TB, id, target string) store.TargetState {
	t.Helper()
	return deliveryOf(t, mustGet(t, h.in, id), target)
}

// statusIs reports whether the event's delivery to target has status s.
func (h *harness) statusIs(id, target string, s store.Status) func() bool {
	return func() bool {
		rec, err := h.in.Get(bg, "", id)
		if err != nil {
			return false
		}
		for _, d := range rec.Deliveries {
			if d.Target == target {
				return d.Status == s
			}
		}
		return false
	}
}

// runAttempts reports whether the delivery has made at least n attempts.
func (h *harness) runAttempts(id, target string, n int) func() bool {
	return func() bool {
		rec, err := h.in.Get(bg, "", id)
		if err != nil {
			return false
		}
		for _, d := range rec.Deliveries {
			if d.Target == target {
				return d.RunAttempts >= n
			}
		}
		return false
	}
}

func target(name, url string) TargetConfig {
	return TargetConfig{Name: name, URL: url, Timeout: 5 * time.Second, Concurrency: 4}
}

func sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// recordingObserver keeps the Observer calls for assertions.
type recordingObserver struct {
	mu       sync.Mutex
	attempts map[string]int // target/result
	circuits []string       // target=open|closed
}

func (o *recordingObserver) OnAttempt(target, result string, _ int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.attempts == nil {
		o.attempts = make(map[string]int)
	}
	o.attempts[target+"/"+result]++
}

func (o *recordingObserver) OnCircuit(target string, open bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := "closed"
	if open {
		s = "open"
	}
	o.circuits = append(o.circuits, target+"="+s)
}

func (o *recordingObserver) count(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.attempts[key]
}

func (o *recordingObserver) circuitLog() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.circuits)
}
