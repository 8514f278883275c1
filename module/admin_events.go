package module

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/relay"
)

// statusOrphaned lists events with deliveries pending for a target the
// running config no longer defines. It exists only in the admin API: the
// store does not know which targets are configured.
const statusOrphaned = "orphaned"

// Limits of GET /webhook_inbox/events.
const (
	// defaultEventsLimit is the page size when limit is not given.
	defaultEventsLimit = relay.DefaultListLimit
	// filterPageSize is how many events one store read examines when
	// source or type filter the listing further.
	filterPageSize = 200
	// filterScanBudget bounds the events one request examines for the
	// source and type filters. A page that reaches it holds fewer than
	// limit events but has a next_cursor, so a client following cursors
	// still sees everything, and no request scans the whole store.
	filterScanBudget = 10_000
	// maxEventsPageBytes bounds the encoded events of one page. Events
	// carry sender-chosen text (IDs, types; a store written before
	// ingress.MaxEventTypeLength may hold megabytes of it), so a page
	// also ends, with a next_cursor, before its events pass this size;
	// it always holds at least one event, so a client following cursors
	// still sees everything.
	maxEventsPageBytes = 1 << 20
)

// The times since and until may name: the store keeps times as Unix
// nanoseconds in an int64, from late 1677 to early 2262. These are the
// whole seconds inside that range.
var (
	minListTime = time.Unix(math.MinInt64/int64(time.Second), 0).UTC()
	maxListTime = time.Unix(math.MaxInt64/int64(time.Second), 0).UTC()
)

// eventsAnswer is the body of GET /webhook_inbox/events. next_cursor is
// empty on the last page.
type eventsAnswer struct {
	Events     []eventSummary `json:"events"`
	NextCursor string         `json:"next_cursor"`
}

// eventSummary is one event in a listing.
type eventSummary struct {
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	Type       string          `json:"type"`
	Status     relay.Status    `json:"status"`
	ReceivedAt time.Time       `json:"received_at"`
	ClientIP   string          `json:"client_ip,omitempty"`
	Targets    []targetSummary `json:"targets"`
}

// targetSummary is one target's delivery state in a listing; attempts
// counts the attempts recorded.
type targetSummary struct {
	Target   string       `json:"target"`
	Status   relay.Status `json:"status"`
	Attempts int          `json:"attempts"`
	Due      time.Time    `json:"due,omitzero"`
	Reason   string       `json:"reason,omitempty"`
}

// eventDetail is the body of GET /webhook_inbox/events/{id}. The body is
// inlined as JSON when it is valid JSON (body_encoding "json"), else it is
// a base64 string (body_encoding "base64").
type eventDetail struct {
	ID           string            `json:"id"`
	Source       string            `json:"source"`
	Type         string            `json:"type"`
	Status       relay.Status      `json:"status"`
	ReceivedAt   time.Time         `json:"received_at"`
	ClientIP     string            `json:"client_ip,omitempty"`
	Headers      map[string]string `json:"headers"`
	Body         json.RawMessage   `json:"body"`
	BodyEncoding string            `json:"body_encoding"`
	BodySize     int               `json:"body_size"`
	Targets      []targetDetail    `json:"targets"`
}

// targetDetail is one target's full delivery state: attempt_count counts
// the recorded attempts, run_attempts those since the last replay, and
// attempts lists them, oldest first.
type targetDetail struct {
	Target       string        `json:"target"`
	Status       relay.Status  `json:"status"`
	Due          time.Time     `json:"due,omitzero"`
	Since        time.Time     `json:"since,omitzero"`
	UpdatedAt    time.Time     `json:"updated_at,omitzero"`
	Reason       string        `json:"reason,omitempty"`
	RunAttempts  int           `json:"run_attempts"`
	AttemptCount int           `json:"attempt_count"`
	Attempts     []attemptView `json:"attempts"`
}

// attemptView is one delivery attempt: status 0 means no response
// arrived (timeout, connection error); body is an excerpt of the answer.
type attemptView struct {
	At         time.Time `json:"at"`
	DurationMS float64   `json:"duration_ms"`
	Status     int       `json:"status"`
	Error      string    `json:"error,omitempty"`
	Body       string    `json:"body,omitempty"`
}

// replayAnswer is the body of POST /webhook_inbox/events/{id}/replay.
type replayAnswer struct {
	Status  string   `json:"status"`
	ID      string   `json:"id"`
	Targets []string `json:"targets"`
}

// eventsQuery is a parsed GET /webhook_inbox/events query.
type eventsQuery struct {
	filter relay.ListFilter
	status string
	source string
	typ    string
}

