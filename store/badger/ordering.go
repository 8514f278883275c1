package badger

import (
	"encoding/binary"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// Ordered delivery (order_by, the Queue contract's "Ordering").
//
// Durable part: an ordered entry's target state carries its order key and
// its line position (stateRecord.orderKey, .line), and so does its queue
// entry, as the value of its q/ key, flagged with the metaOrdered user
// meta byte so Lease tells ordered entries apart without reading a value.
// An accepted entry's position is its seq; a replay takes a fresh seq
// from the same counter (Requeue, ReplayDead), so it goes behind every
// entry already in line and ahead of every event received later.
//
// In-memory part: lines holds, per (target, key), the sorted positions of
// the entries still pending, so "is this entry the head of its line" is a
// map lookup in Lease. It is rebuilt on Open from the q/ entries that
// carry the flag (every pending entry has exactly one), and changed after
// each commit under leaseMu, like the scan positions (lease.go): an
// entry's position is added after the commit that queues it and removed
// after the commit that settles it, so a Lease in between sees the entry
// not yet (or still) in line and holds back what stands behind it, which
// errs on the side of order; the commit's wake-up then triggers a new
// Lease.
//
// Cost: an unordered entry pays nothing. An ordered entry's held-back
// successors stay in the due-ordered queue, and Lease steps over them
// (a key and a map lookup each) on its way to the entries it can hand
// out. It stops early once it has seen the head of every line of the
// target and as many unordered entries as are pending (leaseScan), so a
// backlog of a few keys costs a scan only up to their heads, not to the
// end of the queue; but a line whose head waits for a retry is not seen
// before its due time, so a long backlog behind such a head costs every
// Lease of the target a scan of that backlog's due part.
const metaOrdered byte = 1

// lineKey names one line.
type lineKey struct {
	target, key string
}

// queueValue is the value of an ordered entry's q/ key: its key and line
// position.
func queueValue(key string, line uint64) []byte {
	b := make([]byte, 0, 2+len(key)+seqLength)
	b = appendString(b, key)
	return appendU64(b, line)
}

// parseQueueValue reads queueValue.
func parseQueueValue(v []byte) (key string, line uint64, ok bool) {
	n, w := binary.Uvarint(v)
	if w <= 0 || uint64(len(v)-w) != n+seqLength {
		return "", 0, false
	}
	return string(v[w : w+int(n)]), binary.BigEndian.Uint64(v[w+int(n):]), true
}

// queueEntry is the q/ entry of a pending state: flagged and valued when
// the state is ordered.
func queueEntry(st *stateRecord, seq uint64) *badger.Entry {
	e := badger.NewEntry(queueKey(st.target, st.due, seq), nil)
	if st.orderKey != "" {
		e.Value = queueValue(st.orderKey, st.line)
		e.UserMeta = metaOrdered
	}
	return e
}

// lineChange is one position joining or leaving a line, applied once its
// commit is durable.
type lineChange struct {
	lineKey
	line uint64
	join bool
}

// applyLines applies committed line changes; leaseMu must be held. It
// returns the targets whose line heads moved, which the caller wakes
// after releasing leaseMu: an entry held back may be leasable now.
func (in *Store) applyLines(changes []lineChange) []string {
	var woken []string
	for _, c := range changes {
		ls := in.lines[c.lineKey]
		i, found := slices.BinarySearch(ls, c.line)
		switch {
		case c.join && !found:
			if len(ls) == 0 {
				in.lineCount[c.target]++
			}
			ls = slices.Insert(ls, i, c.line)
			in.orderedCount[c.target]++
		case !c.join && found:
			ls = slices.Delete(ls, i, i+1)
			if i == 0 && len(ls) > 0 {
				woken = append(woken, c.target)
			}
			in.orderedCount[c.target]--
		default:
			continue
		}
		if len(ls) == 0 {
			delete(in.lines, c.lineKey)
			if in.lineCount[c.target]--; in.lineCount[c.target] <= 0 {
				delete(in.lineCount, c.target)
				delete(in.orderedCount, c.target)
			}
			continue
		}
		in.lines[c.lineKey] = ls
	}
	return woken
}

// commitLines applies line changes after their commit and wakes the
// targets whose heads moved.
func (in *Store) commitLines(changes []lineChange) {
	if len(changes) == 0 {
		return
	}
	in.leaseMu.Lock()
	woken := in.applyLines(changes)
	in.leaseMu.Unlock()
	for _, t := range woken {
		in.wake(t)
	}
}

// lineSpot tells where a queue entry (its q/ item) stands: ordered or
// not, and if ordered whether it heads its line; leaseMu must be held.
// An ordered entry that is not (yet) in line is not a head: its commit's
// wake-up comes once it is.
func (in *Store) lineSpot(target string, item *badger.Item) (ordered, head bool) {
	if item.UserMeta()&metaOrdered == 0 {
		return false, false
	}
	var (
		key  string
		line uint64
		ok   bool
	)
	if err := item.Value(func(v []byte) error {
		key, line, ok = parseQueueValue(v)
		return nil
	}); err != nil || !ok {
		// A damaged value must not stop the queue: deliver unordered.
		return false, false
	}
	ls := in.lines[lineKey{target: target, key: key}]
	return true, len(ls) > 0 && ls[0] == line
}

// leaseScan lets a Lease of a target with ordered entries stop once
// nothing further in the queue can be leasable: every line's head and as
// many unordered entries as are pending have been seen. The counts are
// read after their commits, so at worst they make a Lease stop before an
// entry whose commit's wake-up then triggers the next one.
type leaseScan struct {
	lines, unordered int // to see
	heads, free      int // seen
}

// newLeaseScan reads the target's counts; leaseMu must be held.
func (in *Store) newLeaseScan(target string) leaseScan {
	sc := leaseScan{lines: in.lineCount[target]}
	if sc.lines == 0 {
		return sc
	}
	in.countMu.Lock()
	pending := in.pending[target]
	in.countMu.Unlock()
	sc.unordered = int(pending) - in.orderedCount[target]
	return sc
}

func (sc *leaseScan) see(ordered, head bool) {
	switch {
	case !ordered:
		sc.free++
	case head:
		sc.heads++
	}
}

// done reports whether the rest of the queue holds nothing leasable.
func (sc *leaseScan) done() bool {
	return sc.lines > 0 && sc.heads >= sc.lines && sc.free >= sc.unordered
}

// loadLines rebuilds the lines from the flagged q/ entries.
func (in *Store) loadLines(txn *badger.Txn) error {
	prefix := appendNS(nil, nsQueue)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		if item.UserMeta()&metaOrdered == 0 {
			continue
		}
		target, ok := queueKeyTarget(item.Key())
		if !ok {
			continue
		}
		if err := item.Value(func(v []byte) error {
			if key, line, ok := parseQueueValue(v); ok {
				k := lineKey{target: target, key: key}
				if len(in.lines[k]) == 0 {
					in.lineCount[target]++
				}
				in.lines[k] = append(in.lines[k], line)
				in.orderedCount[target]++
			}
			return nil
		}); err != nil {
			return err
		}
	}
	for k, ls := range in.lines {
		slices.Sort(ls)
		// One q/ entry per pending delivery: no position repeats.
		in.lines[k] = ls
	}
	return nil
}

// queueKeyTarget reads the target of a queue key.
func queueKeyTarget(key []byte) (string, bool) {
	if len(key) < 2+1+2*seqLength {
		return "", false
	}
	rest := key[2 : len(key)-2*seqLength]
	n, w := binary.Uvarint(rest)
	if w <= 0 || uint64(len(rest)-w) != n {
		return "", false
	}
	return string(rest[w:]), true
}
