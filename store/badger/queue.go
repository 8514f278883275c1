package badger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Ack records a successful attempt: the delivery is delivered and leaves
// the queue. When every target of the event is settled, the event is
// filed for deletion once the retention has passed.
func (in *Store) Ack(_ context.Context, d store.Delivery, a store.Attempt) error {
	return in.settle("acking", d, a, func(st *stateRecord) {
		st.code, st.due = codeDelivered, time.Time{}
	})
}

// Retry records a failed attempt and moves the queue entry to next.
func (in *Store) Retry(_ context.Context, d store.Delivery, a store.Attempt, next time.Time) error {
	return in.settle("retrying", d, a, func(st *stateRecord) {
		st.due = next
	})
}

// Dead records the last attempt and makes the delivery a dead letter for
// its target, listed under status dead until replayed or expired.
func (in *Store) Dead(_ context.Context, d store.Delivery, a store.Attempt, reason string) error {
	return in.settle("dead-lettering", d, a, func(st *stateRecord) {
		st.code, st.due, st.reason = codeDead, time.Time{}, store.Excerpt(reason)
	})
}

// settleOp is one Ack, Retry or Dead travelling through the committer.
type settleOp struct {
	d      store.Delivery
	a      store.Attempt
	now    time.Time
	change func(*stateRecord)

	// Set by applySettle.
	err          error // why this delivery could not be settled
	stillPending bool
	due          time.Time
}

// settleSize is what a settle operation counts against the batch byte
// budget: its state record, index keys and, when it settles the event,
// the rewritten record.
const settleSize = 2 << 10

// settle sends one attempt's outcome through the committer, so concurrent
// dispatcher workers share fsyncs with each other and with Accept, and
// releases the delivery's lease once the outcome is final.
func (in *Store) settle(verb string, d store.Delivery, a store.Attempt, change func(*stateRecord)) error {
	if err := in.enter(); err != nil {
		return err
	}
	defer in.life.RUnlock()
	defer in.release(d.Target, d.Seq, leaseToken(d))

	op := &settleOp{d: d, a: a, now: in.now(), change: change}
	r := &request{ctx: context.Background(), size: settleSize, settle: op, done: make(chan result, 1)}
	in.queue <- r
	if res := <-r.done; res.err != nil {
		return fmt.Errorf("%s event %s for target %s: %w", verb, d.Event.ID, d.Target, res.err)
	}
	return nil
}

// applySettle stages one settle operation in the committer's transaction.
// Reasons the delivery cannot be settled (gone, no longer pending) land in
// op.err before anything is written, so they fail only this operation; a
// returned error fails the whole batch. The queue entry is located through
// the stored state, not d.Due, because a replay may have moved it while it
// was leased. Earlier operations of the same batch are visible here,
// because reads in a Badger transaction see its own pending writes.
func (in *Store) applySettle(txn *badger.Txn, op *settleOp) error {
	op.err, op.stillPending, op.due = nil, false, time.Time{}
	d := op.d
	states, err := loadStatesOf(txn, d.Seq, d.Event.Targets)
	if err != nil {
		op.err = err
		return nil
	}
	st := findState(states, d.Target)
	switch {
	case st == nil:
		op.err = store.ErrNotFound
		return nil
	case st.code != codePending:
		op.err = store.ErrNotPending
		return nil
	}
	before := codes(states)
	if err := txn.Delete(queueKey(d.Target, st.due, d.Seq)); err != nil {
		return err
	}
	st.record(op.a)
	st.updated, st.changed = op.now, true
	op.change(st)
	op.stillPending, op.due = st.code == codePending, st.due
	if op.stillPending {
		if err := txn.Set(queueKey(d.Target, st.due, d.Seq), nil); err != nil {
			return err
		}
	}
	return in.saveStates(txn, d.Seq, before, states)
}

// Requeue replays the newest event (source, id) to target, or to all its
// targets when target is empty: each is due now and pending with a fresh
// retry budget (a new run, also for a delivery still in backoff), and the
// event is no longer due for deletion.
// ErrNotFound means no such event or no such target of the event.
func (in *Store) Requeue(_ context.Context, source, id, target string) error {
	if err := in.enter(); err != nil {
		return err
	}
	defer in.life.RUnlock()

	now := in.now()
	var (
		rq  requeued
		seq uint64
	)
	err := in.update(func(txn *badger.Txn) error {
		rq.reset()
		var err error
		seq, err = findSeq(txn, source, id)
		if err != nil {
			return err
		}
		states, err := loadStates(txn, seq)
		if err != nil {
			return err
		}
		if len(states) == 0 {
			return fmt.Errorf("event has no targets: %w", store.ErrNotFound)
		}
		before := codes(states)
		matched := false
		for _, st := range states {
			if target != "" && st.target != target {
				continue
			}
			matched = true
			if err := rq.requeue(txn, seq, st, now, now); err != nil {
				return err
			}
		}
		if !matched {
			return fmt.Errorf("no such target: %w", store.ErrNotFound)
		}
		return in.saveStates(txn, seq, before, states)
	})
	if err != nil {
		if target != "" {
			return fmt.Errorf("replaying event %s to target %s: %w", id, target, err)
		}
		return fmt.Errorf("replaying event %s: %w", id, err)
	}
	in.afterRequeue(&rq, now)
	return nil
}

// requeued collects what a replay transaction changed, applied to the
// in-memory counters, scan positions and watchers once it commits.
type requeued struct {
	revived []string // targets that became pending again
	queued  []queuedEntry
}

// queuedEntry is a queue entry a replay wrote.
type queuedEntry struct {
	leaseKey
	due time.Time
}