// parseEventsQuery reads and checks the query; every error is a 400.
func parseEventsQuery(q url.Values, now time.Time) (eventsQuery, error) {
	var eq eventsQuery
	eq.status = q.Get("status")
	switch eq.status {
	case "", statusOrphaned:
	case string(relay.StatusPending), string(relay.StatusDelivered), string(relay.StatusDead), string(relay.StatusUnrouted):
		eq.filter.Status = relay.Status(eq.status)
	default:
		return eq, fmt.Errorf("status %q: want pending, delivered, dead, unrouted or orphaned", eq.status)
	}
	if t := q.Get("target"); t != "" {
		if err := validateName(t); err != nil {
			return eq, fmt.Errorf("target %w", err)
		}
		eq.filter.Target = t
	}
	eq.source, eq.typ = q.Get("source"), q.Get("type")
	eq.filter.Limit = defaultEventsLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > relay.MaxListLimit {
			return eq, fmt.Errorf("limit %q: want a number from 1 to %d", s, relay.MaxListLimit)
		}
		eq.filter.Limit = n
	}
	eq.filter.Cursor = q.Get("cursor")
	var err error
	if eq.filter.Since, err = parseTimeParam("since", q.Get("since"), now); err != nil {
		return eq, err
	}
	if eq.filter.Until, err = parseTimeParam("until", q.Get("until"), now); err != nil {
		return eq, err
	}
	return eq, nil
}

// parseTimeParam reads since or until: an RFC 3339 time, Unix seconds, or
// a duration meaning that long ago ("90m" is an hour and a half ago).
//
// A time outside minListTime..maxListTime is an error: converted to
// nanoseconds it would overflow, and since=9999-12-31T23:59:59Z listed
// every event.
func parseTimeParam(name, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	var t time.Time
	if parsed, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t = parsed
	} else if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		t = time.Unix(n, 0)
	} else if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		t = now.Add(-d)
	} else {
		return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time, Unix seconds or a duration ago such as 1h", name, s)
	}
	if t.Before(minListTime) || t.After(maxListTime) {
		return time.Time{}, fmt.Errorf("%s %q: out of range: want a time from %s to %s",
			name, s, minListTime.Format(time.RFC3339), maxListTime.Format(time.RFC3339))
	}
	return t, nil
}

func (a *AdminAPI) listEvents(w http.ResponseWriter, r *http.Request, app *App) error {
	eq, err := parseEventsQuery(r.URL.Query(), time.Now())
	if err != nil {
		return apiError(http.StatusBadRequest, err)
	}
	inbox := app.handle.inbox
	if eq.status == statusOrphaned {
		stats, err := inbox.Stats()
		if err != nil {
			return storeError(err)
		}
		orphans := orphanedTargets(app, stats)
		if eq.filter.Target != "" {
			if _, configured := app.Targets[eq.filter.Target]; configured {
				orphans = nil
			} else {
				orphans = []string{eq.filter.Target}
			}
		}
		if len(orphans) == 0 {
			return writeAdminJSON(w, http.StatusOK, eventsAnswer{Events: []eventSummary{}})
		}
		eq.filter.Status, eq.filter.Target, eq.filter.Targets = relay.StatusPending, "", orphans
	}
	recs, next, err := filteredList(inbox, eq)
	if err != nil {
		return storeError(err)
	}
	return writeAdminJSON(w, http.StatusOK, eventsPage(recs, next, maxEventsPageBytes))
}

// eventsPage summarises recs into a page whose events encode to at most
// budget bytes, or to the first event alone when that one is larger. A
// page cut short continues after its last event.
func eventsPage(recs []relay.EventRecord, next string, budget int) eventsAnswer {
	out := eventsAnswer{Events: make([]eventSummary, 0, len(recs)), NextCursor: next}
	size := 64 // the envelope and a cursor
	for i := range recs {
		s := summarize(&recs[i])
		enc, err := json.Marshal(s)
		n := len(enc) + 1 // and the comma
		if err == nil && i > 0 && size+n > budget {
			out.NextCursor = relay.Cursor(recs[i-1].Seq)
			break
		}
		size += n
		out.Events = append(out.Events, s)
	}
	return out
}

// filteredList lists a page, applying the source and type filters, which
// the store has no index for, while it streams: it reads pages until
// limit events match or filterScanBudget events were examined, and
// answers the cursor after the last event it looked at.
func filteredList(inbox *relay.Inbox, eq eventsQuery) ([]relay.EventRecord, string, error) {
	if eq.source == "" && eq.typ == "" {
		return inbox.List(eq.filter)
	}
	limit := eq.filter.Limit
	f := eq.filter
	f.Limit = filterPageSize
	var out []relay.EventRecord
	scanned := 0
	for {
		page, next, err := inbox.List(f)
		if err != nil {
			return nil, "", err
		}
		for i := range page {
			rec := &page[i]
			scanned++
			if (eq.source == "" || rec.Source == eq.source) && (eq.typ == "" || rec.Type == eq.typ) {
				out = append(out, *rec)
			}
			if len(out) == limit || scanned >= filterScanBudget {
				if i == len(page)-1 && next == "" {
					return out, "", nil
				}
				return out, relay.Cursor(rec.Seq), nil
			}
		}
		if next == "" {
			return out, "", nil
		}
		f.Cursor = next
	}
}

