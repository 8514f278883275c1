package relay

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// maxReasonBody is how much of a refusing target's answer a dead letter's
// reason quotes; the attempt keeps a longer excerpt.
const maxReasonBody = 200

// outcome is a finished attempt on its way to the store.
type outcome struct {
	j   job
	s   *settings
	n   int // attempt number in the run
	res response
	a   store.Attempt
	v   verdict
	end time.Time
}

// handle makes one attempt of a job and hands its outcome to the worker's
// settler, so the next attempt overlaps this one's synced write: with a
// fast local target the group commit, not the HTTP round trip, would
// otherwise bound each worker. A panic is logged with its stack and the
// delivery retried later; the worker goes on.
func (r *runner) handle(j job, st *settler) {
	s := r.settings()
	handedOff := false
	defer func() {
		if p := recover(); p != nil {
			r.d.log.Error("panic in delivery worker",
				zap.String("target", r.name), zap.String("event_id", j.d.Event.ID),
				zap.Any("panic", p), zap.Stack("stack"))
			if !handedOff {
				r.retryAfterPanic(j, s)
			}
		}
	}()
	if !j.probe && r.circuit.isOpen() {
		// Leased before the circuit opened: give it back untried.
		handedOff = true
		r.releaseJob(j)
		return
	}
	if hook := r.d.beforeAttempt; hook != nil {
		hook(j.d)
	}

	clock := r.d.clock
	o := &outcome{j: j, s: s, n: j.d.Attempts + 1}
	at := clock.Now()
	o.res = s.send(r.paceTrace(j), &j.d, o.n, at)
	o.end = clock.Now()
	if cur := r.settings(); cur.transport != s.transport {
		// A reload replaced the pool while this attempt ran.
		s.transport.CloseIdleConnections()
	}
	o.a = store.Attempt{At: at, Duration: o.res.duration, Status: o.res.status, Body: o.res.body}
	if o.res.err != nil {
		o.a.Error = o.res.err.Error()
	}
	o.v = classify(o.res.status, o.res.err)
	// The breaker learns at once, before the settle, so the other workers
	// hold back as early as possible.
	if changed, open := r.circuit.record(o.v, j.probe, o.end, s); changed {
		r.circuitChanged(open)
	} else if j.probe {
		r.poke()
	}

	handedOff = true
	st.run(func() { r.settle(o) })
}

// settle records an attempt's outcome: Ack, Dead, or Retry with its
// backoff (Dead instead once attempts or age run out). A panic before the
// store has the outcome is logged and the delivery retried later.
func (r *runner) settle(o *outcome) {
	j, s, res := o.j, o.s, &o.res
	stored := false
	defer func() {
		if p := recover(); p != nil {
			r.d.log.Error("panic while settling delivery",
				zap.String("target", r.name), zap.String("event_id", j.d.Event.ID),
				zap.Any("panic", p), zap.Stack("stack"))
			if !stored {
				r.retryAfterPanic(j, s)
			}
		}
	}()
	var (
		result = ResultRetry
		reason string
		why    string // the reason as logged: never quoting the target's answer
		next   time.Time
		err    error
	)
	switch o.v {
	case verdictDelivered:
		result = ResultSuccess
		stored = true
		err = r.d.st.Ack(context.Background(), j.d, o.a)
	case verdictPermanent:
		result, reason, why = ResultDead, permanentReason(res), "permanent failure"
		stored = true
		err = r.d.st.Dead(context.Background(), j.d, o.a, reason)
	case verdictUnsendable:
		// Our own error, quoting nothing the target said: fit to log.
		result, reason = ResultDead, "event cannot be sent: "+res.summary()
		why = reason
		stored = true
		err = r.d.st.Dead(context.Background(), j.d, o.a, reason)
	default:
		next = o.end.Add(r.retryDelay(s, o.n, res, o.end))
		switch {
		case o.n >= s.MaxAttempts:
			result, reason = ResultDead, fmt.Sprintf("max attempts (%d) reached; last: %s", o.n, res.summary())
			why = reason
			stored = true
			err = r.d.st.Dead(context.Background(), j.d, o.a, reason)
		case next.After(j.d.Since.Add(s.MaxAge)):
			result, reason = ResultDead, fmt.Sprintf("max age (%s) reached; last: %s", s.MaxAge, res.summary())
			why = reason
			stored = true
			err = r.d.st.Dead(context.Background(), j.d, o.a, reason)
		default:
			stored = true
			err = r.d.st.Retry(context.Background(), j.d, o.a, next)
			if err == nil {
				r.noteDue(next)
			}
		}
	}
	r.d.obs.OnAttempt(r.name, result, res.status, res.duration)
	r.logAttempt(&j.d, o.n, res, result, why, next)
	r.settleFailed(&j.d, err, o.end)
}