// reset forgets a transaction attempt that lost a conflict.
func (rq *requeued) reset() {
	rq.revived, rq.queued = rq.revived[:0], rq.queued[:0]
}

// requeue stages one target state of event seq as pending and due at due
// (now, unless a paced replay spreads entries out): a pending entry moves
// to that place in its queue, a settled one is revived with a fresh run
// that starts at due. The caller saves the states afterwards.
func (rq *requeued) requeue(txn *badger.Txn, seq uint64, st *stateRecord, now, due time.Time) error {
	if st.code == codePending {
		if err := txn.Delete(queueKey(st.target, st.due, seq)); err != nil {
			return err
		}
	} else {
		rq.revived = append(rq.revived, st.target)
	}
	// A replay starts a new run, also for a delivery still in backoff:
	// a fresh retry budget and max_age from when it is due.
	st.code, st.reason, st.runAttempts, st.since = codePending, "", 0, due
	st.due, st.updated, st.changed = due, now, true
	if err := txn.Set(queueKey(st.target, due, seq), nil); err != nil {
		return err
	}
	rq.queued = append(rq.queued, queuedEntry{leaseKey: leaseKey{target: st.target, seq: seq}, due: due})
	return nil
}

// afterRequeue applies a committed replay to the in-memory state.
func (in *Store) afterRequeue(rq *requeued, now time.Time) {
	if len(rq.revived) > 0 {
		in.countMu.Lock()
		for _, t := range rq.revived {
			in.adjustPending(t, 1)
		}
		in.countMu.Unlock()
	}
	in.leaseMu.Lock()
	for _, q := range rq.queued {
		in.lowerScanFrom(q.target, queuePos{due: timeToU64(q.due), seq: q.seq})
	}
	in.leaseMu.Unlock()
	var last string
	for _, q := range rq.queued {
		// Consecutive entries mostly share a target; one signal will do.
		// Entries due later are found by the dispatcher's poll.
		if q.target != last && !q.due.After(now) {
			in.wake(q.target)
			last = q.target
		}
	}
}

// saveStates writes the changed target states and keeps the status
// indexes in step. When the event becomes settled (every target delivered
// or dead) it is filed in the retention index, so the sweeper deletes it
// once the retention has passed; nothing else is rewritten. An event that
// stops being settled (a replay) keeps its stale retention entry, which the
// sweeper recognises and drops.
func (in *Store) saveStates(txn *badger.Txn, seq uint64, before []byte, states []*stateRecord) error {
	after := codes(states)
	for i, st := range states {
		if !st.changed {
			continue
		}
		if err := txn.Set(stateKey(seq, st.target), st.encode()); err != nil {
			return err
		}
		if before[i] == st.code {
			continue
		}
		if err := txn.Delete(statusKey(before[i], st.target, seq)); err != nil {
			return err
		}
		if err := txn.Set(statusKey(st.code, st.target, seq), nil); err != nil {
			return err
		}
	}
	if allSettled(after) && !allSettled(before) {
		until := lastUpdate(states).Add(in.policy.Load().Retention)
		return txn.Set(retainKey(until, seq), nil)
	}
	return nil
}

// lastUpdate is when the last of the states changed: for a settled event,
// when it became settled.
func lastUpdate(states []*stateRecord) time.Time {
	var last time.Time
	for _, st := range states {
		if st.updated.After(last) {
			last = st.updated
		}
	}
	return last
}

// loadStates reads every target state of an event, in target-name order.
func loadStates(txn *badger.Txn, seq uint64) ([]*stateRecord, error) {
	prefix := statePrefix(seq)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 8})
	defer it.Close()
	var states []*stateRecord
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		target := string(item.Key()[len(prefix):])
		if err := item.Value(func(v []byte) error {
			st, err := decodeState(target, v)
			states = append(states, st)
			return err
		}); err != nil {
			return nil, fmt.Errorf("reading state of %s: %w", target, err)
		}
	}
	return states, nil
}

// loadStatesOf reads the states of an event whose target names are known,
// in target-name order like loadStates, by point reads. The committer
// settles many deliveries in one transaction, and an iterator over a
// transaction with pending writes sorts all of them first, which made a
// batch of n settles cost O(n² log n) and capped delivery throughput.
func loadStatesOf(txn *badger.Txn, seq uint64, targets []string) ([]*stateRecord, error) {
	if len(targets) == 0 {
		return loadStates(txn, seq)
	}
	names := slices.Clone(targets)
	slices.Sort(names)
	states := make([]*stateRecord, 0, len(names))
	for i, t := range names {
		if i > 0 && t == names[i-1] {
			continue
		}
		st, err := loadState(txn, seq, t)
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading state of %s: %w", t, err)
		}
		states = append(states, st)
	}
	return states, nil
}

func loadState(txn *badger.Txn, seq uint64, target string) (*stateRecord, error) {
	item, err := txn.Get(stateKey(seq, target))
	if err != nil {
		return nil, err
	}
	var st *stateRecord
	err = item.Value(func(v []byte) (err error) {
		st, err = decodeState(target, v)
		return err
	})
	return st, err
}

func findState(states []*stateRecord, target string) *stateRecord {
	for _, st := range states {
		if st.target == target {
			return st
		}
	}
	return nil
}

func codes(states []*stateRecord) []byte {
	out := make([]byte, len(states))
	for i, st := range states {
		out[i] = st.code
	}
	return out
}

func containsCode(cs []byte, c byte) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// allSettled reports whether every target is delivered or dead; an event
// without targets is not handled here (it is settled from the start).
func allSettled(cs []byte) bool {
	if len(cs) == 0 {
		return false
	}
	for _, c := range cs {
		if c == codePending {
			return false
		}
	}
	return true
}
