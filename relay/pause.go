package relay

import (
	"context"
	"errors"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
)

// TargetStatus is what Dispatcher.Statuses reports of a target besides its
// circuit: whether an operator paused it and whether its rate limit is
// holding attempts back.
type TargetStatus struct {
	// Paused is true while the target is paused (store.Pauses): nothing is
	// attempted, probes included, and its queue grows.
	Paused bool `json:"paused"`
	// RateLimited is true while an attempt waits for the target's
	// rate_limit.
	RateLimited bool `json:"rate_limited"`
	// HeldBackUntil is when the last attempt waiting for the rate limit
	// may start; zero unless RateLimited.
	HeldBackUntil time.Time `json:"held_back_until,omitzero"`
}

// Statuses returns the pause and pacing state of every configured target.
func (d *Dispatcher) Statuses() map[string]TargetStatus {
	now := d.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]TargetStatus, len(d.runners))
	for name, r := range d.runners {
		st := TargetStatus{Paused: r.paused.Load()}
		st.HeldBackUntil, st.RateLimited = r.pacer.heldBackUntil(now)
		out[name] = st
	}
	return out
}

// SetPaused pauses or resumes target: stored through store.Pauses, so it
// lasts across restarts and reloads and, in a shared store, holds for
// every gateway (each re-reads the pauses on its poll), and applied to
// this dispatcher at once. A target that is not configured is paused in
// the store all the same and stays paused when it comes.
func (d *Dispatcher) SetPaused(ctx context.Context, target string, paused bool) error {
	if err := d.st.SetPaused(ctx, target, paused); err != nil {
		return err
	}
	d.mu.Lock()
	r := d.runners[target]
	d.mu.Unlock()
	if r != nil {
		r.setPaused(paused)
	}
	return nil
}

// setPaused applies a pause state read or written by this process.
func (r *runner) setPaused(paused bool) {
	if r.paused.Swap(paused) == paused {
		return
	}
	if paused {
		r.d.log.Info("delivery target paused", zap.String("target", r.name))
		return
	}
	r.d.log.Info("delivery target resumed", zap.String("target", r.name))
	r.poke()
}

// checkPause re-reads the target's pause state from the store once per
// poll interval, since another gateway sharing the store may have
// changed it. The first call, before the first Lease, always reads. A
// store error keeps the state last known.
func (r *runner) checkPause(now time.Time) {
	r.mu.Lock()
	due := r.pauseReadAt.IsZero() || !now.Before(r.pauseReadAt.Add(r.d.poll))
	if due {
		r.pauseReadAt = now
	}
	r.mu.Unlock()
	if !due {
		return
	}
	paused, err := r.d.st.Paused(context.Background())
	if err != nil {
		lvl := zap.WarnLevel
		if errors.Is(err, store.ErrClosed) {
			lvl = zap.DebugLevel
		}
		r.d.log.Log(lvl, "reading paused targets failed", zap.String("target", r.name), zap.Error(err))
		return
	}
	r.setPaused(paused[r.name])
}

// await holds a leased job until the target's rate limit lets it start,
// and reports whether it may: not when the target is paused (before or
// after the wait) or the worker is told to stop meanwhile. The booking
// goes with the attempt (paceTrace).
func (r *runner) await(stop <-chan struct{}) (booking, bool) {
	if r.paused.Load() {
		return booking{}, false
	}
	clock := r.d.clock
	now := clock.Now()
	at, slot := r.pacer.reserve(now)
	b := booking{slot: slot, at: at}
	if at.After(now) {
		t := clock.NewTimer(at.Sub(now))
		select {
		case <-t.C():
		case <-stop:
			t.Stop()
			return b, false
		case <-r.quit:
			t.Stop()
			return b, false
		}
	}
	return b, !r.paused.Load()
}