// retryDelay is the backoff after attempt n, unless the target asked for
// a delay with Retry-After; either is capped at BackoffCap, so a target
// cannot park deliveries for longer than the operator allows. A
// Retry-After is also floored at BackoffFirst: "0" or a date in the past
// would otherwise spend every attempt of the run within milliseconds.
func (r *runner) retryDelay(s *settings, n int, res *response, now time.Time) time.Duration {
	if res.retryAfter != "" {
		if d, ok := parseRetryAfter(res.retryAfter, now); ok {
			return min(max(d, s.BackoffFirst), s.BackoffCap)
		}
	}
	return backoffDelay(n, s.BackoffFirst, s.BackoffCap, r.d.jitter())
}

func permanentReason(res *response) string {
	// One line: reasons show up in tables and log viewers.
	if res.err != nil {
		return "permanent failure: " + res.err.Error()
	}
	body := store.Truncate(strings.Join(strings.Fields(res.body), " "), maxReasonBody)
	reason := "permanent failure: status " + strconv.Itoa(res.status)
	if res.status >= 300 && res.status < 400 {
		reason += " (redirects are not followed)"
	}
	if body != "" {
		reason += ": " + body
	}
	return reason
}

// settleFailed handles a store error from Ack, Retry or Dead. The store
// has released the lease either way, so the entry is leasable again at its
// old due time.
func (r *runner) settleFailed(d *store.Delivery, err error, now time.Time) {
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotPending), errors.Is(err, store.ErrNotFound):
		// Settled meanwhile by a replay or expired; this result is moot.
		r.d.log.Debug("dropped attempt result", zap.String("target", r.name),
			zap.String("event_id", d.Event.ID), zap.Error(err))
	default:
		r.d.log.Error("recording attempt failed", zap.String("target", r.name),
			zap.String("event_id", d.Event.ID), zap.Error(err))
		// Without the pause the entry, still due, would be attempted
		// again at once, over and over.
		r.pause(now.Add(r.d.poll))
	}
}

// retryAfterPanic queues a delivery whose attempt panicked as a failed
// attempt, due after the usual backoff.
func (r *runner) retryAfterPanic(j job, s *settings) {
	defer func() {
		if p := recover(); p != nil {
			r.d.log.Error("panic while rescheduling delivery", zap.String("target", r.name),
				zap.Any("panic", p), zap.Stack("stack"))
			r.d.st.Release(j.d)
		}
	}()
	if j.probe {
		r.circuit.abandonProbe()
		r.poke()
	}
	now := r.d.clock.Now()
	next := now.Add(backoffDelay(j.d.Attempts+1, s.BackoffFirst, s.BackoffCap, r.d.jitter()))
	a := store.Attempt{At: now, Error: "internal error in delivery worker"}
	if err := r.d.st.Retry(context.Background(), j.d, a, next); err != nil {
		r.settleFailed(&j.d, err, now)
		return
	}
	r.noteDue(next)
}

func (r *runner) circuitChanged(open bool) {
	r.d.obs.OnCircuit(r.name, open)
	if open {
		st := r.circuit.state()
		r.d.log.Warn("circuit open: pausing deliveries to target",
			zap.String("target", r.name),
			zap.Int("consecutive_failures", st.ConsecutiveFailures),
			zap.Time("next_probe", st.NextProbe))
	} else {
		r.d.log.Info("circuit closed: target recovered", zap.String("target", r.name))
	}
	r.poke()
}

// logAttempt writes the one line per attempt outcome. It never logs the
// body, the secret or the signature.
func (r *runner) logAttempt(d *store.Delivery, n int, res *response, result, reason string, next time.Time) {
	lvl, msg := zapcore.DebugLevel, "delivered"
	switch result {
	case ResultRetry:
		lvl, msg = zapcore.InfoLevel, "delivery failed; will retry"
	case ResultDead:
		lvl, msg = zapcore.WarnLevel, "delivery failed; dead-lettered"
	}
	ce := r.d.log.Check(lvl, msg)
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 9)
	fields = append(fields,
		zap.String("event_id", d.Event.ID),
		zap.String("source", d.Event.Source),
		zap.String("target", r.name),
		zap.Int("status", res.status),
		zap.Int("attempt", n),
		zap.Duration("latency", res.duration),
	)
	if res.err != nil {
		fields = append(fields, zap.String("error", res.err.Error()))
	}
	if reason != "" {
		fields = append(fields, zap.String("reason", reason))
	}
	if !next.IsZero() && result == ResultRetry {
		fields = append(fields, zap.Time("next_attempt", next))
	}
	ce.Write(fields...)
}
