package nats

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// replayPage is how many dead letters ReplayDead requeues per atomic
// batch (the server takes at most 1000 messages in one).
const replayPage = 100

// casTries bounds how often Delete retries after a state it read was
// written by someone else meanwhile.
const casTries = 4

// entry is one target state to rewrite, conditional on its sequence.
type entry struct {
	key    string
	target string
	seq    uint64
	evSeq  uint64
	st     stateMsg
}

// requeued returns st pending again, due at due, with a fresh run (retry
// budget and max_age) from due, as the contract says for a pending target
// too; a lease on it ends (its holder's result is refused). An ordered
// entry goes to the back of its key's line: Line 0 makes the replay's own
// stream sequence its new place.
func requeued(st stateMsg, now, due time.Time) stateMsg {
	st.Status, st.Reason, st.Run, st.Since = store.StatusPending, "", 0, due
	st.Due, st.UpdatedAt, st.Holder, st.Line = due, now, "", 0
	return st
}

// Requeue replays the newest event (source, id) to target, or to each of
// its targets; see store.Catalog. Its writes are conditional on the
// states it read, and retried after a conflict (a settle or another
// replay in between) until the op timeout.
func (s *Store) Requeue(ctx context.Context, source, id, target string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	what := "replaying event " + id
	if target != "" {
		what += " to target " + target
	}
	if err := s.catchUp(ctx); err != nil {
		return fmt.Errorf("%s: %w", what, s.classify(ctx, err))
	}
	s.v.mu.RLock()
	ev, err := s.v.find(source, id)
	s.v.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer s.lockEvent(ev.key)()
	err = s.retryConflicts(ctx, func(bool) (uint64, error) {
		now := s.clock.Now()
		s.v.mu.RLock()
		ev, err := s.v.find(source, id)
		var todo []entry
		if err == nil {
			for t, st := range ev.states {
				if target == "" || t == target {
					todo = append(todo, entry{key: ev.key, target: t, seq: st.seq, st: requeued(st.msg, now, now)})
				}
			}
		}
		s.v.mu.RUnlock()
		switch {
		case err != nil:
			return 0, err
		case len(todo) == 0:
			return 0, fmt.Errorf("no such target: %w", store.ErrNotFound)
		case len(todo) == 1:
			return s.writeState(ctx, todo[0].key, todo[0].target, &todo[0].st, todo[0].seq)
		}
		return s.writeStates(ctx, todo)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, s.classify(ctx, err))
	}
	return nil
}

// writeStates writes entries as one atomic batch, each conditional on its
// sequence, and returns the last sequence written.
func (s *Store) writeStates(ctx context.Context, todo []entry) (uint64, error) {
	msgs := make([]*nats.Msg, len(todo))
	for i, e := range todo {
		data, err := json.Marshal(&e.st)
		if err != nil {
			return 0, err
		}
		msgs[i] = &nats.Msg{Subject: s.subj.state(e.key, e.target), Data: data,
			Header: nats.Header{jetstream.ExpectedLastSubjSeqHeader: []string{strconv.FormatUint(e.seq, 10)}}}
	}
	ack, err := s.publishBatch(ctx, msgs)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// ReplayDead requeues the dead letters of target (every target when
// empty) that match; see store.Catalog. Bodies are read one at a time,
// only for the predicate.
func (s *Store) ReplayDead(ctx context.Context, target string, match func(*store.EventRecord) bool, opts store.ReplayOptions) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	if err := s.catchUp(ctx); err != nil {
		return 0, fmt.Errorf("replaying dead letters: %w", s.classify(ctx, err))
	}
	now := s.clock.Now()
	due := func(n int) time.Time {
		if opts.Interval <= 0 {
			return now
		}
		return now.Add(time.Duration(opts.Offset+n) * opts.Interval)
	}
	var dead []entry
	s.v.mu.RLock()
	s.v.each(func(ev *vEvent) bool {
		for t, st := range ev.states {
			if st.msg.Status == store.StatusDead && (target == "" || t == target) {
				dead = append(dead, entry{key: ev.key, target: t, seq: st.seq, evSeq: ev.seq, st: st.msg})
			}
		}
		return true
	})
	s.v.mu.RUnlock()
	slices.SortFunc(dead, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.target, b.target), cmp.Compare(a.evSeq, b.evSeq))
	})

	total := 0
	var page []entry
	flush := func() error {
		if len(page) == 0 || opts.DryRun {
			total += len(page)
			page = page[:0]
			return nil
		}
		n, err := s.requeuePage(ctx, page, now, due, total)
		total += n
		page = page[:0]
		return err
	}
	for _, e := range dead {
		if match != nil {
			rec, ok, err := s.deadRecord(ctx, e)
			if err != nil {
				return total, fmt.Errorf("replaying dead letters: %w", s.classify(ctx, err))
			}
			if !ok || !match(rec) {
				continue
			}
		}
		page = append(page, e)
		if len(page) == replayPage {
			if err := flush(); err != nil {
				return total, fmt.Errorf("replaying dead letters: %w", s.classify(ctx, err))
			}
		}
	}
	if err := flush(); err != nil {
		return total, fmt.Errorf("replaying dead letters: %w", s.classify(ctx, err))
	}
	if total > 0 && !opts.DryRun {
		s.catchUpQuietly(ctx)
	}
	return total, nil
}

// deadRecord is the record the predicate sees, body included; false when
// the dead letter changed or went meanwhile.
func (s *Store) deadRecord(ctx context.Context, e entry) (*store.EventRecord, bool, error) {
	s.v.mu.RLock()
	ev := s.v.events[e.key]
	var rec store.EventRecord
	ok := ev != nil && ev.states[e.target] != nil && ev.states[e.target].seq == e.seq
	if ok {
		rec = ev.record()
	}
	s.v.mu.RUnlock()
	if !ok {
		return nil, false, nil
	}
	body, err := s.body(ctx, e.evSeq)
	if err != nil {
		if err == store.ErrNotFound {
			return nil, false, nil
		}
		return nil, false, err
	}
	rec.Body = body
	return &rec, true, nil
}

// requeuePage revives a page of dead letters in one atomic batch; when
// one of them changed meanwhile (the batch is refused), one by one,
// skipping those. base counts the entries the replay requeued before.
func (s *Store) requeuePage(ctx context.Context, page []entry, now time.Time, due func(int) time.Time, base int) (int, error) {
	todo := make([]entry, len(page))
	for i, e := range page {
		e.st = requeued(e.st, now, due(base+i))
		todo[i] = e
	}
	_, err := s.writeStates(ctx, todo)
	if err == nil {
		return len(todo), nil
	}
	if !wrongSeq(err) {
		return 0, err
	}
	n := 0
	for _, e := range page {
		st := requeued(e.st, now, due(base+n))
		_, err := s.writeState(ctx, e.key, e.target, &st, e.seq)
		if wrongSeq(err) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
