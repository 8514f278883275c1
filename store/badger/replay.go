package badger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// replayPage is how many dead-letter index keys ReplayDead reads per read
// transaction. Pages keep memory bounded (a page holds at most this many
// records, bodies included, when a predicate needs them) and let Close and
// the committer run between pages of a long replay.
const replayPage = 256

// deadLetter names one dead delivery: an event seq and its target.
type deadLetter struct {
	target string
	seq    uint64
}

// ReplayDead re-queues the dead letters of target, or of every target when
// target is empty, that match the predicate (nil matches all): each is due
// with a fresh retry budget, like Requeue, now or spaced out by
// opts.Interval. With opts.DryRun it only counts them. It streams the
// dead-letter index page by page, so a million dead letters never sit in
// memory at once, and returns how many it re-queued (or would have). The
// predicate sees the event with its body and every target's state; it must
// not retain the record.
//
// A dead letter that settles differently while the replay runs (replayed
// by someone else, expired) is skipped and not counted.
func (in *Store) ReplayDead(_ context.Context, target string, match func(*store.EventRecord) bool, opts store.ReplayOptions) (int, error) {
	var p pace
	if opts.Interval > 0 {
		p = pace{start: in.now().Add(time.Duration(opts.Offset) * opts.Interval), interval: opts.Interval}
	}
	return in.replayDead(target, match, opts.DryRun, p)
}

// pace spreads a replay's due times; the zero pace makes all due now.
type pace struct {
	start    time.Time
	interval time.Duration
}

// due is when the n-th re-queued entry of a replay is due.
func (p pace) due(now time.Time, n int) time.Time {
	if p.start.IsZero() {
		return now
	}
	return p.start.Add(time.Duration(n) * p.interval)
}

func (in *Store) replayDead(target string, match func(*store.EventRecord) bool, dryRun bool, p pace) (int, error) {
	prefix := append(appendNS(nil, nsStatus), codeDead)
	if target != "" {
		prefix = statusPrefix(codeDead, target)
	}
	var (
		after []byte
		total int
	)
	for {
		page, last, err := in.deadPage(prefix, after, match)
		if err != nil {
			return total, fmt.Errorf("replaying dead letters: %w", err)
		}
		if dryRun {
			total += len(page)
		} else if len(page) > 0 {
			n, err := in.requeueDead(page, p, total)
			total += n
			if err != nil {
				return total, fmt.Errorf("replaying dead letters: %w", err)
			}
		}
		if last == nil {
			return total, nil
		}
		after = last
	}
}

// deadPage reads up to replayPage dead-letter keys under prefix after the
// key after (nil: from the start) and returns those matching, plus the last
// key read, or nil when the index is exhausted.
func (in *Store) deadPage(prefix, after []byte, match func(*store.EventRecord) bool) ([]deadLetter, []byte, error) {
	if err := in.enter(); err != nil {
		return nil, nil, err
	}
	defer in.life.RUnlock()
	var (
		page []deadLetter
		last []byte
	)
	err := in.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		if after == nil {
			it.Rewind()
		} else {
			// The smallest key above after.
			it.Seek(append(after, 0))
		}
		read := 0
		for ; it.Valid() && read < replayPage; it.Next() {
			read++
			key := it.Item().Key()
			t, seq, err := parseStatusKey(key)
			if err != nil {
				continue
			}
			last = append(last[:0], key...)
			if match != nil {
				rec, err := loadRecord(txn, seq, true)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if !match(rec) {
					continue
				}
			}
			page = append(page, deadLetter{target: t, seq: seq})
		}
		if !it.Valid() {
			last = nil
		}
		return nil
	})
	return page, last, err
}

// requeueDead revives a page of dead letters in one synced transaction,
// halving the page when Badger finds the transaction too big (replaying a
// settled event rewrites its record, body included). It returns how many
// were still dead and got re-queued. The n-th entry re-queued by the
// whole replay (base counts those before this page) is due as p says.
func (in *Store) requeueDead(page []deadLetter, p pace, base int) (int, error) {
	n, err := in.requeueDeadTxn(page, p, base)
	if errors.Is(err, badger.ErrTxnTooBig) && len(page) > 1 {
		half := len(page) / 2
		a, err := in.requeueDead(page[:half], p, base)
		if err != nil {
			return a, err
		}
		b, err := in.requeueDead(page[half:], p, base+a)
		return a + b, err
	}
	return n, err
}

func (in *Store) requeueDeadTxn(page []deadLetter, p pace, base int) (int, error) {
	if err := in.enter(); err != nil {
		return 0, err
	}
	defer in.life.RUnlock()
	now := in.now()
	var rq requeued
	err := in.update(func(txn *badger.Txn) error {
		rq.reset(in.lastSeq)
		for _, dl := range page {
			states, err := loadStates(txn, dl.seq)
			if err != nil {
				return err
			}
			st := findState(states, dl.target)
			if st == nil || st.code != codeDead {
				continue
			}
			before := codes(states)
			if err := rq.requeue(txn, dl.seq, st, now, p.due(now, base+len(rq.queued))); err != nil {
				return err
			}
			if err := in.saveStates(txn, dl.seq, before, states); err != nil {
				return err
			}
		}
		return in.saveLastSeq(txn, &rq)
	})
	if err != nil {
		return 0, err
	}
	in.afterRequeue(&rq, now)
	return len(rq.queued), nil
}
