package nats

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// follow feeds the view from an ordered consumer of the watched subjects,
// from the start of the stream, until ctx ends. An ordered consumer is
// ephemeral and recreated by the client after a gap or a reconnect; when
// that fails (no quorum) follow makes a new one from where it stopped.
func (s *Store) follow(ctx context.Context) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		if err := s.followOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Debug("store view: following the stream failed; retrying", zap.Error(err))
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, 2*time.Second)
			continue
		}
		wait = 100 * time.Millisecond
	}
}

func (s *Store) followOnce(ctx context.Context) error {
	s.v.mu.RLock()
	from := s.v.applied + 1
	s.v.mu.RUnlock()
	octx, cancel := s.op(ctx)
	cons, err := s.stream.OrderedConsumer(octx, jetstream.OrderedConsumerConfig{
		FilterSubjects: s.subj.watched(),
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    from,
	})
	cancel()
	if err != nil {
		return err
	}
	// A short pull expiry and heartbeat: an ordered consumer lives on the
	// stream leader, and when the leader moves the client only notices
	// the missing heartbeats (two of them) before it recreates it.
	it, err := cons.Messages(jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(time.Second))
	if err != nil {
		return err
	}
	if !s.v.setIter(it) {
		it.Stop()
		return nil
	}
	defer s.v.setIter(nil)
	for {
		msg, err := it.Next()
		if err != nil {
			it.Stop()
			return err
		}
		meta, err := msg.Metadata()
		if err != nil {
			continue
		}
		s.v.apply(msg.Subject(), meta.Sequence.Stream, meta.Timestamp, msg.Headers(), msg.Data())
	}
}

// setIter records the running iterator so stop can end it; false once
// the view is stopped.
func (v *view) setIter(it interface{ Stop() }) bool {
	v.stopMu.Lock()
	defer v.stopMu.Unlock()
	if v.stopped && it != nil {
		return false
	}
	v.iter = it
	return true
}

func (v *view) stop() {
	v.stopMu.Lock()
	defer v.stopMu.Unlock()
	v.stopped = true
	if v.iter != nil {
		v.iter.Stop()
		v.iter = nil
	}
}

// catchUp brings the view up to date with the cluster: it writes a
// barrier message and waits until the view has applied it, so every
// write acknowledged before the call is in the view.
func (s *Store) catchUp(ctx context.Context) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	ack, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: s.subj.sync(s.holder), Header: nats.Header{}},
		jetstream.WithMsgTTL(tombstoneTTL))
	if err != nil {
		return err
	}
	return s.v.waitFor(ctx, ack.Sequence)
}

// readStream is Open's catch-up: the whole stream is read into the view,
// which takes as long as it takes while the view keeps moving; it fails
// when the view stands still for an op timeout.
func (s *Store) readStream(ctx context.Context) error {
	octx, cancel := s.op(ctx)
	ack, err := s.js.PublishMsg(octx, &nats.Msg{Subject: s.subj.sync(s.holder), Header: nats.Header{}},
		jetstream.WithMsgTTL(tombstoneTTL))
	cancel()
	if err != nil {
		return err
	}
	var last uint64
	for {
		wctx, cancel := s.op(ctx)
		err := s.v.waitFor(wctx, ack.Sequence)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		s.v.mu.RLock()
		now := s.v.applied
		s.v.mu.RUnlock()
		if now == last {
			return fmt.Errorf("reading the stream stalled at sequence %d of %d: %w", now, ack.Sequence, err)
		}
		last = now
	}
}

// applied waits (within the op timeout) until the view has applied the
// write at seq, so this store reads its own writes. The write is durable
// whatever the wait's outcome.
func (s *Store) applied(ctx context.Context, seq uint64) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	_ = s.v.waitFor(ctx, seq)
}
