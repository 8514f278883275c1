package relay

import (
	"sync"
	"sync/atomic"
	"time"
)

// diskRefresh is how long a free-space reading is reused: statfs is a
// syscall, and at tens of thousands of accepts a second one reading per
// second is plenty to catch a filling disk.
const diskRefresh = time.Second

// diskGauge caches the free space of the filesystem holding the inbox.
type diskGauge struct {
	dir     string
	mu      sync.Mutex // held while refreshing; others use the last reading
	checked atomic.Int64
	free    atomic.Int64
}

func newDiskGauge(dir string) *diskGauge {
	g := &diskGauge{dir: dir}
	g.free.Store(-1)
	return g
}

// available returns the free bytes for unprivileged users, or -1 when the
// platform cannot tell (the check is then skipped).
func (g *diskGauge) available() int64 {
	now := time.Now().UnixNano()
	if now-g.checked.Load() < int64(diskRefresh) {
		return g.free.Load()
	}
	// One caller refreshes; the rest keep using the previous reading
	// rather than queueing behind a syscall.
	if !g.mu.TryLock() {
		return g.free.Load()
	}
	defer g.mu.Unlock()
	free, err := freeSpace(g.dir)
	if err != nil {
		free = -1
	}
	g.free.Store(free)
	g.checked.Store(now)
	return free
}

// checkDisk returns ErrLowDisk when the policy asks for more free space
// than the filesystem has.
func (in *Inbox) checkDisk() error {
	need := in.policy.Load().MinFreeSpace
	if need <= 0 {
		return nil
	}
	if free := in.disk.available(); free >= 0 && free < need {
		return ErrLowDisk
	}
	return nil
}

// FreeSpace returns the free bytes on the inbox's filesystem as last
// measured (at most a second old), or -1 when unknown.
func (in *Inbox) FreeSpace() int64 {
	return in.disk.available()
}
