package badger

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
)

// request is one Accept, or one settled delivery (settle set), waiting
// for the committer. Badger syncs its WAL once per transaction, even when
// it writes several transactions together, so only sharing a transaction
// shares the fsync; settled deliveries ride along with accepts for the
// same reason.
//
// Everything the committer needs is copied or encoded up front, in the
// caller's goroutine: encoding runs in parallel across callers, and a
// caller whose context ends can return while the committer still holds
// the request.
type request struct {
	ctx     context.Context
	size    int // bytes counted against the batch budget
	dedup   []byte
	id      string
	record  []byte
	targets []string
	// orderKeys are the event's non-empty order keys of its targets.
	orderKeys map[string]string
	recv      uint64
	// dedupUntil is the event's own dedup expiry (Unix seconds), when it
	// must be remembered past the policy's window; zero otherwise.
	dedupUntil uint64
	settle     *settleOp
	done       chan result

	// Committer-only fields.
	seq      uint64
	receipt  store.Receipt
	answered bool
}

type result struct {
	receipt store.Receipt
	err     error
}

func (r *request) answer(rc store.Receipt, err error) {
	if r.answered {
		return
	}
	r.answered = true
	r.done <- result{receipt: rc, err: err}
}

// Accept durably stores ev and returns after the transaction holding it is
// fsynced. Concurrent calls are group-committed: a single committer takes
// whatever is queued, writes it in one transaction and syncs once.
//
// When ctx ends first Accept returns ctx's error; the event is then not
// written if the committer had not yet picked it up, and written anyway if
// it had (a retried delivery is then reported as a duplicate). ev is not
// retained after Accept returns.
func (in *Store) Accept(ctx context.Context, ev *store.Event) (store.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return store.Receipt{}, err
	}
	if ev.ID == "" || ev.Source == "" {
		return store.Receipt{}, errors.New("accepting event: id and source are required")
	}
	targets, err := cleanTargets(ev.Targets)
	if err != nil {
		return store.Receipt{}, fmt.Errorf("accepting event %s: %w", ev.ID, err)
	}
	if err := in.enter(); err != nil {
		return store.Receipt{}, err
	}
	defer in.life.RUnlock()
	if err := in.checkDisk(); err != nil {
		return store.Receipt{}, err
	}

	stored := *ev
	stored.Targets = targets
	stored.OrderKeys = cleanOrderKeys(ev.OrderKeys, targets)
	if stored.ReceivedAt.IsZero() {
		stored.ReceivedAt = in.now()
	}
	record := encodeEvent(&stored)
	in.disk.charge(diskCost(len(record)))
	r := &request{
		ctx:       ctx,
		dedup:     dedupKey(ev.Source, ev.ID),
		id:        ev.ID,
		record:    record,
		targets:   targets,
		orderKeys: stored.OrderKeys,
		recv:      timeToU64(stored.ReceivedAt),
		done:      make(chan result, 1),
	}
	r.size = len(r.record)
	if !ev.DedupUntil.IsZero() {
		// Badger's TTLs follow the wall clock; the event's is relative to
		// the store's clock.
		r.dedupUntil = expiresAt(ev.DedupUntil.Sub(stored.ReceivedAt))
	}
	select {
	case in.queue <- r:
	case <-ctx.Done():
		return store.Receipt{}, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res.receipt, res.err
	case <-ctx.Done():
		// A result that is already there is final and wins over the
		// cancellation.
		select {
		case res := <-r.done:
			return res.receipt, res.err
		default:
			return store.Receipt{}, ctx.Err()
		}
	}
}

