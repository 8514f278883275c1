package nats

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// TestViewQueuesLineHeadsOnly: a target's due queue holds its unordered
// entries and the head of each line, so a long line behind a blocked
// head costs Lease nothing; a head leaving its line queues the next one
// and signals the target.
func TestViewQueuesLineHeadsOnly(t *testing.T) {
	subj := subjects{prefix: "t"}
	var signals []string
	v := newView(subj, func(target string) { signals = append(signals, target) })
	seq := uint64(0)
	put := func(subject string, data []byte) uint64 {
		seq++
		v.apply(subject, seq, time.Now(), nats.Header{}, data)
		return seq
	}
	putState := func(key string, st stateMsg) {
		data, err := json.Marshal(&st)
		if err != nil {
			t.Fatal(err)
		}
		put(subj.state(key, "app"), data)
	}
	due := time.Unix(1000, 0)
	accept := func(id, orderKey string) {
		rec, err := encodeRecord(&eventMeta{ID: id, Source: "s", Targets: []string{"app"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		put(subj.event(id), rec)
		putState(id, stateMsg{Status: store.StatusPending, Due: due, Key: orderKey})
	}
	const n = 1000
	for i := range n {
		accept(fmt.Sprintf("k%04d", i), "K")
	}
	accept("u", "")
	accept("m", "M")
	tgt := v.targets["app"]
	if got := tgt.queue.Len(); got != 3 {
		t.Fatalf("queue holds %d entries, want 3 (k0000, m, u)", got)
	}
	if len(tgt.pending) != n+2 {
		t.Fatalf("%d pending, want %d", len(tgt.pending), n+2)
	}
	head := v.events["k0000"].states["app"]
	if !head.queued || v.events["k0001"].states["app"].queued {
		t.Fatal("k0000 should be queued and k0001 not")
	}
	// Leased and retried, the head keeps its place and its line.
	st := head.msg
	st.Holder = "gw"
	putState("k0000", st)
	st.Holder, st.Due, st.Run = "", due.Add(time.Hour), 1
	putState("k0000", st)
	if got := v.events["k0000"].states["app"]; !got.queued || got.msg.Line != head.msg.Line || tgt.queue.Len() != 3 {
		t.Fatalf("after a retry: queued %v, line %d (want %d), queue %d", got.queued, got.msg.Line, head.msg.Line, tgt.queue.Len())
	}
	// Delivered, it lets the next one to the front.
	signals = nil
	st.Status, st.Due = store.StatusDelivered, time.Time{}
	putState("k0000", st)
	if !v.events["k0001"].states["app"].queued || tgt.queue.Len() != 3 || len(signals) == 0 {
		t.Fatalf("after the head's ack: k0001 queued %v, queue %d, signals %v",
			v.events["k0001"].states["app"].queued, tgt.queue.Len(), signals)
	}
	// Replayed, k0001 goes to the back: k0002 is in front.
	putState("k0001", requeued(v.events["k0001"].states["app"].msg, due, due))
	if !v.events["k0002"].states["app"].queued || v.events["k0001"].states["app"].queued {
		t.Fatal("after replaying k0001: k0002 should be in front, k0001 at the back")
	}
	var back string
	tgt.lines.Ascend(func(st *vState) bool {
		if st.msg.Key == "K" {
			back = st.ev.key
		}
		return true
	})
	if back != "k0001" {
		t.Fatalf("back of line K is %s, want k0001", back)
	}
}
