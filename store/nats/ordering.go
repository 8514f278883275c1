package nats

import (
	"github.com/google/btree"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Ordered delivery (order_by, the Queue contract's "Ordering").
//
// Durable part: an ordered entry's state carries its order key and its
// place in the key's line (stateMsg.Key, .Line), and the event record
// carries every target's key (eventMeta.OrderKeys). The place is a stream
// sequence: the one of the state message that put the entry in line. The
// message that (re)enters the line (Accept's pending state, a replay's)
// writes Line 0, which stands for its own sequence; the view fills that
// in, so every later write of the entry (lease, retry, release) copies
// the number. The stream leader hands out sequences in one order for
// every gateway, and an entry joins behind every entry written before
// it: an accepted entry in receive order, a replayed one at the back of
// its line, ahead of every event received later. A restart reads the
// same places back from the last message of each state.
//
// In-memory part, per target of the view: lines holds the ordered
// pending states by (key, place); heads the one per key at the front of
// its line. A target's due queue holds its unordered pending states and
// the heads only, so Lease scans exactly what it could hand out, and an
// unordered target's queue is as before. A head stays in its line and in
// the queue while it is leased or waiting for a retry, so its key's other
// entries stay out of reach; once it leaves the line (delivered, dead,
// deleted, or replayed to the back), the next one in line joins the
// queue and the target's watchers are signalled.
//
// Safety across gateways: a view is a prefix of the stream. When it shows
// an entry at the front of its line, every entry ahead of it has left the
// line at that point of the stream, and none can come back ahead of it:
// a revived entry takes a new, later place. The lease itself is
// conditional on the entry's own last sequence, as for any entry.

// lineOrder orders a target's ordered pending states: by key, then place,
// then event seq.
func lineOrder(a, b *vState) bool {
	if a.msg.Key != b.msg.Key {
		return a.msg.Key < b.msg.Key
	}
	if a.msg.Line != b.msg.Line {
		return a.msg.Line < b.msg.Line
	}
	return a.ev.seq < b.ev.seq
}

// ordered reports whether st stands in a line: pending with a key.
func (st *vState) ordered() bool {
	return st.msg.Status == store.StatusPending && st.msg.Key != ""
}

// joinLine puts a pending ordered state in its line; the line's head is
// fixed by fixLines. The caller holds v.mu.
func (v *view) joinLine(t *vTarget, st *vState) {
	if t.lines == nil {
		t.lines = btree.NewG(16, lineOrder)
		t.heads = make(map[string]*vState)
	}
	t.lines.ReplaceOrInsert(st)
	v.dirty = append(v.dirty, lineRef{target: st.target, key: st.msg.Key})
}

// leaveLine takes a state out of its line (and out of the queue when it
// was the head); the new head is fixed by fixLines. The caller holds
// v.mu.
func (v *view) leaveLine(t *vTarget, st *vState) {
	if t.lines == nil {
		return
	}
	t.lines.Delete(st)
	if st.queued {
		t.queue.Delete(st)
		st.queued = false
	}
	if t.heads[st.msg.Key] == st {
		delete(t.heads, st.msg.Key)
	}
	v.dirty = append(v.dirty, lineRef{target: st.target, key: st.msg.Key})
}

// lineRef names one line.
type lineRef struct{ target, key string }

// fixLines puts the front entry of every line changed since the last
// call in its target's queue, and takes a former head that is no longer
// in front out. It returns the targets that gained a leasable head, for
// their watchers. The caller holds v.mu.
func (v *view) fixLines() (signals []string) {
	for _, l := range v.dirty {
		t := v.targets[l.target]
		if t == nil || t.lines == nil {
			continue
		}
		var front *vState
		t.lines.AscendGreaterOrEqual(&vState{msg: stateMsg{Key: l.key}, ev: &vEvent{}}, func(st *vState) bool {
			if st.msg.Key == l.key {
				front = st
			}
			return false
		})
		old := t.heads[l.key]
		if old == front && (front == nil || front.queued) {
			continue
		}
		if old != nil && old.queued {
			t.queue.Delete(old)
			old.queued = false
		}
		if front == nil {
			delete(t.heads, l.key)
			continue
		}
		t.heads[l.key] = front
		t.queue.ReplaceOrInsert(front)
		front.queued = true
		if front.msg.Holder == "" {
			signals = append(signals, l.target)
		}
	}
	v.dirty = v.dirty[:0]
	return signals
}
