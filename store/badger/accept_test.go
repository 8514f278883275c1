package badger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestAcceptGetRoundTrip(t *testing.T) {
	binary := make([]byte, 300)
	for i := range binary {
		binary[i] = byte(i)
	}
	tests := []struct {
		name    string
		ev      *store.Event
		targets []string // expected, after duplicates are dropped
	}{
		{name: "one target", ev: testEvent("evt_1", "app"), targets: []string{"app"}},
		{name: "fan-out with a repeated target", ev: testEvent("evt_2", "pager", "app", "pager"), targets: []string{"pager", "app"}},
		{name: "binary body and no headers", ev: &store.Event{ID: "evt_3", Source: "s", Body: binary, Targets: []string{"app"}}, targets: []string{"app"}},
		{name: "empty body", ev: &store.Event{ID: "evt_4", Source: "s", Targets: []string{"app"}}, targets: []string{"app"}},
	}
	clock := newTestClock()
	in := openTest(t, "", Options{Clock: clock})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if rc := mustAccept(t, in, tc.ev); rc.Duplicate {
				t.Fatal("first Accept reported a duplicate")
			}
			got := mustGet(t, in, tc.ev.ID)
			if !bytes.Equal(got.Body, tc.ev.Body) {
				t.Errorf("body = %q, want %q", got.Body, tc.ev.Body)
			}
			if !maps.Equal(got.Headers, tc.ev.Headers) {
				t.Errorf("headers = %v, want %v", got.Headers, tc.ev.Headers)
			}
			if !slices.Equal(got.Targets, tc.targets) {
				t.Errorf("targets = %v, want %v", got.Targets, tc.targets)
			}
			if got.Source != tc.ev.Source || got.Type != tc.ev.Type || got.ClientIP != tc.ev.ClientIP {
				t.Errorf("metadata = %q/%q/%q, want %q/%q/%q", got.Source, got.Type, got.ClientIP,
					tc.ev.Source, tc.ev.Type, tc.ev.ClientIP)
			}
			if !got.ReceivedAt.Equal(clock.Now()) {
				t.Errorf("received at %v, want %v", got.ReceivedAt, clock.Now())
			}
			if got.Status != store.StatusPending || len(got.Deliveries) != len(tc.targets) {
				t.Errorf("status %s with %d deliveries, want pending with %d", got.Status, len(got.Deliveries), len(tc.targets))
			}
			for _, target := range tc.targets {
				if d := deliveryOf(t, got, target); d.Status != store.StatusPending || !d.Due.Equal(clock.Now()) {
					t.Errorf("%s: status %s due %v, want pending due now", target, d.Status, d.Due)
				}
			}
		})
	}
}

func TestAcceptRejectsBadEvents(t *testing.T) {
	in := openTest(t, "", Options{})
	tests := []struct {
		name string
		ev   *store.Event
	}{
		{name: "no id", ev: &store.Event{Source: "s", Targets: []string{"app"}}},
		{name: "no source", ev: &store.Event{ID: "x", Targets: []string{"app"}}},
		{name: "empty target name", ev: &store.Event{ID: "x", Source: "s", Targets: []string{"app", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := in.Accept(context.Background(), tc.ev); err == nil {
				t.Fatal("Accept succeeded, want an error")
			}
		})
	}
}

func TestAcceptDuplicates(t *testing.T) {
	tests := []struct {
		name      string
		first     *store.Event
		second    *store.Event
		duplicate bool
	}{
		{name: "same source and id", first: testEvent("a", "app"), second: testEvent("a", "pager"), duplicate: true},
		{name: "same id, other source", first: testEvent("b", "app"),
			second: &store.Event{ID: "b", Source: "other", Targets: []string{"app"}}, duplicate: false},
		{name: "other id", first: testEvent("c", "app"), second: testEvent("d", "app"), duplicate: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := openTest(t, "", Options{})
			mustAccept(t, in, tc.first)
			if rc := mustAccept(t, in, tc.second); rc.Duplicate != tc.duplicate {
				t.Fatalf("Duplicate = %v, want %v", rc.Duplicate, tc.duplicate)
			}
			wantEvents, wantQueued := 2, 2
			if tc.duplicate {
				wantEvents, wantQueued = 1, 1
			}
			if n := countKeys(t, in, []byte("e/")); n != wantEvents {
				t.Errorf("%d events stored, want %d", n, wantEvents)
			}
			if n := countKeys(t, in, []byte("q/")); n != wantQueued {
				t.Errorf("%d queue entries, want %d", n, wantQueued)
			}
		})
	}
}

