package badger

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
)

// sweepBatch is how many retention entries one sweep transaction takes at
// most; fewer when Badger finds the transaction too big.
const sweepBatch = 256

// Retention. A settled event is filed once, at the moment it settles, in
// the retention index (r/<until><seq>); the sweeper walks that index in
// time order and deletes each event whose time has come. Settling thus
// costs one small key instead of rewriting the event's record and indexes
// with a Badger TTL, which measured about an eighth of the inbox's CPU per
// event under load (BENCHMARKS.md). Dedup markers keep their own TTL.

// sweepAndLog runs the sweeper once, as the inbox does every
// SweepInterval, and logs what went wrong.
func (in *Store) sweepAndLog() {
	if _, err := in.sweep(); err != nil && !errors.Is(err, store.ErrClosed) {
		in.log.Warn("deleting expired events failed", zap.String("dir", in.dir), zap.Error(err))
	}
}

// sweep deletes every settled event whose retention has passed and returns
// how many it deleted. An entry can be stale: the event was replayed (it
// has a pending target again and is filed anew when it settles), settled
// again later, or deleted; stale entries are dropped or moved, never acted
// on. Each batch holds the inbox open on its own, so Close waits for one
// batch at most however much has expired.
func (in *Store) sweep() (int, error) {
	defer in.recoverPanic("retention sweep")
	total, batch := 0, sweepBatch
	for {
		deleted, seen, err := in.sweepBatch(batch)
		if errors.Is(err, badger.ErrTxnTooBig) && batch > 1 {
			batch /= 2
			continue
		}
		if err != nil {
			return total, fmt.Errorf("deleting expired events: %w", err)
		}
		total += deleted
		if seen < batch {
			return total, nil
		}
	}
}

// sweepBatch handles up to n due retention entries in one transaction and
// returns how many events it deleted and how many entries it handled.
func (in *Store) sweepBatch(n int) (deleted, seen int, err error) {
	if err := in.enter(); err != nil {
		return 0, 0, err
	}
	defer in.life.RUnlock()
	now := in.now()
	retention := in.policy.Load().Retention
	err = in.update(func(txn *badger.Txn) error {
		deleted = 0
		keys, err := dueRetainKeys(txn, now, n)
		if err != nil {
			return err
		}
		seen = len(keys)
		for _, key := range keys {
			done, err := sweepOne(txn, key, now, retention)
			if err != nil {
				return err
			}
			if done {
				deleted++
			}
		}
		return nil
	})
	return deleted, seen, err
}

// dueRetainKeys returns up to n retention index keys due at now, oldest
// first.
func dueRetainKeys(txn *badger.Txn, now time.Time, n int) ([][]byte, error) {
	prefix := appendNS(nil, nsRetain)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var keys [][]byte
	for it.Rewind(); it.Valid() && len(keys) < n; it.Next() {
		key := it.Item().KeyCopy(nil)
		until, _, err := parseRetainKey(key)
		if err != nil {
			return nil, err
		}
		if until.After(now) {
			break
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// sweepOne handles one due retention entry and reports whether it deleted
// the event.
func sweepOne(txn *badger.Txn, key []byte, now time.Time, retention time.Duration) (bool, error) {
	_, seq, err := parseRetainKey(key)
	if err != nil {
		return false, err
	}
	if err := txn.Delete(key); err != nil {
		return false, err
	}
	states, err := loadStates(txn, seq)
	if err != nil || len(states) == 0 || !allSettled(codes(states)) {
		// Gone, or replayed: nothing to do until it settles again.
		return false, err
	}
	if until := lastUpdate(states).Add(retention); until.After(now) {
		// Settled again after a replay, or the retention grew.
		return false, txn.Set(retainKey(until, seq), nil)
	}
	id, err := eventIDOf(txn, seq)
	if errors.Is(err, badger.ErrKeyNotFound) {
		id = ""
	} else if err != nil {
		return false, err
	}
	if _, err := deleteEvent(txn, id, seq, states, false); err != nil {
		return false, err
	}
	return true, nil
}

// eventIDOf reads the ID of event seq from its record.
func eventIDOf(txn *badger.Txn, seq uint64) (string, error) {
	item, err := txn.Get(eventKey(seq))
	if err != nil {
		return "", err
	}
	var id string
	err = item.Value(func(v []byte) error {
		ev, err := decodeEvent(v, false)
		id = ev.ID
		return err
	})
	return id, err
}
