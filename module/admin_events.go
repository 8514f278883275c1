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

	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Limits of GET /webhook_inbox/events.
const (
	// defaultEventsLimit is the page size when limit is not given. With
	// source or type given, a page may hold fewer events and still have a
	// next_cursor (see store.ListFilter.Limit): a client following cursors
	// sees everything.
	defaultEventsLimit = store.DefaultListLimit
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

// eventsQuery is a parsed GET /webhook_inbox/events query.
type eventsQuery struct {
	filter store.ListFilter
	status string
}

// parseEventsQuery reads and checks the query; every error is a 400.
func parseEventsQuery(q url.Values, now time.Time) (eventsQuery, error) {
	var eq eventsQuery
	eq.status = q.Get("status")
	switch eq.status {
	case "", adminapi.StatusOrphaned:
	case string(store.StatusPending), string(store.StatusDelivered), string(store.StatusDead), string(store.StatusUnrouted):
		eq.filter.Status = store.Status(eq.status)
	default:
		return eq, fmt.Errorf("status %q: want pending, delivered, dead, unrouted or orphaned", eq.status)
	}
	if t := q.Get("target"); t != "" {
		if err := validateName(t); err != nil {
			return eq, fmt.Errorf("target %w", err)
		}
		eq.filter.Target = t
	}
	eq.filter.Source, eq.filter.Type = q.Get("source"), q.Get("type")
	eq.filter.Limit = defaultEventsLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxListLimit {
			return eq, fmt.Errorf("limit %q: want a number from 1 to %d", s, store.MaxListLimit)
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
	st := app.handle.store
	if eq.status == adminapi.StatusOrphaned {
		stats, err := st.Stats(r.Context())
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
			return writeAdminJSON(w, http.StatusOK, adminapi.Events{Events: []adminapi.EventSummary{}})
		}
		eq.filter.Status, eq.filter.Target, eq.filter.Targets = store.StatusPending, "", orphans
	}
	recs, next, err := st.List(r.Context(), eq.filter)
	if err != nil {
		return storeError(err)
	}
	return writeAdminJSON(w, http.StatusOK, eventsPage(recs, next, maxEventsPageBytes))
}

// eventsPage summarises recs into a page whose events encode to at most
// budget bytes, or to the first event alone when that one is larger. A
// page cut short continues after its last event.
func eventsPage(recs []store.EventRecord, next string, budget int) adminapi.Events {
	out := adminapi.Events{Events: make([]adminapi.EventSummary, 0, len(recs)), NextCursor: next}
	size := 64 // the envelope and a cursor
	for i := range recs {
		s := summarize(&recs[i])
		enc, err := json.Marshal(s)
		n := len(enc) + 1 // and the comma
		if err == nil && i > 0 && size+n > budget {
			out.NextCursor = recs[i-1].Cursor
			break
		}
		size += n
		out.Events = append(out.Events, s)
	}
	return out
}

func summarize(rec *store.EventRecord) adminapi.EventSummary {
	s := adminapi.EventSummary{
		ID:         rec.ID,
		Source:     rec.Source,
		Type:       rec.Type,
		Status:     rec.Status,
		ReceivedAt: rec.ReceivedAt,
		ClientIP:   rec.ClientIP,
		Targets:    make([]adminapi.TargetSummary, 0, len(rec.Deliveries)),
	}
	for _, d := range rec.Deliveries {
		s.Targets = append(s.Targets, adminapi.TargetSummary{
			Target:   d.Target,
			Status:   d.Status,
			Attempts: len(d.Attempts),
			Due:      d.Due,
			Reason:   d.Reason,
		})
	}
	return s
}

func (a *AdminAPI) getEvent(w http.ResponseWriter, r *http.Request, app *App, id string) error {
	rec, err := app.handle.store.Get(r.Context(), r.URL.Query().Get("source"), id)
	if err != nil {
		return storeError(err)
	}
	out := adminapi.Event{
		ID:         rec.ID,
		Source:     rec.Source,
		Type:       rec.Type,
		Status:     rec.Status,
		ReceivedAt: rec.ReceivedAt,
		ClientIP:   rec.ClientIP,
		Headers:    rec.Headers,
		BodySize:   len(rec.Body),
		Targets:    make([]adminapi.TargetDetail, 0, len(rec.Deliveries)),
	}
	if out.Headers == nil {
		out.Headers = map[string]string{}
	}
	out.Body, out.BodyEncoding = bodyJSON(rec.Body)
	for _, d := range rec.Deliveries {
		td := adminapi.TargetDetail{
			Target:       d.Target,
			Status:       d.Status,
			Due:          d.Due,
			Since:        d.Since,
			UpdatedAt:    d.UpdatedAt,
			Reason:       d.Reason,
			RunAttempts:  d.RunAttempts,
			AttemptCount: len(d.Attempts),
			Attempts:     make([]adminapi.Attempt, 0, len(d.Attempts)),
		}
		for _, at := range d.Attempts {
			td.Attempts = append(td.Attempts, adminapi.Attempt{
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
	st := app.handle.store
	// Resolved once, so the replay acts on exactly the event read here.
	rec, err := st.Get(r.Context(), r.URL.Query().Get("source"), id)
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
	if err := st.Requeue(r.Context(), rec.Source, id, target); err != nil {
		if errors.Is(err, store.ErrNotFound) && target != "" {
			return apiError(http.StatusNotFound, fmt.Errorf("event %s was not routed to target %s", id, target))
		}
		return storeError(err)
	}
	out := adminapi.Replayed{Status: "requeued", ID: id, Source: rec.Source, Targets: []string{target}}
	if target == "" {
		out.Targets = make([]string, 0, len(rec.Deliveries))
		for _, d := range rec.Deliveries {
			out.Targets = append(out.Targets, d.Target)
		}
	}
	a.logger.Info("event replayed", zap.String("source", rec.Source), zap.String("event_id", id), zap.Strings("targets", out.Targets))
	return writeAdminJSON(w, http.StatusAccepted, out)
}

// routedTo reports whether rec has a delivery to target.
func routedTo(rec *store.EventRecord, target string) bool {
	return slices.ContainsFunc(rec.Deliveries, func(d store.TargetState) bool { return d.Target == target })
}

func (a *AdminAPI) deleteEvent(w http.ResponseWriter, r *http.Request, app *App, id string) error {
	source := r.URL.Query().Get("source")
	if err := app.handle.store.Delete(r.Context(), source, id); err != nil {
		return storeError(err)
	}
	a.logger.Info("event purged", zap.String("source", source), zap.String("event_id", id))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
