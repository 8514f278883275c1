package badger

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Delete purges every stored event (source, id), whatever its status:
// the record and body, the ID index, each target's state and attempt
// history, its queue entries, the status indexes and the dedup marker.
// With the marker gone, the same event posted again by its source is
// accepted as new, which is what an operator purging an event asks for.
// The source resolves as in Get; another source's event with the same ID
// is never touched.
//
// An attempt already in flight for a purged delivery still reaches its
// target once; its result is then dropped, because the state it would
// settle is gone.
func (in *Store) Delete(_ context.Context, source, id string) error {
	if err := in.enter(); err != nil {
		return err
	}
	defer in.life.RUnlock()

	var (
		pending []string
		lines   []lineChange
	)
	err := in.update(func(txn *badger.Txn) error {
		pending, lines = pending[:0], lines[:0]
		seqs, err := findSeqs(txn, source, id)
		if err != nil {
			return err
		}
		for _, seq := range seqs {
			states, err := loadStates(txn, seq)
			if err != nil {
				return err
			}
			for _, st := range states {
				if st.code == codePending && st.orderKey != "" {
					lines = append(lines, lineChange{lineKey: lineKey{target: st.target, key: st.orderKey}, line: st.line})
				}
			}
			p, err := deleteEvent(txn, id, seq, states, true)
			if err != nil {
				return err
			}
			pending = append(pending, p...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deleting event %s: %w", id, err)
	}
	in.commitLines(lines)
	if len(pending) > 0 {
		in.countMu.Lock()
		for _, t := range pending {
			in.adjustPending(t, -1)
		}
		in.countMu.Unlock()
	}
	return nil
}

// deleteEvent stages the deletion of every key of event seq, whose target
// states the caller has loaded (the dedup marker too when dropDedup is
// set), and returns the targets it was pending for, whose counters drop
// once it commits. An empty id leaves the ID index alone, for an event
// whose record is already gone.
func deleteEvent(txn *badger.Txn, id string, seq uint64, states []*stateRecord, dropDedup bool) ([]string, error) {
	var pending []string
	for _, st := range states {
		if st.code == codePending {
			if err := txn.Delete(queueKey(st.target, st.due, seq)); err != nil {
				return nil, err
			}
			pending = append(pending, st.target)
		}
		if err := txn.Delete(statusKey(st.code, st.target, seq)); err != nil {
			return nil, err
		}
		if err := txn.Delete(stateKey(seq, st.target)); err != nil {
			return nil, err
		}
	}
	if len(states) == 0 {
		if err := txn.Delete(globalKey(codeUnrouted, seq)); err != nil {
			return nil, err
		}
	}
	if dropDedup {
		if err := deleteDedup(txn, seq); err != nil {
			return nil, err
		}
	}
	if err := txn.Delete(eventKey(seq)); err != nil {
		return nil, err
	}
	if id != "" {
		if err := txn.Delete(idKey(id, seq)); err != nil {
			return nil, err
		}
	}
	return pending, nil
}

// deleteDedup removes the dedup marker of event seq, unless the marker
// already names a newer event with the same source and ID.
func deleteDedup(txn *badger.Txn, seq uint64) error {
	item, err := txn.Get(eventKey(seq))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var ev store.Event
	if err := item.Value(func(v []byte) (err error) {
		ev, err = decodeEvent(v, false)
		return err
	}); err != nil {
		return err
	}
	key := dedupKey(ev.Source, ev.ID)
	item, err = txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	val, err := item.ValueCopy(nil)
	if err != nil {
		return err
	}
	if len(val) != seqLength || seqSuffix(val) != seq {
		return nil
	}
	return txn.Delete(slices.Clip(key))
}
