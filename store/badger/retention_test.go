package badger

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
)

// TestDiskUseLevelsOff accepts and delivers round after round of events
// with a one-second retention: once the first events expire, compaction
// and value-log GC must keep the store's size bounded instead of growing
// with the total written. Each round is delivered by leasing and acking, as
// the dispatcher does.
func TestDiskUseLevelsOff(t *testing.T) {
	if testing.Short() || raceEnabled {
		// It measures disk use over a few seconds of load, which the race
		// detector stretches fourfold without checking anything more.
		t.Skip("writes about 200 MiB; skipped in -short and -race runs")
	}
	dir := t.TempDir()
	in := openTest(t, dir, Options{
		Logger:           zap.NewNop(),
		Policy:           store.Policy{Retention: time.Second, DedupWindow: time.Second},
		SweepInterval:    50 * time.Millisecond,
		MemTableSize:     1 << 20,
		ValueLogFileSize: 1 << 20,
		// Value-log GC runs between rounds, while nothing writes:
		// badger v4.9.6 reads the memtable's max version unsynchronised
		// when a rewrite starts (DB.MaxVersion against memTable.Put), which
		// the race detector reports when GC overlaps writes.
		GCInterval: time.Hour,
	})

	const rounds, writers, perWriter = 12, 16, 125
	pad := strings.Repeat("x", 4096)
	var written int64
	sizes := make([]int64, 0, rounds)
	for round := range rounds {
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range perWriter {
					id := fmt.Sprintf("r%d_w%d_%d", round, w, i)
					ev := testEvent(id, "app")
					ev.Body = []byte(fmt.Sprintf(`{"id":%q,"pad":%q}`, id, pad))
					if _, err := in.Accept(context.Background(), ev); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		written += writers * perWriter * int64(len(pad))
		for {
			ds := mustLease(t, in, "app", time.Now(), 1000)
			if len(ds) == 0 {
				break
			}
			for _, d := range ds {
				if err := in.Ack(bg, d, store.Attempt{At: time.Now(), Status: 204}); err != nil {
					t.Fatal(err)
				}
			}
		}
		in.collectGarbage()
		sizes = append(sizes, dirSize(t, dir))
	}
	t.Logf("store size per round (MiB): %v; bodies written: %d MiB", mib(sizes), written>>20)
	// A store that kept everything would double in size between the first
	// and the second half. The sweeper, compaction and value-log GC must
	// keep it near its early level.
	early := slices.Max(sizes[:rounds/2])
	if late := slices.Max(sizes[rounds*2/3:]); late > early*3/2 {
		t.Errorf("store grew from %d MiB to %d MiB; it should level off", early>>20, late>>20)
	}
}

func dirSize(t testing.TB, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			// Removed by GC or compaction while walking.
			return nil
		}
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

func mib(sizes []int64) []int64 {
	out := make([]int64, len(sizes))
	for i, s := range sizes {
		out[i] = s >> 20
	}
	return out
}

// TestSweep follows settled events through the retention index with a
// fake clock: kept until their retention has passed, then deleted but for
// the dedup marker; a replayed event is left alone, and one settled again
// is kept for a full retention from its new settling.

func TestSweep(t *testing.T) {
	clock := newTestClock()
	in := openTest(t, "", Options{Clock: clock, Policy: store.Policy{Retention: time.Hour}, SweepInterval: time.Hour})
	settle := func(id string) {
		t.Helper()
		for _, d := range mustLease(t, in, "app", clock.Now(), 10) {
			if d.Event.ID != id {
				t.Fatalf("leased %s, want %s", d.Event.ID, id)
			}
			if err := in.Ack(bg, d, store.Attempt{Status: 200}); err != nil {
				t.Fatal(err)
			}
		}
	}
	sweep := func(want int) {
		t.Helper()
		if n, err := in.sweep(); err != nil || n != want {
			t.Fatalf("sweep() = %d, %v; want %d deleted", n, err, want)
		}
	}
	present := func(id string) bool {
		t.Helper()
		_, err := in.Get(bg, "", id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	for _, id := range []string{"old", "replayed", "resettled", "purged"} {
		mustAccept(t, in, testEvent(id, "app"))
		settle(id)
	}
	mustAccept(t, in, testEvent("pending", "app"))
	if err := in.Requeue(bg, "", "replayed", ""); err != nil {
		t.Fatal(err)
	}
	if err := in.Delete(bg, "", "purged"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Minute)
	if err := in.Requeue(bg, "", "resettled", ""); err != nil {
		t.Fatal(err)
	}
	for _, d := range mustLease(t, in, "app", clock.Now(), 10) {
		if d.Event.ID == "resettled" {
			if err := in.Ack(bg, d, store.Attempt{Status: 200}); err != nil {
				t.Fatal(err)
			}
		}
	}

	clock.Advance(29 * time.Minute)
	sweep(0)
	if !present("old") {
		t.Fatal("event deleted before its retention passed")
	}

	clock.Advance(2 * time.Minute) // 61 min after the first settling
	sweep(1)
	if present("old") {
		t.Error("event kept after its retention")
	}
	for _, id := range []string{"replayed", "resettled", "pending"} {
		if !present(id) {
			t.Errorf("%s deleted; it was pending or settled less than the retention ago", id)
		}
	}
	if rc, err := in.Accept(context.Background(), testEvent("old", "app")); err != nil || !rc.Duplicate {
		t.Errorf("re-posting a swept event = %+v, %v; want a duplicate while its dedup marker lives", rc, err)
	}
	if n := countKeys(t, in, appendNS(nil, nsRetain)); n != 1 {
		t.Errorf("%d retention entries left, want 1 (resettled's, refiled)", n)
	}

	clock.Advance(30 * time.Minute)
	sweep(1)
	if present("resettled") {
		t.Error("re-settled event kept after a full retention from its second settling")
	}
	if !present("replayed") || !present("pending") {
		t.Error("a pending event was deleted")
	}
	for _, prefix := range []string{"r/", "s/d", "g/d"} {
		if n := countKeys(t, in, []byte(prefix)); n != 0 {
			t.Errorf("%d keys left under %s", n, prefix)
		}
	}
}
