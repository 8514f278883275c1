package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Ack records a successful attempt; see store.Queue.
func (s *Store) Ack(ctx context.Context, d store.Delivery, a store.Attempt) error {
	return s.settle(ctx, "acknowledging", d, a, func(st *stateMsg) {
		st.Status, st.Due = store.StatusDelivered, time.Time{}
	})
}

// Retry records a failed attempt and makes the entry due at next; see
// store.Queue.
func (s *Store) Retry(ctx context.Context, d store.Delivery, a store.Attempt, next time.Time) error {
	return s.settle(ctx, "retrying", d, a, func(st *stateMsg) {
		st.Status, st.Due = store.StatusPending, next
	})
}

// Dead records the last attempt and makes the delivery a dead letter; see
// store.Queue.
func (s *Store) Dead(ctx context.Context, d store.Delivery, a store.Attempt, reason string) error {
	return s.settle(ctx, "dead-lettering", d, a, func(st *stateMsg) {
		st.Status, st.Due, st.Reason = store.StatusDead, time.Time{}, store.Excerpt(reason)
	})
}

// settle writes the state after an attempt, conditional on the sequence
// the lease wrote: if anything wrote the state since (a replay, a delete,
// a takeover), the result is refused.
func (s *Store) settle(ctx context.Context, verb string, d store.Delivery, a store.Attempt, change func(*stateMsg)) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	h, ok := d.Handle.(*handle)
	if !ok {
		return fmt.Errorf("%s %s for %s: %w", verb, d.Event.ID, d.Target, store.ErrNotPending)
	}
	// Settled, refused or failed, the lease is over for this store; one
	// whose write failed is an orphan, released once the cluster is back.
	defer s.disown(h.key, d.Target)
	if _, err := s.current(h.key, d.Target, h.seq); errors.Is(err, store.ErrNotFound) ||
		(errors.Is(err, store.ErrNotPending) && s.wroteSince(h.key, d.Target, h.seq)) {
		return fmt.Errorf("%s %s for %s: %w", verb, d.Event.ID, d.Target, err)
	}
	next := h.st.withAttempt(a, s.clock.Now())
	change(&next)
	seq, err := s.writeState(ctx, h.key, d.Target, &next, h.seq)
	if wrongSeq(err) {
		s.catchUpQuietly(ctx)
		if _, cerr := s.current(h.key, d.Target, 0); cerr != nil {
			err = cerr
		} else {
			err = store.ErrNotPending
		}
	}
	if err != nil {
		return fmt.Errorf("%s %s for %s: %w", verb, d.Event.ID, d.Target, s.classify(ctx, err))
	}
	s.applied(ctx, seq)
	return nil
}

// wroteSince reports whether the view has a write of (key, target) after
// seq; a view that has not yet seen seq itself says nothing.
func (s *Store) wroteSince(key, target string, seq uint64) bool {
	s.v.mu.RLock()
	defer s.v.mu.RUnlock()
	ev := s.v.events[key]
	return ev != nil && ev.states[target] != nil && ev.states[target].seq > seq
}

// current returns the view's state of (key, target): ErrNotFound when the
// event or state is gone, ErrNotPending when seq is not zero and the state
// was written since.
func (s *Store) current(key, target string, seq uint64) (stateMsg, error) {
	s.v.mu.RLock()
	defer s.v.mu.RUnlock()
	ev := s.v.events[key]
	if ev == nil {
		return stateMsg{}, store.ErrNotFound
	}
	st := ev.states[target]
	if st == nil {
		return stateMsg{}, store.ErrNotFound
	}
	if seq != 0 && (st.seq != seq || st.msg.Status != store.StatusPending) {
		return stateMsg{}, store.ErrNotPending
	}
	return st.msg, nil
}

// catchUpQuietly brings the view up to date when it can.
func (s *Store) catchUpQuietly(ctx context.Context) {
	_ = s.catchUp(ctx)
}
