package nats

import (
	"context"
	"fmt"
	"math/rand/v2"
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

// settle records an attempt on the entry's current state, as long as it is
// pending (a replay may have moved it, and the attempt still counts):
// conditional on the sequence read, again after a conflict. A state no
// longer pending refuses it (ErrNotPending), a gone one too (ErrNotFound).
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
	defer s.lockEvent(h.key)()
	now := s.clock.Now()
	err := s.retryConflicts(ctx, func(first bool) (uint64, error) {
		st, seq, err := s.stateAt(ctx, h, first)
		if err != nil {
			return 0, err
		}
		if st.Status != store.StatusPending {
			return 0, store.ErrNotPending
		}
		next := st.withAttempt(a, now)
		change(&next)
		return s.writeState(ctx, h.key, d.Target, &next, seq)
	})
	if err != nil {
		return fmt.Errorf("%s %s for %s: %w", verb, d.Event.ID, d.Target, s.classify(ctx, err))
	}
	return nil
}

// stateAt returns the state to settle on and its sequence: the view's,
// once the view has seen the lease's own write. On the first try a view
// that lags behind the lease gets a moment to catch up, and failing that
// the lease's own state is used (the write then fails if anything came
// after it).
func (s *Store) stateAt(ctx context.Context, h *handle, first bool) (stateMsg, uint64, error) {
	if first {
		wctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout/4)
		err := s.v.waitFor(wctx, h.seq)
		cancel()
		if err != nil {
			return h.st, h.seq, nil
		}
	}
	s.v.mu.RLock()
	defer s.v.mu.RUnlock()
	ev := s.v.events[h.key]
	if ev == nil {
		return stateMsg{}, 0, store.ErrNotFound
	}
	cur := ev.states[h.target]
	if cur == nil {
		return stateMsg{}, 0, store.ErrNotFound
	}
	return cur.msg, cur.seq, nil
}

// retryConflicts runs write until it succeeds, fails otherwise than by a
// conflict, or the op timeout passes; after a conflict it catches the
// view up and waits a short random while, so many writers of one subject
// take turns. first is true on the first run. The view has applied a
// successful write when it returns.
func (s *Store) retryConflicts(ctx context.Context, write func(first bool) (uint64, error)) error {
	octx, cancel := s.op(ctx)
	defer cancel()
	for try := 0; ; try++ {
		seq, err := write(try == 0)
		if err == nil {
			s.applied(ctx, seq)
			return nil
		}
		if !wrongSeq(err) {
			return err
		}
		if cerr := s.catchUp(octx); cerr != nil {
			return cerr
		}
		if perr := pause(octx, time.Duration(rand.IntN(min(try+1, 10)*2000+1))*time.Microsecond); perr != nil {
			return fmt.Errorf("%w: still conflicting after %d tries", store.ErrUnavailable, try+1)
		}
	}
}

// catchUpQuietly brings the view up to date when it can.
func (s *Store) catchUpQuietly(ctx context.Context) {
	_ = s.catchUp(ctx)
}
