package badger

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

func TestDelete(t *testing.T) {
	clock := newTestClock()
	in := openTest(t, "", Options{Clock: clock})
	seedMix(t, in, clock) // e1 delivered, e2 app dead + pager pending, e3 unrouted, e4 pager pending
	other := testEvent("e4", "app")
	other.Source = "other" // the same ID from another source is another event
	mustAccept(t, in, other)

	tests := []struct {
		name        string
		source      string
		id          string
		wantErr     error
		wantList    []string
		wantPending map[string]int64
	}{
		{name: "unknown id", id: "nope", wantErr: store.ErrNotFound,
			wantList: []string{"e4", "e4", "e3", "e2", "e1"}, wantPending: map[string]int64{"app": 1, "pager": 2}},
		{name: "delivered", id: "e1",
			wantList: []string{"e4", "e4", "e3", "e2"}, wantPending: map[string]int64{"app": 1, "pager": 2}},
		{name: "dead for one target, pending for another", id: "e2",
			wantList: []string{"e4", "e4", "e3"}, wantPending: map[string]int64{"app": 1, "pager": 1}},
		{name: "unrouted", id: "e3",
			wantList: []string{"e4", "e4"}, wantPending: map[string]int64{"app": 1, "pager": 1}},
		{name: "an id two sources hold, without a source", id: "e4", wantErr: &store.AmbiguousError{},
			wantList: []string{"e4", "e4"}, wantPending: map[string]int64{"app": 1, "pager": 1}},
		{name: "one source's event, the other's kept", source: "other", id: "e4",
			wantList: []string{"e4"}, wantPending: map[string]int64{"pager": 1}},
		{name: "the other source's event", source: "unicraft", id: "e4",
			wantList: nil, wantPending: map[string]int64{}},
		{name: "twice", source: "unicraft", id: "e4", wantErr: store.ErrNotFound, wantPending: map[string]int64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := in.Delete(bg, tc.source, tc.id)
			var ambiguous *store.AmbiguousError
			if _, want := tc.wantErr.(*store.AmbiguousError); want {
				if !errors.As(err, &ambiguous) || !slices.Equal(ambiguous.Sources, []string{"other", "unicraft"}) {
					t.Fatalf("Delete = %v, want the sources named", err)
				}
			} else if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Delete = %v, want %v", err, tc.wantErr)
			}
			if _, err := in.Get(bg, tc.source, tc.id); ambiguous == nil && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get after Delete = %v, want store.ErrNotFound", err)
			}
			recs, _, err := in.List(bg, store.ListFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(recs); !slices.Equal(got, tc.wantList) {
				t.Errorf("List = %v, want %v", got, tc.wantList)
			}
			stats, err := in.Stats(bg)
			if err != nil {
				t.Fatal(err)
			}
			for _, target := range []string{"app", "pager"} {
				if got := stats[target].Pending; got != tc.wantPending[target] {
					t.Errorf("%s pending %d, want %d", target, got, tc.wantPending[target])
				}
			}
		})
	}

	// Nothing of the purged events is left under any namespace but the
	// meta key.
	for _, ns := range []byte{nsDedup, nsEvent, nsID, nsState, nsQueue, nsStatus, nsGlobal} {
		if n := countKeys(t, in, appendNS(nil, ns)); n != 0 {
			t.Errorf("%d keys left under %c/", n, ns)
		}
	}
	if ds := mustLease(t, in, "pager", clock.Now().Add(time.Hour), 10); len(ds) != 0 {
		t.Errorf("leased %d purged deliveries", len(ds))
	}
	// The dedup marker went too: the sender's event is accepted again.
	if rc := mustAccept(t, in, testEvent("e1", "app")); rc.Duplicate {
		t.Error("a purged event posted again is a duplicate, want accepted")
	}
}

// TestDeleteLeased purges an event while its delivery is leased: the
// attempt's result is refused and nothing is resurrected.
func TestDeleteLeased(t *testing.T) {
	clock := newTestClock()
	in := openTest(t, "", Options{Clock: clock})
	mustAccept(t, in, testEvent("gone", "app"))
	ds := mustLease(t, in, "app", clock.Now(), 1)
	if len(ds) != 1 {
		t.Fatalf("leased %d, want 1", len(ds))
	}
	if err := in.Delete(bg, "", "gone"); err != nil {
		t.Fatal(err)
	}
	if err := in.Ack(bg, ds[0], store.Attempt{Status: 200}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Ack after Delete = %v, want store.ErrNotFound", err)
	}
	if _, err := in.Get(bg, "", "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get = %v, want store.ErrNotFound", err)
	}
	if stats, err := in.Stats(bg); err != nil || len(stats) != 0 {
		t.Errorf("Stats = %+v, %v; want empty", stats, err)
	}
}

func TestSize(t *testing.T) {
	in := openTest(t, "", Options{})
	empty, err := in.Size()
	if err != nil || empty <= 0 {
		t.Fatalf("Size = %d, %v; want > 0", empty, err)
	}
	// Badger creates a 128 MiB value log and a 32 MiB memtable file, both
	// sparse; Size counts what is allocated.
	if empty > 64<<20 {
		t.Errorf("empty store Size = %d, want the allocated space, not the files' length", empty)
	}
}
