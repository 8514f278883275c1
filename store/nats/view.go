package nats

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/google/btree"
	"github.com/nats-io/nats.go"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// view is this store's copy of the stream's records without bodies, kept
// in stream order by an ordered consumer (follow.go). Reads answer from
// it once it has caught up with the cluster; writes go to the cluster,
// conditional on the sequence the view last saw of their subject, and
// wait until the view has applied them.
type view struct {
	subj   subjects
	signal func(target string)

	mu      sync.RWMutex
	applied uint64        // stream sequence of the last message applied
	moved   chan struct{} // closed and replaced at each apply
	events  map[string]*vEvent
	order   *btree.BTreeG[*vEvent]          // by seq
	ids     map[string]map[string][]*vEvent // id, source: by seq
	targets map[string]*vTarget
	holders map[string]time.Time // holder: time of its last heartbeat
	paused  map[string]bool
	dirty   []lineRef // lines changed by the message being applied

	stopMu  sync.Mutex
	stopped bool
	iter    interface{ Stop() }
}

type vEvent struct {
	key    string
	seq    uint64
	meta   *eventMeta
	states map[string]*vState
}

type vState struct {
	target string
	seq    uint64 // of the state message, for conditional writes
	msg    stateMsg
	ev     *vEvent
	queued bool // in its target's queue
}

type vTarget struct {
	pending map[*vState]struct{}
	// queue holds the pending states Lease may hand out, by due time,
	// then event seq: every unordered one and the head of each line.
	queue *btree.BTreeG[*vState]
	// lines and heads hold the ordered pending states (ordering.go); nil
	// until the target has one.
	lines *btree.BTreeG[*vState]
	heads map[string]*vState
	dead  int64
}

// dueOrder orders a target's queue: oldest due first, then oldest event.
func dueOrder(a, b *vState) bool {
	if c := a.msg.Due.Compare(b.msg.Due); c != 0 {
		return c < 0
	}
	return a.ev.seq < b.ev.seq
}

func newView(subj subjects, signal func(string)) *view {
	return &view{
		subj: subj, signal: signal, moved: make(chan struct{}),
		events: make(map[string]*vEvent), ids: make(map[string]map[string][]*vEvent),
		order:   btree.NewG(32, func(a, b *vEvent) bool { return a.seq < b.seq }),
		targets: make(map[string]*vTarget), holders: make(map[string]time.Time), paused: make(map[string]bool),
	}
}

// apply applies one message of the stream, in order.
func (v *view) apply(subject string, seq uint64, ts time.Time, hdr nats.Header, data []byte) {
	var signals []string
	v.mu.Lock()
	defer func() {
		v.mu.Unlock()
		for _, t := range signals {
			v.signal(t)
		}
	}()
	if seq <= v.applied {
		return
	}
	v.applied = seq
	close(v.moved)
	v.moved = make(chan struct{})

	kind, rest, ok := v.subj.parse(subject)
	if !ok || len(rest) == 0 {
		return
	}
	del := hdr.Get(hdrOp) == opDel
	switch kind {
	case kindEvent:
		key := rest[0]
		if del {
			v.dropEvent(key)
			signals = v.fixLines()
			return
		}
		if _, ok := v.events[key]; ok {
			return
		}
		m, _, err := decodeRecord(data)
		if err != nil {
			return
		}
		v.addEvent(&vEvent{key: key, seq: seq, meta: m, states: make(map[string]*vState)})
	case kindState:
		if len(rest) != 2 {
			return
		}
		ev := v.events[rest[0]]
		target, ok := untoken(rest[1])
		if ev == nil || !ok {
			return
		}
		if old := ev.states[target]; old != nil {
			v.untrack(old)
			delete(ev.states, target)
		}
		if del {
			signals = v.fixLines()
			return
		}
		st := &vState{target: target, seq: seq, ev: ev}
		if err := json.Unmarshal(data, &st.msg); err != nil {
			signals = v.fixLines()
			return
		}
		if st.msg.Key != "" && st.msg.Line == 0 {
			st.msg.Line = seq // (re)entering its line: its own sequence is its place
		}
		ev.states[target] = st
		v.track(st)
		signals = v.fixLines()
		if st.queued && st.msg.Holder == "" {
			signals = append(signals, target)
		}
	case kindHeart:
		if del {
			delete(v.holders, rest[0])
			for t := range v.targets {
				signals = append(signals, t)
			}
			return
		}
		v.holders[rest[0]] = ts
	case kindPause:
		target, ok := untoken(rest[0])
		if !ok {
			return
		}
		if del {
			delete(v.paused, target)
		} else {
			v.paused[target] = true
		}
	}
}

