package badger

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// TestReplayDeadStreams replays more dead letters than one page holds,
// with bodies big enough that a page overflows a transaction of the small
// memtable and has to be split.
func TestReplayDeadStreams(t *testing.T) {
	clock := newTestClock()
	in := openTest(t, "", Options{Clock: clock, MemTableSize: 1 << 20})
	const n = 2*replayPage + 44
	pad := strings.Repeat("p", 900)
	for i := range n {
		ev := testEvent(fmt.Sprintf("d%04d", i), "app")
		ev.Body = []byte(fmt.Sprintf(`{"id":"d%04d","even":%t,"pad":%q}`, i, i%2 == 0, pad))
		mustAccept(t, in, ev)
	}
	for {
		ds := mustLease(t, in, "app", clock.Now(), 100)
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			if err := in.Dead(bg, d, store.Attempt{Status: 410}, "gone"); err != nil {
				t.Fatal(err)
			}
		}
	}
	even := func(rec *store.EventRecord) bool {
		var body struct{ Even bool }
		return json.Unmarshal(rec.Body, &body) == nil && body.Even
	}
	if got, err := in.ReplayDead(bg, "app", even, store.ReplayOptions{DryRun: true}); err != nil || got != n/2 {
		t.Fatalf("dry run with filter = %d, %v; want %d", got, err, n/2)
	}
	if got, err := in.ReplayDead(bg, "", nil, store.ReplayOptions{DryRun: true}); err != nil || got != n {
		t.Fatalf("dry run = %d, %v; want %d", got, err, n)
	}
	if got, err := in.ReplayDead(bg, "app", even, store.ReplayOptions{DryRun: false}); err != nil || got != n/2 {
		t.Fatalf("replay with filter = %d, %v; want %d", got, err, n/2)
	}
	if got, err := in.ReplayDead(bg, "app", nil, store.ReplayOptions{DryRun: false}); err != nil || got != n/2 {
		t.Fatalf("replay of the rest = %d, %v; want %d", got, err, n/2)
	}
	stats, err := in.Stats(bg)
	if err != nil {
		t.Fatal(err)
	}
	if stats["app"].Pending != n || stats["app"].Dead != 0 {
		t.Errorf("stats %+v, want %d pending and none dead", stats["app"], n)
	}
	if got := len(mustLease(t, in, "app", clock.Now(), 2*n)); got != n {
		t.Errorf("%d leasable after replay, want %d", got, n)
	}
}

// TestReplayDeadPaced replays dead letters spread out in time: each is
// due one interval after the previous, and leasable only then.
func TestReplayDeadPaced(t *testing.T) {
	clock := newTestClock()
	in := openTest(t, "", Options{Clock: clock, MemTableSize: 1 << 20})
	const n = replayPage + 10 // more than a page, so pacing carries over
	for i := range n {
		mustAccept(t, in, testEvent(fmt.Sprintf("p%04d", i), "app"))
	}
	for {
		ds := mustLease(t, in, "app", clock.Now(), 100)
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			if err := in.Dead(bg, d, store.Attempt{Status: 400}, "bad request"); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := clock.Now().Add(time.Second) // Offset 100 × interval
	const interval = 10 * time.Millisecond
	if got, err := in.ReplayDead(bg, "app", nil, store.ReplayOptions{Interval: interval, Offset: 100}); err != nil || got != n {
		t.Fatalf("paced ReplayDead = %d, %v; want %d", got, err, n)
	}
	steps := []struct {
		name string
		at   time.Time
		want int
	}{
		{name: "before the start", at: clock.Now(), want: 0},
		{name: "at the start", at: start, want: 1},
		{name: "ten intervals in", at: start.Add(10 * interval), want: 10},
		{name: "after the last", at: start.Add(n * interval), want: n - 11},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if got := len(mustLease(t, in, "app", st.at, 2*n)); got != st.want {
				t.Fatalf("leased %d at %s, want %d", got, st.at.Sub(start), st.want)
			}
		})
	}
	rec := mustGet(t, in, "p0005")
	if d := deliveryOf(t, rec, "app"); !d.Since.Equal(start.Add(5*interval)) || d.RunAttempts != 0 {
		t.Errorf("replayed p0005: since %s run attempts %d, want the run to start when it is due",
			d.Since.Sub(start), d.RunAttempts)
	}
}