func TestDedupWindowExpires(t *testing.T) {
	in := openTest(t, "", Options{Policy: store.Policy{DedupWindow: time.Second}})
	mustAccept(t, in, testEvent("short", "app"))
	if rc := mustAccept(t, in, testEvent("short", "app")); !rc.Duplicate {
		t.Fatal("second Accept inside the window was not a duplicate")
	}
	// Badger expires keys in whole seconds, so the marker goes away between
	// one and two seconds later; poll until it does.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if rc := mustAccept(t, in, testEvent("short", "app")); !rc.Duplicate {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("event ID still remembered long after the dedup window")
		}
		<-tick.C
	}
	if n := countKeys(t, in, []byte("e/")); n != 2 {
		t.Errorf("%d events stored, want 2 (one per window)", n)
	}
}

// TestAcceptDedupUntil checks that the dedup marker lives until the later
// of the policy's window and the event's DedupUntil, the fix of a replay
// gap: a payload timestamped ahead of our clock stays fresh past the
// window counted from receipt.
func TestAcceptDedupUntil(t *testing.T) {
	const window = time.Hour
	tests := []struct {
		name string
		// until is DedupUntil relative to now; zero leaves it unset.
		until time.Duration
		// want is the marker's lifetime relative to now.
		want time.Duration
	}{
		{name: "unset: the window", until: 0, want: window},
		{name: "later than the window", until: window + 4*time.Minute, want: window + 4*time.Minute},
		{name: "much later than the window", until: 30 * 24 * time.Hour, want: 30 * 24 * time.Hour},
		{name: "earlier than the window", until: 10 * time.Minute, want: window},
		{name: "in the past", until: -time.Hour, want: window},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := openTest(t, "", Options{Policy: store.Policy{DedupWindow: window}})
			ev := testEvent("until", "app")
			before := time.Now()
			if tt.until != 0 {
				ev.DedupUntil = before.Add(tt.until)
			}
			mustAccept(t, in, ev)
			after := time.Now()
			got := expiry(t, in, dedupKey(ev.Source, ev.ID))
			// Badger keeps whole seconds; the marker may live up to one
			// second longer, never shorter.
			lo, hi := uint64(before.Add(tt.want).Unix()), uint64(after.Add(tt.want).Unix())+1
			if got < lo || got > hi {
				t.Fatalf("marker expires at %d, want %d..%d (%s from now)", got, lo, hi, tt.want)
			}
			if rc := mustAccept(t, in, testEvent("until", "app")); !rc.Duplicate {
				t.Fatal("second Accept was not a duplicate")
			}
		})
	}
}

