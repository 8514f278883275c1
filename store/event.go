package store

import "time"

// Defaults applied to a Policy field left at zero, so a zero Policy never
// means "remember forever" and the database cannot grow without bound.
const (
	// DefaultDedupWindow is the dedup window used when Policy.DedupWindow is zero.
	DefaultDedupWindow = 72 * time.Hour
	// DefaultRetention is the retention used when Policy.Retention is zero.
	DefaultRetention = 168 * time.Hour
)

// Limits every backend keeps, so answers stay bounded.
const (
	// MaxExcerpt is the most bytes kept of an attempt's error, its
	// answer's body and a dead letter's reason.
	MaxExcerpt = 1024
	// MaxAttemptHistory is the most attempts kept per target of an event;
	// the oldest are dropped first.
	MaxAttemptHistory = 100
	// DefaultListLimit is List's page size when ListFilter.Limit is zero.
	DefaultListLimit = 50
	// MaxListLimit is the largest page List returns.
	MaxListLimit = 1000
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
	// the event's DedupUntil is later: at least this long (a backend may
	// round up to its own granularity). Zero means DefaultDedupWindow.
	DedupWindow time.Duration
	// Retention is how long delivered, dead and unrouted events stay
	// inspectable once every target is done with them. Zero means
	// DefaultRetention.
	Retention time.Duration
	// MinFreeSpace is the free disk space, in bytes, below which a backend
	// on this machine's disk refuses new events with ErrLowDisk. Zero
	// disables the check.
	MinFreeSpace int64
}

// WithDefaults fills zero fields with their defaults.
func (p Policy) WithDefaults() Policy {
	if p.DedupWindow <= 0 {
		p.DedupWindow = DefaultDedupWindow
	}
	if p.Retention <= 0 {
		p.Retention = DefaultRetention
	}
	return p
}

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
	// Seq is the event's sequence number in the store (see EventRecord).
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
	// Handle is the backend's own ack handle of this lease; callers pass
	// the Delivery back unchanged and never look inside.
	Handle any
}

// EventRecord is a stored event with the delivery state of each target.
type EventRecord struct {
	Event
	// Seq is the event's sequence number in the store: unique, and
	// higher for an event stored later.
	Seq uint64 `json:"seq"`
	// Status sums up the targets: pending if any is pending, else dead if
	// any is dead, else delivered; unrouted when the event had no target.
	Status Status `json:"status"`
	// Deliveries holds one state per target, in target-name order.
	Deliveries []TargetState `json:"deliveries"`
	// Cursor, set by List, continues a List after this record, for a
	// caller that ends a page early.
	Cursor string `json:"-"`
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
	// lower bound. Like List's order, the bounds may follow the store's
	// order of events instead of each ReceivedAt: an event stored after
	// one received later then counts as received just after that one.
	Since time.Time
	// Until keeps events received before this time; zero means no upper
	// bound. See Since.
	Until time.Time
	// Source keeps events of this source. Empty keeps all.
	Source string
	// Type keeps events of this type. Empty keeps all.
	Type string
	// Limit caps the page size: DefaultListLimit when zero, at most
	// MaxListLimit. With Source or Type set, a page may hold fewer
	// events than Limit and still have a next cursor: a backend without an
	// index for them stops after examining a bounded number of events.
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
	// when nothing is pending. It may follow the store's order of events,
	// as ListFilter.Since does.
	OldestPending time.Time `json:"oldest_pending,omitzero"`
}
