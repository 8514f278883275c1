// Package relay is the durable inbox: it stores accepted webhook events in an
// embedded Badger database (dedup index, events, per-target queues, dead
// letters, attempt history) and delivers them to their targets.
//
// It never imports Caddy, so it can be read, tested and benchmarked alone.
package relay

import (
	"context"
	"errors"
	"time"
)

// Defaults applied to a Policy field left at zero, so a zero Policy never
// means "remember forever" and the database cannot grow without bound.
const (
	// DefaultDedupWindow is the dedup window used when Policy.DedupWindow is zero.
	DefaultDedupWindow = 72 * time.Hour
	// DefaultRetention is the retention used when Policy.Retention is zero.
	DefaultRetention = 168 * time.Hour
)

// Event is one webhook as the inbox received it.
type Event struct {
	// ID is the event ID; duplicates are detected per (Source, ID).
	ID string `json:"id"`
	// Source names the handler that received the event (e.g. "unicraft").
	Source string `json:"source"`
	// Type is the payload's "event" field, if it had one.
	Type string `json:"type,omitempty"`
	// ReceivedAt is when the inbox received the event.
	ReceivedAt time.Time `json:"received_at"`
	// ClientIP is the sender's IP as Caddy saw it (after trusted_proxies).
	ClientIP string `json:"client_ip,omitempty"`
	// Headers are the selected request headers kept with the event
	// (canonical name to first value); never the signature.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is the raw request body, byte for byte.
	Body []byte `json:"-"`
	// Targets are the names of the targets the event was routed to. Empty
	// means the event is stored as unrouted.
	Targets []string `json:"targets"`
	// DedupUntil is the earliest time the event's ID may be forgotten:
	// Accept remembers the ID until the later of this and the policy's
	// DedupWindow from now (zero: the window alone). The handler sets it
	// to the payload's timestamp plus max_age, so a payload timestamped
	// ahead of our clock cannot be accepted again once the window has
	// passed but its timestamp has not yet aged out. It only sets the
	// dedup marker's expiry and is not stored with the event.
	DedupUntil time.Time `json:"-"`
}

// Receipt tells what Accept did with an event.
type Receipt struct {
	// Duplicate is true when the (Source, ID) pair was already seen within
	// the dedup window; nothing was written.
	Duplicate bool
}

// Policy holds the settings that may change on a config reload without
// reopening the store.
type Policy struct {
	// DedupWindow is how long an event ID is remembered, or longer when
	// the event's DedupUntil is later. Badger expires keys in whole
	// seconds, so an ID is remembered for at least this long and at most
	// one second longer. Zero means DefaultDedupWindow.
	DedupWindow time.Duration
	// Retention is how long delivered, dead and unrouted events stay
	// inspectable once every target is done with them. Zero means
	// DefaultRetention.
	Retention time.Duration
	// MinFreeSpace is the free disk space, in bytes, below which Accept
	// refuses new events with ErrLowDisk. Zero disables the check.
	MinFreeSpace int64
}

// withDefaults fills zero fields with their defaults.
func (p Policy) withDefaults() Policy {
	if p.DedupWindow <= 0 {
		p.DedupWindow = DefaultDedupWindow
	}
	if p.Retention <= 0 {
		p.Retention = DefaultRetention
	}
	return p
}

// Errors Accept may return; the handler maps all of them to 503.
var (
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("inbox store is closed")
	// ErrLowDisk means free disk space is below the policy's MinFreeSpace.
	ErrLowDisk = errors.New("inbox store: free disk space below minimum")
)

// Errors of the delivery and query methods.
var (
	// ErrNotFound means no stored event (or no such target of the event)
	// matches; the admin API maps it to 404.
	ErrNotFound = errors.New("event not found")
	// ErrBadCursor means a List cursor was not one List returned; the
	// admin API maps it to 400.
	ErrBadCursor = errors.New("invalid list cursor")
	// ErrNotPending means Ack, Retry or Dead was called for a delivery that
	// is no longer pending (another worker or a replay already settled it);
	// the dispatcher drops its result.
	ErrNotPending = errors.New("delivery is no longer pending")
)

// Status is where one target's delivery of an event stands, or, for a
// whole event, the most urgent status among its targets.
type Status string

// The statuses an event or delivery can have.
const (
	// StatusPending means a delivery is queued or in flight.
	StatusPending Status = "pending"
	// StatusDelivered means the target answered 2xx.
	StatusDelivered Status = "delivered"
	// StatusDead means delivery gave up; the event is a dead letter for
	// that target until it is replayed or retention expires.
	StatusDead Status = "dead"
	// StatusUnrouted means no route matched the event and there was no
	// default target, so it was stored for inspection only.
	StatusUnrouted Status = "unrouted"
)

// Attempt is the outcome of one delivery try, kept in the event's history.
type Attempt struct {
	// At is when the attempt started.
	At time.Time `json:"at"`
	// Duration is how long the attempt took.
	Duration time.Duration `json:"duration"`
	// Status is the HTTP status the target answered, or 0 when no
	// response arrived (timeout, connection error).
	Status int `json:"status,omitempty"`
	// Error describes a failure; stored truncated to MaxExcerpt bytes.
	Error string `json:"error,omitempty"`
	// Body is an excerpt of the response body; stored truncated to
	// MaxExcerpt bytes.
	Body string `json:"body,omitempty"`
}

