// Package storetest is the conformance suite of the storage contract in
// package store: every behaviour the handler, the dispatcher (package
// relay) and the admin API rely on, table by table, run against any
// backend through a Harness. A backend's test runs it:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{
//			Open: func(t testing.TB, dir string, c store.Clock, p store.Policy) store.Store {
//				s, err := mybackend.Open(dir, c, p)
//				if err != nil {
//					t.Fatal(err)
//				}
//				return s
//			},
//			NewDir: func(t testing.TB) string { return t.TempDir() },
//		})
//	}
//
// The suite drives time with its own Clock (exported for other packages'
// tests), and waits for asynchronous effects (expiry, signals) by polling
// with a deadline, never by sleeping a fixed time.
//
// It imports the standard library and package store only.
package storetest

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Harness is what a backend's test gives the suite.
type Harness struct {
	// Open opens (or reopens) the store kept at dir, with clock and
	// policy, and fails t when it cannot. The suite closes what it opens.
	Open func(t testing.TB, dir string, clock store.Clock, p store.Policy) store.Store
	// NewDir returns a fresh location for a store: a temporary directory,
	// a unique prefix in a shared cluster.
	NewDir func(t testing.TB) string

	// WallClockTTL declares that dedup markers and unrouted events expire
	// by the wall clock, not the store's clock (Badger's TTLs): the expiry
	// cases then use windows of a second and wait them out.
	WallClockTTL bool
	// WallClockRetention declares that settled events' retention also
	// follows the wall clock; the retention cases then wait it out too.
	WallClockRetention bool
	// Skip names cases the backend is known to fail, as go test prints
	// them below Run's test (e.g. "Requeue/all_targets"), with the reason;
	// they are skipped with it. Every entry is a bug to fix.
	Skip map[string]string
	// Patience bounds every wait for an asynchronous effect: an expiry
	// applied by a background sweep, a Watch signal. Zero means 10 s.
	Patience time.Duration
}

// Run runs the whole suite against the backend h opens, one subtest per
// behaviour.
func Run(t *testing.T, h Harness) {
	if h.Open == nil || h.NewDir == nil {
		t.Fatal("storetest: Harness.Open and Harness.NewDir are required")
	}
	if h.Patience <= 0 {
		h.Patience = 10 * time.Second
	}
	s := &suite{h: h, root: t.Name() + "/", skipped: make(map[string]bool)}
	t.Cleanup(func() { s.checkSkips(t) })
	// The groups that wait out wall-clock TTLs run in parallel with each
	// other, after the rest.
	groups := []struct {
		name     string
		run      func(*testing.T)
		parallel bool
	}{
		{"Accept", s.testAccept, false},
		{"Dedup", s.testDedup, true},
		{"Atomicity", s.testAtomicity, false},
		{"Lease", s.testLease, false},
		{"Settle", s.testSettle, false},
		{"DueOrder", s.testDueOrder, false},
		{"Watch", s.testWatch, false},
		{"Get", s.testGet, false},
		{"List", s.testList, false},
		{"Addressing", s.testAddressing, false},
		{"Stats", s.testStats, false},
		{"Requeue", s.testRequeue, false},
		{"ReplayDead", s.testReplayDead, false},
		{"ConcurrentReplays", s.testConcurrentReplays, false},
		{"Delete", s.testDelete, false},
		{"Retention", s.testRetention, true},
		{"OrphanedTargets", s.testOrphaned, false},
		{"Pauses", s.testPauses, false},
		{"Reopen", s.testReopen, false},
		{"Closed", s.testClosed, false},
		{"Clock", s.testClock, false},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			if g.parallel {
				t.Parallel()
			}
			g.run(t)
		})
	}
}

type suite struct {
	h    Harness
	root string // Run's test name, with a slash

	mu      sync.Mutex
	skipped map[string]bool // Skip entries that matched a case
}

// skipKnown skips t when the harness lists it as a known failure.
func (s *suite) skipKnown(t testing.TB) {
	t.Helper()
	name := strings.TrimPrefix(t.Name(), s.root)
	if why, ok := s.h.Skip[name]; ok {
		s.mu.Lock()
		s.skipped[name] = true
		s.mu.Unlock()
		t.Skip("known failure of this backend: " + why)
	}
}

