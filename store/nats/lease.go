package nats

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Leases. An entry is leased by writing its state with this store's
// holder name, conditional on the state's last sequence, so of two
// gateways racing for it one wins. A lease holds while its holder's
// heartbeat (P.hb.<holder>, every LeaseTTL/3) is younger than LeaseTTL;
// Close writes a goodbye that frees them at once. Settling or releasing
// writes the state again, conditional on the sequence the lease wrote: a
// lease taken over in between fails that check.

// Leases this store wrote but no longer tracks (the write's answer was
// lost, a settle or release failed while the cluster was unreachable) are
// orphans: pending, naming this live holder, so no other gateway takes
// them. The dispatcher expects a failed settle to leave the entry leasable
// (relay/outcome.go, settleFailed), so every second the store releases
// the orphans it finds in its view.

func ownKey(key, target string) string { return key + "\x00" + target }

// own records that a lease of (key, target) is being written or handed
// out; false when it already is.
func (s *Store) own(key, target string) bool {
	s.ownedMu.Lock()
	defer s.ownedMu.Unlock()
	k := ownKey(key, target)
	if _, ok := s.owned[k]; ok {
		return false
	}
	s.owned[k] = struct{}{}
	return true
}

// disown forgets a lease: settled, released, refused or failed.
func (s *Store) disown(key, target string) {
	s.ownedMu.Lock()
	delete(s.owned, ownKey(key, target))
	s.ownedMu.Unlock()
}

// tidyLoop releases orphaned leases every second until ctx ends.
func (s *Store) tidyLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.releaseOrphans(ctx)
		}
	}
}

func (s *Store) releaseOrphans(ctx context.Context) {
	if s.enter() != nil {
		return
	}
	defer s.leave()
	var orphans []entry
	s.v.mu.RLock()
	s.ownedMu.Lock()
	for target, t := range s.v.targets {
		for st := range t.pending {
			if st.msg.Holder != s.holder {
				continue
			}
			if _, ok := s.owned[ownKey(st.ev.key, target)]; !ok {
				orphans = append(orphans, entry{key: st.ev.key, target: target, seq: st.seq, st: st.msg})
			}
		}
	}
	s.ownedMu.Unlock()
	s.v.mu.RUnlock()
	for _, o := range orphans {
		if ctx.Err() != nil {
			return
		}
		s.release(o.key, o.target, &o.st, o.seq)
	}
}

// handle is a Delivery's ack handle: the state its lease wrote and that
// message's sequence. Release writes from it, conditional on that
// sequence; a settle uses it when the view lags behind the lease.
type handle struct {
	key    string
	target string
	seq    uint64 // of the state message the lease wrote
	st     stateMsg
}

// beat renews this store's heartbeat until ctx ends.
func (s *Store) beat(ctx context.Context) {
	every := s.opts.LeaseTTL / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.heartbeat(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("lease heartbeat failed; other gateways may take this one's deliveries over", zap.Error(err))
			}
		}
	}
}

func (s *Store) heartbeat(ctx context.Context) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	_, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: s.subj.heart(s.holder), Header: nats.Header{}},
		jetstream.WithMsgTTL(3*s.opts.LeaseTTL))
	return err
}

// goodbye ends this store's leases for every gateway.
func (s *Store) goodbye(ctx context.Context) error {
	msg := &nats.Msg{Subject: s.subj.heart(s.holder), Header: nats.Header{hdrOp: []string{opDel}}}
	_, err := s.js.PublishMsg(ctx, msg, jetstream.WithMsgTTL(tombstoneTTL))
	return err
}

// Lease hands out up to max due entries of target, oldest due first; see
// store.Queue.
func (s *Store) Lease(ctx context.Context, target string, max int) ([]store.Delivery, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if max <= 0 {
		return nil, nil
	}
	type cand struct {
		st  stateMsg
		seq uint64
		key string
		ev  uint64
		m   *eventMeta
	}
	now := s.clock.Now()
	// A few candidates more than max: some may be lost to other gateways.
	want := max + 16
	var cands []cand
	s.v.mu.RLock()
	if t := s.v.targets[target]; t != nil {
		t.queue.Ascend(func(st *vState) bool {
			if st.msg.Due.After(now) {
				return false
			}
			if !s.v.alive(st.msg.Holder, s.holder, s.opts.LeaseTTL) {
				cands = append(cands, cand{st: st.msg, seq: st.seq, key: st.ev.key, ev: st.ev.seq, m: st.ev.meta})
			}
			return len(cands) < want
		})
	}
	s.v.mu.RUnlock()

	var (
		out  []store.Delivery
		last uint64
	)
	for _, c := range cands {
		if len(out) == max {
			break
		}
		if !s.own(c.key, target) {
			continue // this store is leasing it already
		}
		st := c.st
		st.Holder = s.holder
		seq, err := s.writeState(ctx, c.key, target, &st, c.seq)
		if err != nil {
			s.disown(c.key, target)
		}
		if wrongSeq(err) {
			continue // leased or changed by another since the view saw it
		}
		if err != nil {
			if len(out) > 0 {
				break
			}
			return nil, s.classify(ctx, err)
		}
		last = seq
		body, err := s.body(ctx, c.ev)
		if errors.Is(err, store.ErrNotFound) {
			s.disown(c.key, target)
			continue // deleted meanwhile: its state is gone with it
		}
		if err != nil {
			s.disown(c.key, target)
			s.release(c.key, target, &st, seq)
			if len(out) > 0 {
				break
			}
			return nil, s.classify(ctx, err)
		}
		out = append(out, store.Delivery{
			Event: c.m.event(body), Seq: c.ev, Target: target, Attempts: st.Run,
			Since: st.Since, Due: st.Due, OrderKey: st.Key, Handle: &handle{key: c.key, target: target, seq: seq, st: st},
		})
	}
	if last > 0 {
		s.applied(ctx, last)
	}
	return out, nil
}

// writeState writes a target's state conditional on its last sequence
// and returns the new one.
func (s *Store) writeState(ctx context.Context, key, target string, st *stateMsg, last uint64) (uint64, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return 0, err
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	ack, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: s.subj.state(key, target), Data: data},
		jetstream.WithExpectLastSequencePerSubject(last), jetstream.WithRetryAttempts(0))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// body reads the body of the event record at seq from the stream leader.
func (s *Store) body(ctx context.Context, seq uint64) ([]byte, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	raw, err := s.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if raw.Header.Get(hdrOp) == opDel {
		return nil, store.ErrNotFound
	}
	_, body, err := decodeRecord(raw.Data)
	return body, err
}

// Release gives a leased entry back untried; see store.Queue.
func (s *Store) Release(d store.Delivery) {
	h, ok := d.Handle.(*handle)
	if !ok || s.enter() != nil {
		return
	}
	defer s.leave()
	// Whatever happens below, this store no longer tracks the lease: a
	// release that fails leaves an orphan, released later.
	defer s.disown(h.key, d.Target)
	s.v.mu.RLock()
	var cur *vState
	if ev := s.v.events[h.key]; ev != nil {
		cur = ev.states[d.Target]
	}
	stale := cur == nil || cur.seq > h.seq
	s.v.mu.RUnlock()
	if stale {
		return // settled, taken over or deleted: nothing of ours to give back
	}
	// Conditional on the lease's write: a no-op if anything wrote since.
	st := h.st
	s.release(h.key, d.Target, &st, h.seq)
}

func (s *Store) release(key, target string, st *stateMsg, seq uint64) {
	st.Holder = ""
	if seq, err := s.writeState(context.Background(), key, target, st, seq); err == nil {
		s.applied(context.Background(), seq)
	}
}