// TargetState is one target's delivery state of an event.
type TargetState struct {
	// Target names the target.
	Target string `json:"target"`
	// Status is pending, delivered or dead.
	Status Status `json:"status"`
	// Due is when the next attempt may start; zero unless pending.
	Due time.Time `json:"due,omitzero"`
	// Since is when the current delivery run started: the receive time,
	// or the last replay. The dispatcher measures max_age from it.
	Since time.Time `json:"since"`
	// UpdatedAt is when the state last changed.
	UpdatedAt time.Time `json:"updated_at"`
	// Reason says why the delivery went dead.
	Reason string `json:"reason,omitempty"`
	// RunAttempts counts the attempts of the current run; a replay resets
	// it so a replayed dead letter gets a fresh retry budget.
	RunAttempts int `json:"run_attempts"`
	// Attempts is the attempt history across runs, oldest first, capped at
	// MaxAttemptHistory entries (the oldest are dropped).
	Attempts []Attempt `json:"attempts,omitempty"`
}

// Delivery is one leased queue entry: an event to deliver to one target.
type Delivery struct {
	// Event is the stored event, including its body.
	Event Event
	// Seq is the event's internal, time-ordered sequence number.
	Seq uint64
	// Target names the target to deliver to.
	Target string
	// Attempts counts the attempts already made in the current run; the
	// attempt about to be made is number Attempts+1.
	Attempts int
	// Since is when the current delivery run started (receive time or last
	// replay), for max_age.
	Since time.Time
	// Due is when the entry became due.
	Due time.Time

	lease uint64
}

// EventRecord is a stored event with the delivery state of each target.
type EventRecord struct {
	Event
	// Seq is the event's internal, time-ordered sequence number.
	Seq uint64 `json:"seq"`
	// Status sums up the targets: pending if any is pending, else dead if
	// any is dead, else delivered; unrouted when the event had no target.
	Status Status `json:"status"`
	// Deliveries holds one state per target, in target-name order.
	Deliveries []TargetState `json:"deliveries"`
}

// ListFilter selects events for List.
type ListFilter struct {
	// Status keeps events with at least one target in this status (or,
	// with Target set, whose Target is in this status). Empty keeps all.
	Status Status
	// Target keeps events routed to this target. Empty keeps all.
	Target string
	// Targets keeps events routed to any of these targets; Target, when
	// set, counts as one more. With Status set, the event's state for one
	// of these targets must be in that status.
	Targets []string
	// Since keeps events received at or after this time; zero means no
	// lower bound. The scan stops at the first older event.
	Since time.Time
	// Until keeps events received before this time; zero means no upper
	// bound. The scan starts there, so it costs nothing to skip newer
	// events.
	Until time.Time
	// Limit caps the page size: 50 when zero, at most 1000.
	Limit int
	// Cursor continues a previous List; empty starts at the newest event.
	Cursor string
	// WithBody loads each event's raw body; off by default because a page
	// of large bodies is expensive and listing rarely needs them.
	WithBody bool
}

// TargetStats sums up one target's queue.
type TargetStats struct {
	// Pending counts deliveries waiting or in flight.
	Pending int64 `json:"pending"`
	// Dead counts dead letters still retained.
	Dead int64 `json:"dead"`
	// OldestPending is the receive time of the oldest pending event; zero
	// when nothing is pending.
	OldestPending time.Time `json:"oldest_pending,omitzero"`
}

// Store is the inbox's storage contract. The Badger-backed Inbox implements
// it; a clustered backend could implement it later without touching the
// HTTP handler.
type Store interface {
	// Accept durably stores ev (dedup marker, event, and one queue entry per
	// target, or an unrouted record) in one transaction and returns only
	// after it is synced to disk. Concurrent calls share fsyncs. The marker
	// lives until the later of the dedup window and ev.DedupUntil.
	Accept(ctx context.Context, ev *Event) (Receipt, error)
	// SetPolicy swaps the reloadable settings in place.
	SetPolicy(p Policy)

	// Lease hands out up to max due, unleased queue entries of target.
	// Leases live in memory only: after a restart every entry that was not
	// settled is leasable again (at-least-once delivery).
	Lease(target string, now time.Time, max int, leaseFor time.Duration) ([]Delivery, error)
	// Ack records a successful attempt and marks the delivery delivered.
	Ack(d Delivery, a Attempt) error
	// Retry records a failed attempt and queues the delivery again at next.
	Retry(d Delivery, a Attempt, next time.Time) error
	// Dead records the last attempt and turns the delivery into a dead letter.
	Dead(d Delivery, a Attempt, reason string) error
	// Release gives a leased delivery back without recording an attempt.
	Release(d Delivery)
	// Requeue replays an event to one target, or to all its targets when
	// target is empty: due now, pending again, fresh retry budget.
	Requeue(id string, target string) error
	// ReplayDead re-queues the dead letters of one target (all when
	// target is empty) that match the predicate (nil: all), streaming the
	// dead-letter index; with dryRun it only counts them.
	ReplayDead(target string, match func(*EventRecord) bool, dryRun bool) (int, error)

	// Get returns the newest stored event with this ID.
	Get(id string) (*EventRecord, error)
	// List returns a page of events, newest first, and the cursor of the
	// next page (empty on the last page).
	List(filter ListFilter) ([]EventRecord, string, error)
	// Stats returns per-target queue figures.
	Stats() (map[string]TargetStats, error)
	// Close flushes and closes the store.
	Close() error
}
