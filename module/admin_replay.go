package module

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
	"github.com/webhookinbox/caddy-webhook-inbox/ingress"
	"github.com/webhookinbox/caddy-webhook-inbox/rules"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Settings of POST /webhook_inbox/replay.
const (
	// DefaultReplayRate is the pace, in events per second, of a bulk
	// replay that does not give a rate.
	DefaultReplayRate = 100
	// MinReplayRate is the slowest pace a bulk replay accepts: one event
	// every 100 seconds.
	MinReplayRate = 0.01
	// maxReplayRequest bounds the request body.
	maxReplayRequest = 64 << 10
)

// replayDead re-queues dead letters in bulk.
//
// Pacing is stored, not slept: the n-th re-queued dead letter is due
// n/rate seconds after the request, so the call returns with the count as
// soon as everything is queued, the dispatcher delivers them as they come
// due (its one-second poll makes that a burst of about rate events each
// second at most), and the pacing survives a restart. Two bulk replays running at once each keep their
// own pace, so the target sees the sum.
func (a *AdminAPI) replayDead(w http.ResponseWriter, r *http.Request, app *App) error {
	req, err := decodeReplayRequest(r.Body)
	if err != nil {
		return apiError(http.StatusBadRequest, err)
	}
	targets := []string{req.Target}
	if req.Target == "" {
		targets = app.targetNames()
	} else if _, ok := app.Targets[req.Target]; !ok {
		return apiError(http.StatusBadRequest, fmt.Errorf("target %q is not configured", req.Target))
	}
	filter := replayFilter{}
	if req.Filter != "" {
		rule, err := rules.CompileRule(req.Filter)
		if err != nil {
			return apiError(http.StatusBadRequest, fmt.Errorf("filter: %w", err))
		}
		filter.rule = rule
	}

	st := app.handle.store
	var out adminapi.BulkReplayed
	if req.DryRun {
		total := 0
		for _, t := range targets {
			n, err := st.ReplayDead(r.Context(), t, filter.match(), store.ReplayOptions{DryRun: true})
			total += n
			if err != nil {
				return storeError(err)
			}
		}
		out = adminapi.BulkReplayed{DryRun: true, Matched: &total}
	} else {
		interval := time.Duration(float64(time.Second) / req.Rate)
		total := 0
		for _, t := range targets {
			// One pace across targets: each continues where the last ended.
			n, err := st.ReplayDead(r.Context(), t, filter.match(), store.ReplayOptions{Interval: interval, Offset: total})
			total += n
			if err != nil {
				a.logger.Error("bulk replay failed part-way", zap.Int("requeued", total), zap.Error(err))
				return storeError(err)
			}
		}
		spread := (time.Duration(total) * interval).Seconds()
		out = adminapi.BulkReplayed{Requeued: &total, Rate: req.Rate, SpreadSeconds: &spread}
		a.logger.Info("dead letters replayed", zap.Strings("targets", targets),
			zap.Int("requeued", total), zap.Float64("rate", req.Rate), zap.Bool("filtered", req.Filter != ""))
	}
	out.FilterErrors, out.FilterError = filter.errors, filter.firstErr
	return writeAdminJSON(w, http.StatusOK, out)
}

// decodeReplayRequest reads and checks the body; unknown fields are
// refused so a misspelt "dry_run" cannot turn a dry run into a replay.
func decodeReplayRequest(body io.Reader) (adminapi.BulkReplay, error) {
	var req adminapi.BulkReplay
	dec := json.NewDecoder(io.LimitReader(body, maxReplayRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if errors.Is(err, io.EOF) {
			return req, errors.New("request body is empty; want a JSON object")
		}
		return req, fmt.Errorf("decoding request body: %w", err)
	}
	switch req.Status {
	case "":
		req.Status = string(store.StatusDead)
	case string(store.StatusDead):
	default:
		return req, fmt.Errorf("status %q: only dead letters can be replayed in bulk", req.Status)
	}
	if req.Target != "" {
		if err := validateName(req.Target); err != nil {
			return req, fmt.Errorf("target %w", err)
		}
	}
	switch {
	case req.Rate == 0:
		req.Rate = DefaultReplayRate
	case req.Rate < MinReplayRate || math.IsNaN(req.Rate) || math.IsInf(req.Rate, 0):
		return req, fmt.Errorf("rate %v: want events per second, at least %v", req.Rate, MinReplayRate)
	}
	return req, nil
}

// replayFilter evaluates a bulk replay's CEL filter on stored events. An
// event the rule cannot evaluate (a missing field, a body that is not an
// object) does not match; the errors are counted and the first reported.
type replayFilter struct {
	rule     *rules.Rule
	errors   int
	firstErr string
}

// match returns the predicate for relay.ReplayDead, or nil (every dead
// letter) without a rule, which spares the store loading bodies.
func (f *replayFilter) match() func(*store.EventRecord) bool {
	if f.rule == nil {
		return nil
	}
	return func(rec *store.EventRecord) bool {
		// ParseObject: a body "timestamp" is UniCraft's field, any shape
		// in another sender's event.
		obj, err := ingress.ParseObject(rec.Body, 0)
		if err != nil {
			f.fail(err)
			return false
		}
		ok, err := f.rule.Match(&rules.Vars{Event: obj, Headers: rec.Headers, SourceIP: rec.ClientIP, Source: rec.Source, Type: rec.Type, ID: rec.ID})
		if err != nil {
			f.fail(err)
			return false
		}
		return ok
	}
}

func (f *replayFilter) fail(err error) {
	f.errors++
	if f.firstErr == "" {
		// CEL errors quote values of the event at most, never secrets.
		f.firstErr = strings.TrimSpace(err.Error())
	}
}

// targetNames returns the configured target names in order.
func (a *App) targetNames() []string {
	names := make([]string, 0, len(a.Targets))
	for name := range a.Targets {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
