package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Accept stores ev as one atomic batch: the dedup marker, written only
// if its subject holds nothing (expected last subject sequence 0) and
// expiring with the dedup window, the event record, and one pending state
// per target. The server stores all of it or none; a refused marker check
// is a duplicate. See store.Ingest.
//
// The marker holds the event's key, so Accept can tell its own batch from
// another's: a batch whose answer was lost (a stream leader that went
// away) is asked about, and sent again within the op timeout when it was
// not stored, so an election costs a sender a slower 202, not a 503.
func (s *Store) Accept(ctx context.Context, ev *store.Event) (store.Receipt, error) {
	if ev.ID == "" || ev.Source == "" {
		return store.Receipt{}, fmt.Errorf("accepting event: empty id or source")
	}
	if err := s.enter(); err != nil {
		return store.Receipt{}, err
	}
	defer s.leave()
	if err := ctx.Err(); err != nil {
		return store.Receipt{}, err
	}
	msgs, key, err := s.acceptBatch(ev)
	if err != nil {
		return store.Receipt{}, fmt.Errorf("accepting event %s: %w", ev.ID, err)
	}
	octx, cancel := s.op(ctx)
	defer cancel()
	marker := msgs[0].Subject
	for try := 0; ; try++ {
		ack, err := s.publishBatch(octx, msgs)
		if err == nil {
			s.applied(ctx, ack.Sequence)
			return store.Receipt{}, nil
		}
		conflict := wrongSeq(err)
		if !conflict && !errors.Is(s.classify(ctx, err), store.ErrUnavailable) {
			return store.Receipt{}, fmt.Errorf("accepting event %s: %w", ev.ID, s.classify(ctx, err))
		}
		// Refused by the marker (stored, or a batch writing it is in
		// flight), or no answer: the marker says which.
		holder, found, merr := s.marker(octx, marker)
		switch {
		case merr == nil && found && holder == key:
			return store.Receipt{}, nil // ours: the answer was lost
		case merr == nil && found:
			return store.Receipt{Duplicate: true}, nil
		}
		wait := time.Duration(try+1) * 5 * time.Millisecond
		if !conflict {
			wait = time.Duration(try+1) * 50 * time.Millisecond
		}
		if perr := pause(octx, min(wait, 500*time.Millisecond)); perr != nil {
			if cerr := ctx.Err(); cerr != nil {
				return store.Receipt{}, cerr
			}
			return store.Receipt{}, fmt.Errorf("accepting event %s: %w", ev.ID, s.classify(ctx, err))
		}
	}
}

// acceptBatch builds Accept's messages, the marker first, and returns the
// event's key.
func (s *Store) acceptBatch(ev *store.Event) ([]*nats.Msg, string, error) {
	now := s.clock.Now()
	recv := ev.ReceivedAt
	if recv.IsZero() {
		recv = now
	}
	targets := slices.Clone(ev.Targets)
	slices.Sort(targets)
	targets = slices.Compact(targets)
	key := nuid.Next()

	ttl := s.pol().DedupWindow
	if until := ev.DedupUntil.Sub(now); until > ttl {
		ttl = until
	}
	// Nats-TTL counts whole seconds; round up so the window is never short.
	ttl = (ttl + time.Second - 1).Truncate(time.Second)

	meta := &eventMeta{ID: ev.ID, Source: ev.Source, Type: ev.Type, ReceivedAt: recv,
		ClientIP: ev.ClientIP, Headers: ev.Headers, Targets: targets,
		OrderKeys: cleanOrderKeys(ev.OrderKeys, targets)}
	record, err := encodeRecord(meta, ev.Body)
	if err != nil {
		return nil, "", err
	}
	msgs := []*nats.Msg{
		{Subject: s.subj.dedup(ev.Source, ev.ID), Data: []byte(key), Header: nats.Header{
			jetstream.ExpectedLastSubjSeqHeader: []string{"0"},
			jetstream.MsgTTLHeader:              []string{ttl.String()},
		}},
		{Subject: s.subj.event(key), Data: record},
	}
	for _, t := range targets {
		// Line 0: the state's own sequence is its place in its key's line.
		data, err := json.Marshal(&stateMsg{Status: store.StatusPending, Due: recv, Since: recv, UpdatedAt: now,
			Key: meta.OrderKeys[t]})
		if err != nil {
			return nil, "", err
		}
		msgs = append(msgs, &nats.Msg{Subject: s.subj.state(key, t), Data: data})
	}
	return msgs, key, nil
}

// cleanOrderKeys keeps the non-empty order keys of the event's targets;
// nil when none is left, so an unordered event's record is unchanged.
func cleanOrderKeys(keys map[string]string, targets []string) map[string]string {
	var out map[string]string
	for t, k := range keys {
		if k == "" || !slices.Contains(targets, t) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(keys))
		}
		out[t] = k
	}
	return out
}

// maxOpenBatches bounds the atomic batches one store has open at once.
// A server keeps at most 50 open per stream (its
// max_batch_inflight_per_stream) and refuses more with 429; a few
// gateways at 16 each mostly stay under it, and a refusal is retried.
const maxOpenBatches = 16

// publishBatch publishes msgs as one atomic batch within the op timeout.
// The messages go out back to back and only the commit waits for an
// answer, so a batch is open for one round trip. A server with too many
// open batches (429) is asked again after a short, growing pause until
// the op timeout.
func (s *Store) publishBatch(ctx context.Context, msgs []*nats.Msg) (*jetstreamext.BatchAck, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	select {
	case s.batches <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.batches }()
	for try := 1; ; try++ {
		ack, err := jetstreamext.PublishMsgBatch(ctx, s.js, msgs, jetstreamext.BatchFlowControl{AckFirst: false})
		if api := apiError(err); api == nil || api.Code != 429 {
			return ack, err
		}
		if perr := pause(ctx, time.Duration(try)*time.Duration(1+rand.IntN(10))*time.Millisecond); perr != nil {
			return nil, err
		}
	}
}

// marker reads a dedup marker from the stream leader: the key of the
// event it belongs to, and whether there is one.
func (s *Store) marker(ctx context.Context, subject string) (string, bool, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	raw, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return string(raw.Data), true, nil
}

// pause waits d of wall time, or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
