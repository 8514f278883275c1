package nats

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SetPaused pauses or resumes target for every gateway: P.pause.<target>
// holds a message while it is paused, a tombstone once resumed.
func (s *Store) SetPaused(ctx context.Context, target string, paused bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	msg := &nats.Msg{Subject: s.subj.pause(target), Data: []byte("1"), Header: nats.Header{}}
	var opts []jetstream.PublishOpt
	if !paused {
		msg.Data = nil
		msg.Header.Set(hdrOp, opDel)
		opts = append(opts, jetstream.WithMsgTTL(tombstoneTTL))
	}
	octx, cancel := s.op(ctx)
	defer cancel()
	ack, err := s.js.PublishMsg(octx, msg, opts...)
	if err != nil {
		return fmt.Errorf("pausing target %s: %w", target, s.classify(ctx, err))
	}
	s.applied(ctx, ack.Sequence)
	return nil
}

// Paused returns the paused targets, as the cluster has them.
func (s *Store) Paused(ctx context.Context) (map[string]bool, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if err := s.catchUp(ctx); err != nil {
		return nil, fmt.Errorf("reading paused targets: %w", s.classify(ctx, err))
	}
	s.v.mu.RLock()
	defer s.v.mu.RUnlock()
	out := make(map[string]bool, len(s.v.paused))
	for t := range s.v.paused {
		out[t] = true
	}
	return out, nil
}