func (v *view) addEvent(ev *vEvent) {
	v.events[ev.key] = ev
	v.order.ReplaceOrInsert(ev)
	bySource := v.ids[ev.meta.ID]
	if bySource == nil {
		bySource = make(map[string][]*vEvent)
		v.ids[ev.meta.ID] = bySource
	}
	bySource[ev.meta.Source] = append(bySource[ev.meta.Source], ev)
}

func (v *view) dropEvent(key string) {
	ev := v.events[key]
	if ev == nil {
		return
	}
	for _, st := range ev.states {
		v.untrack(st)
	}
	delete(v.events, key)
	v.order.Delete(ev)
	bySource := v.ids[ev.meta.ID]
	list := slices.DeleteFunc(bySource[ev.meta.Source], func(e *vEvent) bool { return e == ev })
	if len(list) == 0 {
		delete(bySource, ev.meta.Source)
	} else {
		bySource[ev.meta.Source] = list
	}
	if len(bySource) == 0 {
		delete(v.ids, ev.meta.ID)
	}
}

// each calls f on every event, oldest first, until f returns false. The
// caller holds v.mu.
func (v *view) each(f func(*vEvent) bool) { v.order.Ascend(f) }

func (v *view) target(name string) *vTarget {
	t := v.targets[name]
	if t == nil {
		t = &vTarget{pending: make(map[*vState]struct{}), queue: btree.NewG(16, dueOrder)}
		v.targets[name] = t
	}
	return t
}

func (v *view) track(st *vState) {
	switch st.msg.Status {
	case store.StatusPending:
		t := v.target(st.target)
		t.pending[st] = struct{}{}
		if st.ordered() {
			v.joinLine(t, st)
			return
		}
		t.queue.ReplaceOrInsert(st)
		st.queued = true
	case store.StatusDead:
		v.target(st.target).dead++
	}
}

func (v *view) untrack(st *vState) {
	t := v.targets[st.target]
	if t == nil {
		return
	}
	switch st.msg.Status {
	case store.StatusPending:
		delete(t.pending, st)
		if st.ordered() {
			v.leaveLine(t, st)
		} else {
			t.queue.Delete(st)
			st.queued = false
		}
	case store.StatusDead:
		t.dead--
	}
	if len(t.pending) == 0 && t.dead == 0 {
		delete(v.targets, st.target)
	}
}

// waitFor returns once the view has applied the stream up to seq.
func (v *view) waitFor(ctx context.Context, seq uint64) error {
	for {
		v.mu.RLock()
		applied, moved := v.applied, v.moved
		v.mu.RUnlock()
		if applied >= seq {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-moved:
		}
	}
}

// find returns the newest event (source, id), any source when source is
// empty; see store.Catalog.Get. The caller holds v.mu.
func (v *view) find(source, id string) (*vEvent, error) {
	bySource := v.ids[id]
	if source != "" {
		list := bySource[source]
		if len(list) == 0 {
			return nil, store.ErrNotFound
		}
		return list[len(list)-1], nil
	}
	switch len(bySource) {
	case 0:
		return nil, store.ErrNotFound
	case 1:
		for _, list := range bySource {
			return list[len(list)-1], nil
		}
	}
	amb := &store.AmbiguousError{ID: id}
	for src := range bySource {
		amb.Sources = append(amb.Sources, src)
	}
	slices.Sort(amb.Sources)
	return nil, amb
}

// record builds the public record of ev (without body). The caller holds
// v.mu.
func (ev *vEvent) record() store.EventRecord {
	rec := store.EventRecord{Event: ev.meta.event(nil), Seq: ev.seq}
	targets := make([]string, 0, len(ev.states))
	for t := range ev.states {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	rec.Deliveries = make([]store.TargetState, len(targets))
	for i, t := range targets {
		rec.Deliveries[i] = ev.states[t].msg.public(t)
	}
	rec.Status = ev.status()
	return rec
}

// status sums up ev's targets. The caller holds v.mu.
func (ev *vEvent) status() store.Status {
	if len(ev.meta.Targets) == 0 {
		return store.StatusUnrouted
	}
	dead := false
	for _, st := range ev.states {
		switch st.msg.Status {
		case store.StatusPending:
			return store.StatusPending
		case store.StatusDead:
			dead = true
		}
	}
	if dead {
		return store.StatusDead
	}
	return store.StatusDelivered
}

// alive reports whether holder's leases still hold. The caller holds v.mu.
func (v *view) alive(holder, self string, ttl time.Duration) bool {
	if holder == "" {
		return false
	}
	if holder == self {
		return true
	}
	at, ok := v.holders[holder]
	return ok && time.Since(at) < ttl
}
