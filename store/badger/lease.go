package badger

import (
	"context"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
)

// Leases live in memory only: one process owns the directory. A crash
// forgets them, which is what we want: after a restart every unsettled
// entry is simply due again.
type leaseKey struct {
	target string
	seq    uint64
}

type lease struct {
	token uint64
	until time.Time // zero: held until settled
}

// queuePos is a position in one target's queue. Settled entries leave
// tombstones at the front of the queue that an iterator would step over on
// every Lease until compaction drops them, so Lease starts each scan at a
// remembered position instead: at most the smallest live entry.
//
// The invariant "the remembered position is at or before every live
// entry" holds because Lease raises it only to the first entry of its own
// snapshot while holding leaseMu, and every writer that inserts a queue
// entry lowers it under leaseMu after its commit, so either the snapshot
// contains the entry or the lowering comes after the raise.
type queuePos struct {
	due, seq uint64
}

func (p queuePos) before(q queuePos) bool {
	return p.due < q.due || (p.due == q.due && p.seq < q.seq)
}

// queueEnd is the position after every entry: the queue was empty.
var queueEnd = queuePos{due: ^uint64(0), seq: ^uint64(0)}

// lowerScanFrom records, after a commit, that target's queue has an entry
// at pos; leaseMu must be held.
func (in *Store) lowerScanFrom(target string, pos queuePos) {
	if from, ok := in.scanFrom[target]; ok && pos.before(from) {
		in.scanFrom[target] = pos
	}
}

// Lease returns up to max queue entries of target that are due now and not
// leased, oldest due first. Leases live in this process's memory and are
// held until settled or released: one process owns the directory, and a
// crash forgets every lease, which makes each unsettled entry due again.
func (in *Store) Lease(_ context.Context, target string, max int) ([]store.Delivery, error) {
	return in.lease(target, in.now(), max, 0)
}

// lease is Lease at a given time, each entry leased for leaseFor (zero or
// less: until it is settled), so tests can let leases expire. It walks the
// due-ordered queue keys and stops at the first entry not yet due, so a
// large backlog is never loaded at once.
func (in *Store) lease(target string, now time.Time, max int, leaseFor time.Duration) ([]store.Delivery, error) {
	if max <= 0 {
		return nil, nil
	}
	if err := in.enter(); err != nil {
		return nil, err
	}
	defer in.life.RUnlock()

	type pick struct {
		due   time.Time
		seq   uint64
		token uint64
	}
	var picks []pick
	in.leaseMu.Lock()
	// The snapshot starts after the lock is taken. Settling releases a
	// lease only after its commit, so every entry this snapshot still
	// shows is either unsettled or still leased (and skipped below).
	txn := in.db.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{Prefix: queuePrefix(target)})
	if from, ok := in.scanFrom[target]; ok {
		it.Seek(appendU64(appendU64(queuePrefix(target), from.due), from.seq))
	} else {
		it.Rewind()
	}
	first := queueEnd
	limit := timeToU64(now)
	sc := in.newLeaseScan(target)
	for ; it.Valid() && len(picks) < max && !sc.done(); it.Next() {
		due, seq, err := parseQueueKey(it.Item().Key())
		if err != nil {
			continue
		}
		if first == queueEnd {
			first = queuePos{due: timeToU64(due), seq: seq}
		}
		if timeToU64(due) > limit {
			break
		}
		k := leaseKey{target: target, seq: seq}
		ordered, head := in.lineSpot(target, it.Item())
		sc.see(ordered, head)
		if l, held := in.leases[k]; held && (l.until.IsZero() || now.Before(l.until)) {
			continue
		}
		if ordered && !head {
			// Behind another pending entry of its order key.
			continue
		}
		in.nextLease++
		l := lease{token: in.nextLease}
		if leaseFor > 0 {
			l.until = now.Add(leaseFor)
		}
		in.leases[k] = l
		picks = append(picks, pick{due: due, seq: seq, token: l.token})
	}
	it.Close()
	in.scanFrom[target] = first
	in.leaseMu.Unlock()

	out := make([]store.Delivery, 0, len(picks))
	for _, p := range picks {
		d, err := loadDelivery(txn, target, p.seq)
		if err != nil {
			// The entry stays leased so a damaged record is retried once
			// per lease period instead of on every call.
			in.log.Error("loading queued event",
				zap.String("target", target), zap.Uint64("seq", p.seq), zap.Error(err))
			continue
		}
		d.Due, d.Handle = p.due, p.token
		out = append(out, d)
	}
	return out, nil
}

func loadDelivery(txn *badger.Txn, target string, seq uint64) (store.Delivery, error) {
	item, err := txn.Get(eventKey(seq))
	if err != nil {
		return store.Delivery{}, err
	}
	var ev store.Event
	if err := item.Value(func(v []byte) (err error) {
		ev, err = decodeEvent(v, true)
		return err
	}); err != nil {
		return store.Delivery{}, err
	}
	st, err := loadState(txn, seq, target)
	if err != nil {
		return store.Delivery{}, err
	}
	return store.Delivery{Event: ev, Seq: seq, Target: target, Attempts: st.runAttempts, Since: st.since, OrderKey: st.orderKey}, nil
}

// Release gives a leased delivery back without recording an attempt, so
// the next Lease hands it out again at its current due time. The
// dispatcher releases what it leased but did not try: the batch it held
// when it stopped, entries taken while the target's circuit is open.
// Releasing a delivery that is no longer leased is a no-op.
func (in *Store) Release(d store.Delivery) {
	in.release(d.Target, d.Seq, leaseToken(d))
	in.wake(d.Target)
}

// leaseToken is the lease a Delivery carries; zero (no lease) for one
// that Lease did not hand out.
func leaseToken(d store.Delivery) uint64 {
	token, _ := d.Handle.(uint64)
	return token
}

func (in *Store) release(target string, seq, token uint64) {
	k := leaseKey{target: target, seq: seq}
	in.leaseMu.Lock()
	if l, ok := in.leases[k]; ok && l.token == token {
		delete(in.leases, k)
	}
	in.leaseMu.Unlock()
}

// expireLeases forgets leases whose holder never settled them, so the map
// cannot grow from abandoned deliveries.
func (in *Store) expireLeases() {
	now := in.now()
	in.leaseMu.Lock()
	for k, l := range in.leases {
		if !l.until.IsZero() && !now.Before(l.until) {
			delete(in.leases, k)
		}
	}
	in.leaseMu.Unlock()
}