// cleanTargets drops repeated target names (each target gets an event
// once) and refuses empty ones.
func cleanTargets(targets []string) ([]string, error) {
	out := make([]string, 0, len(targets))
	for _, t := range targets {
		if t == "" {
			return nil, errors.New("empty target name")
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
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

// commitLoop is the single committer: it takes the first queued request,
// drains whatever else is already queued without waiting, and commits the
// lot in one transaction. Not waiting for more keeps a lone request's
// latency at one fsync; under load the queue fills while the previous
// fsync runs, so batches grow on their own.
func (in *Store) commitLoop() {
	defer in.workers.Done()
	batch := make([]*request, 0, in.maxBatch)
	var carry *request
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-in.queue:
			case <-in.quit:
				return
			}
		}
		batch = append(batch[:0], first)
		size := first.size
	drain:
		for len(batch) < in.maxBatch {
			select {
			case r := <-in.queue:
				if size+r.size > in.maxBatchBytes {
					carry = r
					break drain
				}
				batch = append(batch, r)
				size += r.size
			default:
				break drain
			}
		}
		in.commitBatch(batch)
		clear(batch)
	}
}

// commitBatch writes one batch and answers every waiter, whatever happens.
func (in *Store) commitBatch(batch []*request) {
	defer func() {
		if p := recover(); p != nil {
			in.log.Error("panic in inbox committer",
				zap.String("dir", in.dir), zap.Any("panic", p), zap.Stack("stack"))
			err := errors.New("storing event: internal error")
			for _, r := range batch {
				r.answer(store.Receipt{}, err)
			}
		}
	}()
	if in.beforeBatch != nil {
		in.beforeBatch()
	}
	live := make([]*request, 0, len(batch))
	for _, r := range batch {
		// The caller has given up; skipping keeps "error" meaning "not
		// stored" whenever possible.
		if err := r.ctx.Err(); err != nil && r.settle == nil {
			r.answer(store.Receipt{}, err)
			continue
		}
		live = append(live, r)
	}
	in.writeBatch(live)
}

// writeBatch commits reqs, splitting the batch when Badger finds it too
// big for one transaction, and answers each request.
func (in *Store) writeBatch(reqs []*request) {
	if len(reqs) == 0 {
		return
	}
	var err error
	for attempt := 0; ; attempt++ {
		err = in.tryBatch(reqs)
		if !errors.Is(err, badger.ErrConflict) || attempt >= maxConflictRetries {
			break
		}
	}
	switch {
	case err == nil:
		for _, r := range reqs {
			if r.settle != nil {
				r.answer(store.Receipt{}, r.settle.err)
				continue
			}
			r.answer(r.receipt, nil)
		}
	case errors.Is(err, badger.ErrTxnTooBig) && len(reqs) > 1:
		// Halves commit in order, so the second half sees the first
		// half's dedup markers as ordinary committed keys.
		half := len(reqs) / 2
		in.writeBatch(reqs[:half])
		in.writeBatch(reqs[half:])
	default:
		in.log.Error("storing events failed",
			zap.String("dir", in.dir), zap.Int("events", len(reqs)), zap.Error(err))
		werr := fmt.Errorf("storing event: %w", err)
		for _, r := range reqs {
			r.answer(store.Receipt{}, werr)
		}
	}
}

