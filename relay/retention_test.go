package relay

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestDeliveredEventsExpire(t *testing.T) {
	rv := newReceiver(t, status(http.StatusOK))
	// Badger's TTLs follow the wall clock, so this test uses it too.
	in := openTest(t, "", Options{Logger: zap.NewNop(), Policy: Policy{Retention: time.Second, DedupWindow: time.Second}})
	d := NewDispatcher(in, DispatcherOptions{Logger: zap.NewNop()})
	t.Cleanup(func() { _ = d.Close() })
	d.SetTargets([]TargetConfig{target("app", rv.URL)})
	const events = 20
	for i := range events {
		mustAccept(t, in, testEvent(fmt.Sprintf("e%d", i), "app"))
	}
	waitFor(t, "every event gone after its retention", func() bool {
		for i := range events {
			if _, err := in.Get(fmt.Sprintf("e%d", i)); !errors.Is(err, ErrNotFound) {
				return false
			}
		}
		return true
	})
	if recs, _, err := in.List(ListFilter{}); err != nil || len(recs) != 0 {
		t.Errorf("List after retention = %d events, %v; want none", len(recs), err)
	}
	if n := rv.total.Load(); n != events {
		t.Errorf("%d deliveries, want %d", n, events)
	}
}

// TestDiskUseLevelsOff accepts and delivers round after round of events
// with a one-second retention: once the first events expire, compaction
// and value-log GC must keep the store's size bounded instead of growing
// with the total written.
func TestDiskUseLevelsOff(t *testing.T) {
	if testing.Short() || raceEnabled {
		// It measures disk use over a few seconds of load, which the race
		// detector stretches fourfold without checking anything more.
		t.Skip("writes about 200 MiB; skipped in -short and -race runs")
	}
	rv := newReceiver(t, status(http.StatusNoContent))
	dir := t.TempDir()
	in := openTest(t, dir, Options{
		Logger:           zap.NewNop(),
		Policy:           Policy{Retention: time.Second, DedupWindow: time.Second},
		MemTableSize:     1 << 20,
		ValueLogFileSize: 1 << 20,
		// Value-log GC runs between rounds, while nothing writes:
		// badger v4.9.6 reads the memtable's max version unsynchronised
		// when a rewrite starts (DB.MaxVersion against memTable.Put), which
		// the race detector reports when GC overlaps writes.
		GCInterval: time.Hour,
	})
	d := NewDispatcher(in, DispatcherOptions{Logger: zap.NewNop()})
	t.Cleanup(func() { _ = d.Close() })
	d.SetTargets([]TargetConfig{{Name: "app", URL: rv.URL, Concurrency: 16}})

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
		waitFor(t, "the round delivered", func() bool {
			st, err := in.Stats()
			return err == nil && st["app"].Pending == 0
		})
		in.collectGarbage()
		sizes = append(sizes, dirSize(t, dir))
	}
	t.Logf("store size per round (MiB): %v; bodies written: %d MiB", mib(sizes), written>>20)
	// Every body is written twice (accepted, then rewritten with the
	// retention TTL when delivered), so a store that kept everything would
	// double in size between the first and the second half. Expiry,
	// compaction and value-log GC must keep it near its early level.
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