// checkSkips fails on Skip entries that named no case, so a renamed or
// misspelt entry does not linger. Runs narrowed by -run or -skip are not
// checked.
func (s *suite) checkSkips(t *testing.T) {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f == nil || f.Value.String() != "" {
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range s.h.Skip {
		if !s.skipped[name] {
			t.Errorf("Harness.Skip names %q, which is no case of the suite", name)
		}
	}
}

// ttlUnit is the time unit of the cases that wait for a TTL: a second of
// wall clock when the backend's TTLs follow it, else an hour of the fake
// clock, which the case advances.
func (s *suite) ttlUnit() time.Duration {
	if s.h.WallClockTTL {
		return time.Second
	}
	return time.Hour
}

// retentionUnit is ttlUnit for settled events' retention.
func (s *suite) retentionUnit() time.Duration {
	if s.h.WallClockRetention {
		return time.Second
	}
	return time.Hour
}

// bg is the context of the suite's calls.
var bg = context.Background()

// Source is the source of the events Event makes.
const Source = "unicraft"

// Event returns a complete test event of Source with this ID, routed to
// targets (unrouted without).
func Event(id string, targets ...string) *store.Event {
	return &store.Event{
		ID:       id,
		Source:   Source,
		Type:     "request.completed",
		ClientIP: "192.0.2.10",
		Headers:  map[string]string{"Content-Type": "application/json", "X-Request-Id": "req-" + id},
		Body:     fmt.Appendf(nil, `{"id":%q,"event":"request.completed","data":{"cost":0.25}}`, id),
		Targets:  append([]string(nil), targets...),
	}
}

// SourceEvent is Event from another source.
func SourceEvent(source, id string, targets ...string) *store.Event {
	ev := Event(id, targets...)
	ev.Source = source
	return ev
}

// env is one open store under test with its clock.
type env struct {
	t      testing.TB
	su     *suite
	s      store.Store
	clock  *Clock
	dir    string
	policy store.Policy
}

// open opens a fresh store with policy p and a fresh Clock.
func (s *suite) open(t testing.TB, p store.Policy) *env {
	t.Helper()
	s.skipKnown(t)
	e := &env{t: t, su: s, clock: NewClock(time.Time{}), dir: s.h.NewDir(t), policy: p}
	e.s = e.openStore()
	return e
}

func (e *env) openStore() store.Store {
	e.t.Helper()
	st := e.su.h.Open(e.t, e.dir, e.clock, e.policy)
	if st == nil {
		e.t.Fatal("Harness.Open returned nil")
	}
	e.t.Cleanup(func() { _ = st.Close() })
	return st
}

// reopen closes the store and opens it again at the same place.
func (e *env) reopen() {
	e.t.Helper()
	if err := e.s.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.s = e.openStore()
}

func (e *env) accept(ev *store.Event) store.Receipt {
	e.t.Helper()
	rc, err := e.s.Accept(bg, ev)
	if err != nil {
		e.t.Fatalf("Accept(%s/%s): %v", ev.Source, ev.ID, err)
	}
	return rc
}

// acceptNew accepts ev and fails when it was a duplicate.
func (e *env) acceptNew(ev *store.Event) {
	e.t.Helper()
	if rc := e.accept(ev); rc.Duplicate {
		e.t.Fatalf("Accept(%s/%s) = duplicate, want a new event", ev.Source, ev.ID)
	}
}

func (e *env) lease(target string, max int) []store.Delivery {
	e.t.Helper()
	ds, err := e.s.Lease(bg, target, max)
	if err != nil {
		e.t.Fatalf("Lease(%s): %v", target, err)
	}
	return ds
}

// leaseOne leases exactly one entry of target, and fails unless it is
// event id's.
func (e *env) leaseOne(target, id string) store.Delivery {
	e.t.Helper()
	ds := e.lease(target, 10)
	if len(ds) != 1 || ds[0].Event.ID != id {
		e.t.Fatalf("Lease(%s) = %v, want just %s", target, deliveryIDs(ds), id)
	}
	return ds[0]
}

// leaseNone fails when target has a leasable entry.
func (e *env) leaseNone(target string) {
	e.t.Helper()
	if ds := e.lease(target, 10); len(ds) != 0 {
		e.t.Fatalf("Lease(%s) = %v, want nothing", target, deliveryIDs(ds))
	}
}

func (e *env) ack(d store.Delivery) {
	e.t.Helper()
	if err := e.s.Ack(bg, d, attempt(e.clock.Now(), 200, "")); err != nil {
		e.t.Fatalf("Ack(%s, %s): %v", d.Event.ID, d.Target, err)
	}
}

func (e *env) retry(d store.Delivery, next time.Time) {
	e.t.Helper()
	if err := e.s.Retry(bg, d, attempt(e.clock.Now(), 503, "unavailable"), next); err != nil {
		e.t.Fatalf("Retry(%s, %s): %v", d.Event.ID, d.Target, err)
	}
}

func (e *env) dead(d store.Delivery, reason string) {
	e.t.Helper()
	if err := e.s.Dead(bg, d, attempt(e.clock.Now(), 400, "bad request"), reason); err != nil {
		e.t.Fatalf("Dead(%s, %s): %v", d.Event.ID, d.Target, err)
	}
}

// deliver accepts event id for target and settles it: "delivered",
// "dead", or "pending" (left alone).
func (e *env) deliver(ev *store.Event, outcome store.Status) {
	e.t.Helper()
	e.acceptNew(ev)
	for _, target := range ev.Targets {
		switch outcome {
		case store.StatusDelivered:
			e.ack(e.leaseOne(target, ev.ID))
		case store.StatusDead:
			e.dead(e.leaseOne(target, ev.ID), "gave up")
		}
	}
}

func (e *env) get(source, id string) *store.EventRecord {
	e.t.Helper()
	rec, err := e.s.Get(bg, source, id)
	if err != nil {
		e.t.Fatalf("Get(%q, %q): %v", source, id, err)
	}
	return rec
}

// state returns target's state of event (source, id).
func (e *env) state(source, id, target string) store.TargetState {
	e.t.Helper()
	rec := e.get(source, id)
	for _, d := range rec.Deliveries {
		if d.Target == target {
			return d
		}
	}
	e.t.Fatalf("event %s/%s has no state for target %s: %+v", source, id, target, rec.Deliveries)
	return store.TargetState{}
}

// present reports whether Get finds (source, id), failing on any error
// but ErrNotFound.
func (e *env) present(source, id string) bool {
	e.t.Helper()
	_, err := e.s.Get(bg, source, id)
	switch {
	case err == nil:
		return true
	case isErr(err, store.ErrNotFound):
		return false
	}
	e.t.Fatalf("Get(%q, %q): %v", source, id, err)
	return false
}

// listAll follows the cursors of f to the end and returns every event.
func (e *env) listAll(f store.ListFilter) []store.EventRecord {
	e.t.Helper()
	var out []store.EventRecord
	for page := 0; ; page++ {
		recs, next, err := e.s.List(bg, f)
		if err != nil {
			e.t.Fatalf("List(%+v): %v", f, err)
		}
		out = append(out, recs...)
		if next == "" {
			return out
		}
		if page > 10000 {
			e.t.Fatalf("List(%+v) never ends", f)
		}
		f.Cursor = next
	}
}

func (e *env) stats() map[string]store.TargetStats {
	e.t.Helper()
	st, err := e.s.Stats(bg)
	if err != nil {
		e.t.Fatalf("Stats: %v", err)
	}
	return st
}

// eventually polls cond until it holds, failing with what once the
// harness's patience runs out.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(e.su.h.Patience)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("after %s: %s", e.su.h.Patience, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func attempt(at time.Time, status int, errText string) store.Attempt {
	return store.Attempt{At: at, Duration: 12 * time.Millisecond, Status: status, Error: errText,
		Body: fmt.Sprintf(`{"status":%d}`, status)}
}

func deliveryIDs(ds []store.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Event.ID + ">" + d.Target
	}
	return out
}

func recordIDs(recs []store.EventRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}
