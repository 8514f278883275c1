package adminapi

import (
	"encoding/json"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Stats is the body of GET /webhook_inbox/stats.
type Stats struct {
	Targets map[string]TargetStats `json:"targets"`
	Store   StoreStats             `json:"store"`
	Totals  Totals                 `json:"totals"`
}

// Totals counts what the answering process did since it started (not
// since the store was created, and, with a shared store, not what other
// gateways did): since is its start time, and a client that finds it
// zero is talking to a server without totals.
type Totals struct {
	Since time.Time `json:"since,omitzero"`
	// Received counts the events accepted and stored (answered 2xx);
	// duplicates and refused requests are not counted.
	Received int64 `json:"received"`
	// Delivered, Retried and Dead count delivery attempts by result: the
	// target answered 2xx, the delivery is due again, it became a dead
	// letter.
	Delivered int64 `json:"delivered"`
	Retried   int64 `json:"retried"`
	Dead      int64 `json:"dead"`
}

// TargetStats is one target's line in the stats.
type TargetStats struct {
	Pending              int64     `json:"pending"`
	Dead                 int64     `json:"dead"`
	OldestPendingSeconds float64   `json:"oldest_pending_seconds"`
	OldestPending        time.Time `json:"oldest_pending,omitzero"`
	// Circuit is "closed" or "open"; an orphaned target has no breaker
	// and reports "closed".
	Circuit             string    `json:"circuit"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	NextProbe           time.Time `json:"next_probe,omitzero"`
	// Configured is false for a target with queue entries or dead
	// letters that the running config no longer defines.
	Configured bool `json:"configured"`
	// Orphaned is true for a target that is not configured but still has
	// pending deliveries: they wait until it is configured again (the
	// events list shows them with status=orphaned).
	Orphaned bool `json:"orphaned"`
}

// StoreStats describes the store: its backend and where it keeps its
// data (dir for Badger), and for a backend on this machine's disk its size
// and the free space (-1 when unknown). A backend without a disk of its own
// leaves the sizes out.
type StoreStats struct {
	Backend        string `json:"backend,omitempty"`
	Dir            string `json:"dir,omitempty"`
	Servers        string `json:"servers,omitempty"`
	FreeSpaceBytes *int64 `json:"free_space_bytes,omitempty"`
	SizeBytes      *int64 `json:"size_bytes,omitempty"`
}

// Events is the body of GET /webhook_inbox/events. next_cursor is
// empty on the last page.
type Events struct {
	Events     []EventSummary `json:"events"`
	NextCursor string         `json:"next_cursor"`
}

// EventSummary is one event in a listing.
type EventSummary struct {
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	Type       string          `json:"type"`
	Status     store.Status    `json:"status"`
	ReceivedAt time.Time       `json:"received_at"`
	ClientIP   string          `json:"client_ip,omitempty"`
	Targets    []TargetSummary `json:"targets"`
}

// TargetSummary is one target's delivery state in a listing; attempts
// counts the attempts recorded.
type TargetSummary struct {
	Target   string       `json:"target"`
	Status   store.Status `json:"status"`
	Attempts int          `json:"attempts"`
	Due      time.Time    `json:"due,omitzero"`
	Reason   string       `json:"reason,omitempty"`
}

// Event is the body of GET /webhook_inbox/events/{id}. The body is
// inlined as JSON when it is valid JSON (body_encoding "json"), else it is
// a base64 string (body_encoding "base64").
type Event struct {
	ID           string            `json:"id"`
	Source       string            `json:"source"`
	Type         string            `json:"type"`
	Status       store.Status      `json:"status"`
	ReceivedAt   time.Time         `json:"received_at"`
	ClientIP     string            `json:"client_ip,omitempty"`
	Headers      map[string]string `json:"headers"`
	Body         json.RawMessage   `json:"body"`
	BodyEncoding string            `json:"body_encoding"`
	BodySize     int               `json:"body_size"`
	Targets      []TargetDetail    `json:"targets"`
}

// TargetDetail is one target's full delivery state: attempt_count counts
// the recorded attempts, run_attempts those since the last replay, and
// attempts lists them, oldest first.
type TargetDetail struct {
	Target       string       `json:"target"`
	Status       store.Status `json:"status"`
	Due          time.Time    `json:"due,omitzero"`
	Since        time.Time    `json:"since,omitzero"`
	UpdatedAt    time.Time    `json:"updated_at,omitzero"`
	Reason       string       `json:"reason,omitempty"`
	RunAttempts  int          `json:"run_attempts"`
	AttemptCount int          `json:"attempt_count"`
	Attempts     []Attempt    `json:"attempts"`
}

// Attempt is one delivery attempt: status 0 means no response
// arrived (timeout, connection error); body is an excerpt of the answer.
type Attempt struct {
	At         time.Time `json:"at"`
	DurationMS float64   `json:"duration_ms"`
	Status     int       `json:"status"`
	Error      string    `json:"error,omitempty"`
	Body       string    `json:"body,omitempty"`
}

// Replayed is the body of POST /webhook_inbox/events/{id}/replay.
type Replayed struct {
	Status  string   `json:"status"`
	ID      string   `json:"id"`
	Source  string   `json:"source"`
	Targets []string `json:"targets"`
}

// BulkReplay is the body of POST /webhook_inbox/replay.
type BulkReplay struct {
	// Status selects what to replay; only "dead" (the default) is supported.
	Status string `json:"status"`
	// Target limits the replay to one configured target; empty replays
	// the dead letters of every configured target.
	Target string `json:"target,omitempty"`
	// Filter is a CEL expression over event, headers, source_ip and
	// source, like a route rule; empty matches every dead letter.
	Filter string `json:"filter,omitempty"`
	// DryRun counts the matching dead letters and changes nothing.
	DryRun bool `json:"dry_run"`
	// Rate paces the redelivery in events per second, at least
	// MinReplayRate; 0 means DefaultReplayRate.
	Rate float64 `json:"rate,omitempty"`
}

// BulkReplayed is the body of a bulk replay's answer: matched for a
// dry run; requeued, the rate and how long the queued redeliveries are
// spread over for a real one. filter_errors counts dead letters the
// filter could not evaluate (they do not match), filter_error quotes the
// first such error.
type BulkReplayed struct {
	DryRun        bool     `json:"dry_run"`
	Matched       *int     `json:"matched,omitempty"`
	Requeued      *int     `json:"requeued,omitempty"`
	Rate          float64  `json:"rate,omitempty"`
	SpreadSeconds *float64 `json:"spread_seconds,omitempty"`
	FilterErrors  int      `json:"filter_errors,omitempty"`
	FilterError   string   `json:"filter_error,omitempty"`
}
