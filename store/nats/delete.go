package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Delete purges the newest event (source, id) and its dedup marker; see
// store.Catalog.
func (s *Store) Delete(ctx context.Context, source, id string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	for try := 1; ; try++ {
		if err := s.catchUp(ctx); err != nil {
			return fmt.Errorf("deleting event %s: %w", id, s.classify(ctx, err))
		}
		s.v.mu.RLock()
		ev, err := s.v.find(source, id)
		var msgs []*nats.Msg
		var key, marker string
		if err == nil {
			key, marker = ev.key, s.subj.dedup(ev.meta.Source, ev.meta.ID)
			msgs = s.tombstones(ev)
		}
		s.v.mu.RUnlock()
		if err != nil {
			return fmt.Errorf("deleting event %s: %w", id, err)
		}
		ack, err := s.publishBatch(ctx, msgs)
		if wrongSeq(err) && try < casTries {
			continue
		}
		if err != nil {
			return fmt.Errorf("deleting event %s: %w", id, s.classify(ctx, err))
		}
		if err := s.dropMarker(ctx, marker, key); err != nil {
			return fmt.Errorf("deleting event %s's dedup marker: %w", id, s.classify(ctx, err))
		}
		s.applied(ctx, ack.Sequence)
		return nil
	}
}

// tombstones are the messages that delete ev: one per state, then the
// record, each conditional on the sequence the view last saw, so a
// delete never hides a write it did not see. The caller holds v.mu.
func (s *Store) tombstones(ev *vEvent) []*nats.Msg {
	tomb := func(subject string, seq uint64) *nats.Msg {
		return &nats.Msg{Subject: subject, Header: nats.Header{
			hdrOp:                               []string{opDel},
			jetstream.ExpectedLastSubjSeqHeader: []string{strconv.FormatUint(seq, 10)},
			jetstream.MsgTTLHeader:              []string{tombstoneTTL.String()},
		}}
	}
	msgs := make([]*nats.Msg, 0, len(ev.states)+1)
	for t, st := range ev.states {
		msgs = append(msgs, tomb(s.subj.state(ev.key, t), st.seq))
	}
	return append(msgs, tomb(s.subj.event(ev.key), ev.seq))
}

// dropMarker purges the dedup marker when it is still the deleted
// event's (a newer event may have the same source and id).
func (s *Store) dropMarker(ctx context.Context, subject, key string) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	raw, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if string(raw.Data) != key {
		return nil
	}
	return s.stream.Purge(ctx, jetstream.WithPurgeSubject(subject))
}

// sweepLoop deletes settled events past their retention every
// SweepInterval until ctx ends. Every gateway sweeps; the conditional
// tombstones let one win each event.
func (s *Store) sweepLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("deleting expired events failed", zap.Int("deleted", n), zap.Error(err))
			}
		}
	}
}

// sweep deletes the events whose retention has passed by the store's
// clock: settled ones from their last settle, unrouted ones from their
// receive time. Dedup markers keep their own TTL.
func (s *Store) sweep(ctx context.Context) (int, error) {
	if err := s.enter(); err != nil {
		return 0, nil
	}
	defer s.leave()
	now, retention := s.clock.Now(), s.pol().Retention
	var batches [][]*nats.Msg
	s.v.mu.RLock()
	s.v.each(func(ev *vEvent) bool {
		if expired(ev, now, retention) {
			batches = append(batches, s.tombstones(ev))
		}
		return true
	})
	s.v.mu.RUnlock()
	deleted := 0
	for _, msgs := range batches {
		_, err := s.publishBatch(ctx, msgs)
		if wrongSeq(err) {
			continue // changed or deleted meanwhile; the next sweep decides
		}
		if err != nil {
			return deleted, err
		}
		deleted++
	}
	return deleted, nil
}

// expired reports whether ev's retention has passed. The caller holds
// v.mu.
func expired(ev *vEvent, now time.Time, retention time.Duration) bool {
	if len(ev.meta.Targets) == 0 {
		return !ev.meta.ReceivedAt.Add(retention).After(now)
	}
	if len(ev.states) < len(ev.meta.Targets) {
		return false
	}
	var last time.Time
	for _, st := range ev.states {
		if st.msg.Status == store.StatusPending {
			return false
		}
		if st.msg.UpdatedAt.After(last) {
			last = st.msg.UpdatedAt
		}
	}
	return !last.Add(retention).After(now)
}