func TestAcceptSameIDConcurrently(t *testing.T) {
	in := openTest(t, "", Options{})
	const callers = 200
	var (
		start    = make(chan struct{})
		wg       sync.WaitGroup
		accepted atomic.Int32
		dups     atomic.Int32
	)
	for range callers {
		wg.Go(func() {
			<-start
			rc, err := in.Accept(context.Background(), testEvent("same", "app"))
			switch {
			case err != nil:
				t.Errorf("Accept: %v", err)
			case rc.Duplicate:
				dups.Add(1)
			default:
				accepted.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if accepted.Load() != 1 || dups.Load() != callers-1 {
		t.Fatalf("%d accepted and %d duplicates, want 1 and %d", accepted.Load(), dups.Load(), callers-1)
	}
	if n := countKeys(t, in, []byte("e/")); n != 1 {
		t.Errorf("%d events stored, want 1", n)
	}
	if ds := mustLease(t, in, "app", time.Now(), 10); len(ds) != 1 {
		t.Errorf("%d queue entries leased, want 1", len(ds))
	}
}

func TestDedupSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	in := openTest(t, dir, Options{})
	mustAccept(t, in, testEvent("persisted", "app"))
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	in = openTest(t, dir, Options{})
	if rc := mustAccept(t, in, testEvent("persisted", "app")); !rc.Duplicate {
		t.Fatal("event ID forgotten after reopen")
	}
}

func TestAcceptUnrouted(t *testing.T) {
	in := openTest(t, "", Options{})
	mustAccept(t, in, testEvent("lost"))
	rec := mustGet(t, in, "lost")
	if rec.Status != store.StatusUnrouted || len(rec.Deliveries) != 0 {
		t.Fatalf("status %s with %d deliveries, want unrouted with none", rec.Status, len(rec.Deliveries))
	}
	recs, _, err := in.List(bg, store.ListFilter{Status: store.StatusUnrouted})
	if err != nil || !slices.Equal(ids(recs), []string{"lost"}) {
		t.Fatalf("List(unrouted) = %v, %v; want [lost]", ids(recs), err)
	}
	// Unrouted is final from the start, so it expires like a settled event.
	if exp := expiry(t, in, eventKey(rec.Seq)); exp == 0 {
		t.Error("unrouted event has no retention TTL")
	}
	if n := countKeys(t, in, []byte("q/")); n != 0 {
		t.Errorf("%d queue entries for an unrouted event", n)
	}
	if err := in.Requeue(bg, "", "lost", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Requeue(unrouted) = %v, want store.ErrNotFound", err)
	}
}

func TestAcceptCancelledWhileQueued(t *testing.T) {
	in := openTest(t, "", Options{})
	// Hold the committer inside its first batch so the next request
	// stays queued.
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	in.beforeBatch = func() {
		once.Do(func() {
			entered <- struct{}{}
			<-release
		})
	}
	firstDone := make(chan error, 1)
	go func() {
		_, err := in.Accept(context.Background(), testEvent("first", "app"))
		firstDone <- err
	}()
	<-entered

	ctx, cancel := context.WithCancel(context.Background())
	secondDone := make(chan error, 1)
	go func() {
		_, err := in.Accept(ctx, testEvent("second", "app"))
		secondDone <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(in.queue) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("second request never queued")
		}
		runtimeGosched()
	}
	cancel()
	if err := <-secondDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Accept = %v, want context.Canceled", err)
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatalf("first Accept: %v", err)
	}
	// The committer skips a request whose caller gave up, so an error
	// answer means nothing was stored.
	mustAccept(t, in, testEvent("third", "app"))
	if _, err := in.Get(bg, "", "second"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(second) = %v, want store.ErrNotFound", err)
	}
}

func TestAcceptSplitsOversizedBatch(t *testing.T) {
	// A 1 MiB memtable allows about 157 KB per transaction, so twenty
	// 40 KB events in one batch must be split.
	in := openTest(t, "", Options{MemTableSize: 1 << 20, MaxBatchBytes: 8 << 20})
	const n = 20
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	in.beforeBatch = func() {
		once.Do(func() {
			entered <- struct{}{}
			<-release
		})
	}
	errs := make(chan error, n+1)
	go func() {
		_, err := in.Accept(context.Background(), testEvent("blocker", "app"))
		errs <- err
	}()
	<-entered
	body := bytes.Repeat([]byte("x"), 40<<10)
	for i := range n {
		go func() {
			ev := testEvent(fmt.Sprintf("big-%d", i), "app")
			ev.Body = body
			_, err := in.Accept(context.Background(), ev)
			errs <- err
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(in.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests queued", len(in.queue))
		}
		runtimeGosched()
	}
	close(release)
	for range n + 1 {
		if err := <-errs; err != nil {
			t.Errorf("Accept: %v", err)
		}
	}
	if got := countKeys(t, in, []byte("e/")); got != n+1 {
		t.Errorf("%d events stored, want %d", got, n+1)
	}
}

func TestAcceptConcurrentWriters(t *testing.T) {
	in := openTest(t, "", Options{})
	const writers, each = 8, 100
	var wg sync.WaitGroup
	var dups atomic.Int32
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				// Every writer also sends one ID another writer sends.
				id := fmt.Sprintf("w%d-%d", w, i)
				if i == 0 {
					id = "shared"
				}
				rc, err := in.Accept(context.Background(), testEvent(id, "app", "pager"))
				if err != nil {
					t.Errorf("Accept: %v", err)
					return
				}
				if rc.Duplicate {
					dups.Add(1)
				}
			}
		})
	}
	wg.Wait()
	want := writers*(each-1) + 1
	if d := dups.Load(); d != writers-1 {
		t.Errorf("%d duplicates, want %d", d, writers-1)
	}
	stats, err := in.Stats(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"app", "pager"} {
		if stats[target].Pending != int64(want) {
			t.Errorf("%s pending = %d, want %d", target, stats[target].Pending, want)
		}
	}
	if n := countKeys(t, in, []byte("e/")); n != want {
		t.Errorf("%d events stored, want %d", n, want)
	}
}

func TestCommitterPanicFailsBatch(t *testing.T) {
	core, logs := observer.New(zapcore.ErrorLevel)
	in := openTest(t, "", Options{Logger: zap.New(core)})
	var once sync.Once
	in.beforeBatch = func() {
		once.Do(func() { panic("disk on fire") })
	}
	if _, err := in.Accept(context.Background(), testEvent("doomed", "app")); err == nil {
		t.Fatal("Accept reported success for a batch that panicked")
	}
	if logs.FilterMessage("panic in inbox committer").Len() != 1 {
		t.Errorf("panic not logged: %v", logs.All())
	}
	// The committer survives and the event, never written, can be sent again.
	if rc := mustAccept(t, in, testEvent("doomed", "app")); rc.Duplicate {
		t.Error("retry of a failed Accept reported as a duplicate")
	}
}
