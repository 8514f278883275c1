package badger

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// diskRefresh is how long a free-space reading is reused: statfs is a
// syscall, and at tens of thousands of accepts a second one reading per
// second is plenty to catch a slowly filling disk. A burst of large events
// is caught by the bytes charged since the reading (see charge).
const diskRefresh = time.Second

// diskGauge caches the free space of the filesystem holding the inbox.
type diskGauge struct {
	dir     string
	mu      sync.Mutex // held while refreshing; others use the last reading
	checked atomic.Int64
	free    atomic.Int64
	// spent estimates the bytes written since the last reading. Badger
	// writes through mmap, so running out of disk is a SIGBUS, not an
	// error: the reading must never lag far behind a burst.
	spent atomic.Int64
}

// charge records that about n bytes are about to be written.
func (g *diskGauge) charge(n int64) { g.spent.Add(n) }

// diskCost over-estimates what storing an event of this record size
// writes over its life: the write-ahead log, the tree or value log, and
// the rewrite when it settles.
func diskCost(recordBytes int) int64 { return 4 * (int64(recordBytes) + 512) }

func newDiskGauge(dir string) *diskGauge {
	g := &diskGauge{dir: dir}
	g.free.Store(-1)
	return g
}

// available returns the free bytes for unprivileged users, less what was
// charged since they were measured, or -1 when the platform cannot tell
// (the check is then skipped). It measures again after diskRefresh, or
// sooner once the charges reach a quarter of margin (the free space the
// caller wants to keep), so a burst cannot overrun the margin.
func (g *diskGauge) available(margin int64) int64 {
	now := time.Now().UnixNano()
	fresh := now-g.checked.Load() < int64(diskRefresh) && (margin <= 0 || g.spent.Load() < margin/4)
	// One caller refreshes; the rest keep using the previous reading
	// rather than queueing behind a syscall.
	if fresh || !g.mu.TryLock() {
		return g.estimate()
	}
	defer g.mu.Unlock()
	spent := g.spent.Load()
	free, err := freeSpace(g.dir)
	if err != nil {
		free = -1
	}
	g.free.Store(free)
	// charges made while measuring still count
	g.spent.Add(-spent)
	g.checked.Store(now)
	return g.estimate()
}

func (g *diskGauge) estimate() int64 {
	free := g.free.Load()
	if free < 0 {
		return -1
	}
	return free - g.spent.Load()
}

// checkDisk returns store.ErrLowDisk when the policy asks for more free space
// than the filesystem has.
func (in *Store) checkDisk() error {
	need := in.policy.Load().MinFreeSpace
	if need <= 0 {
		return nil
	}
	if free := in.disk.available(need); free >= 0 && free < need {
		return store.ErrLowDisk
	}
	return nil
}

// FreeSpace returns the free bytes on the inbox's filesystem as last
// measured (at most a second old) less what was written since, or -1 when
// unknown.
func (in *Store) FreeSpace() int64 {
	return in.disk.available(in.policy.Load().MinFreeSpace)
}