// tryBatch writes reqs in one transaction, holding writeMu. Receipts are
// set on the requests but only count once the commit succeeds.
func (in *Store) tryBatch(reqs []*request) error {
	in.writeMu.Lock()
	defer in.writeMu.Unlock()
	pol := in.policy.Load()
	dedupUntil := expiresAt(pol.DedupWindow)
	keepUntil := expiresAt(pol.Retention)
	clear(in.seen)
	seq := in.lastSeq

	txn := in.db.NewTransaction(true)
	defer txn.Discard()
	for _, r := range reqs {
		r.receipt, r.seq = store.Receipt{}, 0
		if r.settle != nil {
			if err := in.applySettle(txn, r.settle); err != nil {
				return err
			}
			continue
		}
		if _, dup := in.seen[string(r.dedup)]; dup {
			r.receipt.Duplicate = true
			continue
		}
		in.seen[string(r.dedup)] = struct{}{}
		switch _, err := txn.Get(r.dedup); {
		case err == nil:
			r.receipt.Duplicate = true
			continue
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		seq = max(r.recv, seq+1)
		r.seq = seq
		if err := writeEvent(txn, r, dedupUntil, keepUntil); err != nil {
			return err
		}
	}
	if seq != in.lastSeq {
		if err := txn.Set(keyMetaSeq, appendU64(nil, seq)); err != nil {
			return err
		}
	}
	if err := txn.Commit(); err != nil {
		return err
	}
	in.lastSeq = seq

	in.countMu.Lock()
	for _, r := range reqs {
		for _, t := range r.targets {
			if r.seq != 0 {
				in.adjustPending(t, 1)
			}
		}
		if op := r.settle; op != nil && op.err == nil && !op.stillPending {
			in.adjustPending(op.d.Target, -1)
		}
	}
	in.countMu.Unlock()
	var lines []lineChange
	for _, r := range reqs {
		if r.seq != 0 {
			for t, k := range r.orderKeys {
				lines = append(lines, lineChange{lineKey: lineKey{target: t, key: k}, line: r.seq, join: true})
			}
		}
		if op := r.settle; op != nil && op.err == nil && !op.stillPending && op.orderKey != "" {
			lines = append(lines, lineChange{lineKey: lineKey{target: op.d.Target, key: op.orderKey}, line: op.line})
		}
	}
	// Lowered after the commit; see queuePos.
	in.leaseMu.Lock()
	woken := in.applyLines(lines)
	for _, r := range reqs {
		for _, t := range r.targets {
			if r.seq != 0 {
				in.lowerScanFrom(t, queuePos{due: r.recv, seq: r.seq})
			}
		}
		if op := r.settle; op != nil && op.err == nil && op.stillPending {
			in.lowerScanFrom(op.d.Target, queuePos{due: timeToU64(op.due), seq: op.d.Seq})
		}
	}
	in.leaseMu.Unlock()
	for _, t := range woken {
		in.wake(t)
	}
	// Woken after the scan positions are lowered, so the Lease a signal
	// triggers starts before the new entries. A retry due later is left to
	// the dispatcher's own timer: waking for it would only cost a Lease
	// that finds nothing.
	now := in.now()
	for _, r := range reqs {
		if r.seq != 0 {
			for _, t := range r.targets {
				in.wake(t)
			}
		}
		if op := r.settle; op != nil && op.err == nil && op.stillPending && !op.due.After(now) {
			in.wake(op.d.Target)
		}
	}
	return nil
}

// writeEvent stages every key of one new event: dedup marker, record, ID
// index, and per target its state, queue entry and status index entry.
// An unrouted event is final from the start, so it expires after the
// retention like any settled event.
func writeEvent(txn *badger.Txn, r *request, dedupUntil, keepUntil uint64) error {
	seq := r.seq
	var until uint64
	if len(r.targets) == 0 {
		until = keepUntil
	}
	entries := []*badger.Entry{
		{Key: r.dedup, Value: appendU64(nil, seq), ExpiresAt: max(dedupUntil, r.dedupUntil)},
		{Key: eventKey(seq), Value: r.record, ExpiresAt: until},
		{Key: idKey(r.id, seq), ExpiresAt: until},
	}
	if len(r.targets) == 0 {
		entries = append(entries, &badger.Entry{Key: globalKey(codeUnrouted, seq), ExpiresAt: until})
	}
	due := u64ToTime(r.recv)
	for _, t := range r.targets {
		st := stateRecord{target: t, code: codePending, due: due, since: due, updated: due,
			orderKey: r.orderKeys[t], line: seq}
		entries = append(entries,
			&badger.Entry{Key: stateKey(seq, t), Value: st.encode()},
			queueEntry(&st, seq),
			&badger.Entry{Key: statusKey(codePending, t, seq)},
		)
	}
	for _, e := range entries {
		if err := txn.SetEntry(e); err != nil {
			return err
		}
	}
	return nil
}
