package store

import (
	"context"
	"time"
)

// Ingest stores what the handler accepts.
type Ingest interface {
	// Accept durably stores ev, atomically: its dedup marker, the event
	// and one queue entry per target (or, without targets, an unrouted
	// record), or nothing at all. It returns only once the backend can
	// lose none of it. An event whose (Source, ID) was already seen within
	// the dedup window is not stored again: the receipt says Duplicate.
	//
	// When ctx ends first Accept returns ctx's error, and the event may or
	// may not have been stored (a retry by the sender is then reported as
	// a duplicate or stored, never lost). ev is not retained.
	Accept(ctx context.Context, ev *Event) (Receipt, error)
}

// Queue is what the dispatcher delivers from: each target's queue of due
// entries, handed out under a lease and settled with an attempt's outcome.
type Queue interface {
	// Lease hands out up to max queue entries of target that are due now
	// (by Clock) and not leased by anyone, oldest due first. A leased
	// entry is not handed out again until it is settled (Ack, Retry,
	// Dead) or released, or until its holder is lost (a process that
	// stopped or crashed), whichever comes first: delivery is at least
	// once, and an attempt in flight when its holder is lost may be
	// repeated by another.
	Lease(ctx context.Context, target string, max int) ([]Delivery, error)
	// Ack records a successful attempt: the delivery is delivered and
	// leaves the queue.
	Ack(ctx context.Context, d Delivery, a Attempt) error
	// Retry records a failed attempt and makes the entry due again at
	// next, with one attempt more counted in its run.
	Retry(ctx context.Context, d Delivery, a Attempt, next time.Time) error
	// Dead records the last attempt and turns the delivery into a dead
	// letter of its target, with reason.
	Dead(ctx context.Context, d Delivery, a Attempt, reason string) error
	// Release gives a leased entry back untried: it is leasable again at
	// its current due time. Releasing what is no longer leased does
	// nothing.
	Release(d Delivery)
	// Watch returns a channel that receives a signal (folded: one pending
	// signal at most) when target's queue may have gained an entry that is
	// due now, from this process or any other sharing the store, and a
	// function that stops the signals. Signals are hints: a caller still
	// polls for entries that come due with time.
	Watch(target string) (<-chan struct{}, func())

	// Ordering. An entry whose event has an order key for the target
	// (Event.OrderKeys) stands in its key's line, one line per (target,
	// key), in the order the entries joined it: an accepted event joins
	// at accept time, in receive order (the store's order of events); a
	// replay (Requeue, ReplayDead) moves the entry to the back of its
	// line, as if it had just been received. Lease never hands out an
	// entry while an entry ahead of it in its line is still pending,
	// whether leased or waiting for a retry: the entries of one key are
	// attempted one at a time, in line order. An entry leaves its line
	// when it is delivered, dead-lettered (a dead letter releases the
	// line: the next entry is leasable at once) or deleted. Entries of
	// other keys and unordered entries (no key, or an empty one) are not
	// held back. The line survives restarts, as the queue does.

	// Ack, Retry and Dead return ErrNotPending when the delivery is no
	// longer pending (a replay, a delete or another holder settled it)
	// and ErrNotFound when the event is gone; the caller drops its
	// result.
}

// Catalog is what operators browse and act on: one event, pages of events,
// per-target figures, delete and replay.
type Catalog interface {
	// Get returns the event (source, id) with every target's state. An
	// empty source finds the event under any source: *AmbiguousError
	// when more than one source holds that ID. ErrNotFound when none.
	Get(ctx context.Context, source, id string) (*EventRecord, error)
	// List returns a page of events matching filter, newest first, and
	// the cursor of the next page (empty on the last page).
	List(ctx context.Context, filter ListFilter) ([]EventRecord, string, error)
	// Stats returns per-target queue figures for every target that has
	// pending or dead deliveries, configured or not.
	Stats(ctx context.Context) (map[string]TargetStats, error)
	// Delete purges the event (source, id) whatever its status: record,
	// body, states, attempts, queue entries and dedup marker, so the same
	// event posted again is accepted as new. The source resolves as in
	// Get. An attempt already in flight still reaches its target; its
	// result is dropped.
	Delete(ctx context.Context, source, id string) error
	// Requeue replays the event (source, id) to target, or to each of its
	// targets when target is empty: pending again, due now, with a fresh
	// retry budget and max_age. The source resolves as in Get;
	// ErrNotFound also when target is not one of the event's targets.
	Requeue(ctx context.Context, source, id, target string) error
	// ReplayDead requeues the dead letters of target (of every target
	// when empty) for which match returns true (nil matches all), and
	// returns how many it requeued, or with opts.DryRun how many it would.
	// It streams: a million dead letters never sit in memory at once. The
	// predicate sees the record with its body; it must not retain it.
	ReplayDead(ctx context.Context, target string, match func(*EventRecord) bool, opts ReplayOptions) (int, error)
}

// Pauses keeps which targets an operator paused. The state is durable: it
// survives restarts and reloads and, in a shared store, is the same for
// every gateway.
type Pauses interface {
	// SetPaused pauses (true) or resumes (false) target.
	SetPaused(ctx context.Context, target string, paused bool) error
	// Paused returns the paused targets.
	Paused(ctx context.Context) (map[string]bool, error)
}

// Store is a whole backend.
type Store interface {
	Ingest
	Queue
	Catalog
	Pauses
	// SetPolicy swaps the reloadable settings in place; they apply from
	// the next call on.
	SetPolicy(p Policy)
	// Clock is the backend's time: receive times, due times, leases and
	// retention follow it, and the dispatcher uses the same clock for its
	// attempts and timers.
	Clock() Clock
	// Close releases the backend; calls after Close return ErrClosed.
	// Closing twice is a no-op.
	Close() error
}

// ReplayOptions shape a bulk replay.
type ReplayOptions struct {
	// DryRun only counts what would be requeued.
	DryRun bool
	// Interval spreads the replay out: the n-th requeued dead letter
	// (counting from Offset) is due n×Interval after now, and its retry
	// budget and max_age run from then. The spacing is stored in the due
	// times, so it survives a restart. Zero makes all due now.
	Interval time.Duration
	// Offset is how many entries earlier calls of the same replay already
	// spaced out, so a replay across several targets keeps one pace.
	Offset int
}

// DiskUser is a backend that keeps files on this machine.
type DiskUser interface {
	// Size is the disk space the store's files take, in bytes.
	Size() (int64, error)
	// FreeSpace is the free space, in bytes, where the files live, or -1
	// when unknown.
	FreeSpace() int64
}

// Describer is a backend that can say where it keeps its data, for the
// admin API's stats: a directory, a cluster's servers. Never a secret.
type Describer interface {
	// Describe returns a few name/value pairs.
	Describe() map[string]string
}