func summarize(rec *relay.EventRecord) eventSummary {
	s := eventSummary{
		ID:         rec.ID,
		Source:     rec.Source,
		Type:       rec.Type,
		Status:     rec.Status,
		ReceivedAt: rec.ReceivedAt,
		ClientIP:   rec.ClientIP,
		Targets:    make([]targetSummary, 0, len(rec.Deliveries)),
	}
	for _, d := range rec.Deliveries {
		s.Targets = append(s.Targets, targetSummary{
			Target:   d.Target,
			Status:   d.Status,
			Attempts: len(d.Attempts),
			Due:      d.Due,
			Reason:   d.Reason,
		})
	}
	return s
}

func (a *AdminAPI) getEvent(w http.ResponseWriter, _ *http.Request, app *App, id string) error {
	rec, err := app.handle.inbox.Get(id)
	if err != nil {
		return storeError(err)
	}
	out := eventDetail{
		ID:         rec.ID,
		Source:     rec.Source,
		Type:       rec.Type,
		Status:     rec.Status,
		ReceivedAt: rec.ReceivedAt,
		ClientIP:   rec.ClientIP,
		Headers:    rec.Headers,
		BodySize:   len(rec.Body),
		Targets:    make([]targetDetail, 0, len(rec.Deliveries)),
	}
	if out.Headers == nil {
		out.Headers = map[string]string{}
	}
	out.Body, out.BodyEncoding = bodyJSON(rec.Body)
	for _, d := range rec.Deliveries {
		td := targetDetail{
			Target:       d.Target,
			Status:       d.Status,
			Due:          d.Due,
			Since:        d.Since,
			UpdatedAt:    d.UpdatedAt,
			Reason:       d.Reason,
			RunAttempts:  d.RunAttempts,
			AttemptCount: len(d.Attempts),
			Attempts:     make([]attemptView, 0, len(d.Attempts)),
		}
		for _, at := range d.Attempts {
			td.Attempts = append(td.Attempts, attemptView{
				At:         at.At,
				DurationMS: float64(at.Duration) / float64(time.Millisecond),
				Status:     at.Status,
				Error:      at.Error,
				Body:       at.Body,
			})
		}
		out.Targets = append(out.Targets, td)
	}
	return writeAdminJSON(w, http.StatusOK, out)
}

// bodyJSON inlines a body that is JSON and base64-encodes anything else.
func bodyJSON(body []byte) (json.RawMessage, string) {
	if len(body) > 0 && json.Valid(body) {
		return json.RawMessage(body), "json"
	}
	enc, _ := json.Marshal(base64.StdEncoding.EncodeToString(body))
	return enc, "base64"
}

func (a *AdminAPI) replayEvent(w http.ResponseWriter, r *http.Request, app *App, id string) error {
	target := r.URL.Query().Get("target")
	if target != "" {
		if err := validateName(target); err != nil {
			return apiError(http.StatusBadRequest, fmt.Errorf("target %w", err))
		}
	}
	inbox := app.handle.inbox
	rec, err := inbox.Get(id)
	if err != nil {
		return storeError(err)
	}
	// A target the config no longer defines may still be one the event
	// was routed to (an orphaned target): replaying to it alone is what
	// replaying to all its targets already does for it.
	if _, configured := app.Targets[target]; target != "" && !configured && !routedTo(rec, target) {
		return apiError(http.StatusBadRequest, fmt.Errorf("target %q is not configured", target))
	}
	if len(rec.Deliveries) == 0 {
		return apiError(http.StatusConflict, fmt.Errorf("event %s is unrouted: it has no target to replay to", id))
	}
	if err := inbox.Requeue(id, target); err != nil {
		if errors.Is(err, relay.ErrNotFound) && target != "" {
			return apiError(http.StatusNotFound, fmt.Errorf("event %s was not routed to target %s", id, target))
		}
		return storeError(err)
	}
	out := replayAnswer{Status: "requeued", ID: id, Targets: []string{target}}
	if target == "" {
		out.Targets = make([]string, 0, len(rec.Deliveries))
		for _, d := range rec.Deliveries {
			out.Targets = append(out.Targets, d.Target)
		}
	}
	a.logger.Info("event replayed", zap.String("event_id", id), zap.Strings("targets", out.Targets))
	return writeAdminJSON(w, http.StatusAccepted, out)
}

// routedTo reports whether rec has a delivery to target.
func routedTo(rec *relay.EventRecord, target string) bool {
	return slices.ContainsFunc(rec.Deliveries, func(d relay.TargetState) bool { return d.Target == target })
}

func (a *AdminAPI) deleteEvent(w http.ResponseWriter, _ *http.Request, app *App, id string) error {
	if err := app.handle.inbox.Delete(id); err != nil {
		return storeError(err)
	}
	a.logger.Info("event purged", zap.String("event_id", id))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
