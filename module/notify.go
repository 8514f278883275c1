package module

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/relay"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Target-health events: with `notify <target>`, the app tells that target
// when another target's circuit opens or closes, in the shape of the
// seed's provider.unavailable and provider.recovered events. They are
// ordinary events of the source "inbox": stored first, then delivered and
// signed like any other, retried while the notify target is down, and
// listed by the admin API.
const (
	notifySource    = "inbox"
	eventTargetDown = "inbox.target_down"
	eventTargetUp   = "inbox.target_recovered"
)

// notifyQueue bounds the circuit changes waiting to be stored; beyond it
// they are logged and dropped, never blocking a delivery worker.
const notifyQueue = 256

// notifyTimeout bounds storing one target-health event.
const notifyTimeout = 10 * time.Second

// circuitChange is one circuit opening or closing, as the dispatcher
// reported it.
type circuitChange struct {
	target string
	open   bool
	at     time.Time
}

// notifier turns circuit changes into target-health events. The
// dispatcher reports changes from its workers and from SetTargets (which
// runs under the store handle's lock), so OnCircuit only queues; one
// goroutine stores the events in the order the changes happened.
type notifier struct {
	deliveryObserver // attempts go to the delivery metrics

	h       *storeHandle
	changes chan circuitChange
	done    chan struct{}
	once    sync.Once
	log     *zap.Logger

	// Touched by the notifier goroutine only.
	downSince map[string]time.Time
}

func newNotifier(h *storeHandle, log *zap.Logger) *notifier {
	n := &notifier{
		h:         h,
		changes:   make(chan circuitChange, notifyQueue),
		done:      make(chan struct{}),
		log:       log,
		downSince: make(map[string]time.Time),
	}
	go n.run()
	return n
}

// OnCircuit queues a circuit change without blocking.
func (n *notifier) OnCircuit(target string, open bool) {
	select {
	case n.changes <- circuitChange{target: target, open: open, at: time.Now()}:
	default:
		n.log.Error("too many circuit changes waiting; target-health event dropped",
			zap.String("target", target), zap.Bool("open", open))
	}
}

// close stops the goroutine after it has stored what is queued. The
// dispatcher must be closed first, so nothing is queued afterwards.
func (n *notifier) close() {
	n.once.Do(func() { close(n.changes) })
	<-n.done
}

func (n *notifier) run() {
	defer close(n.done)
	for c := range n.changes {
		n.handle(c)
	}
}

// handle stores the event for one change, if the running config names a
// notify target other than the one that changed.
func (n *notifier) handle(c circuitChange) {
	var since time.Time
	if c.open {
		n.downSince[c.target] = c.at
	} else {
		since = n.downSince[c.target]
		delete(n.downSince, c.target)
	}
	to := n.h.notifyTarget()
	if to == "" || to == c.target {
		// A target's own health goes nowhere: it could not be delivered
		// while the target is down, and would announce itself after.
		return
	}
	var st relay.CircuitState
	if c.open {
		st = n.h.dispatcher.Circuits()[c.target]
	}
	ev, err := healthEvent(c, st, since, to)
	if err != nil {
		n.log.Error("building target-health event", zap.String("target", c.target), zap.Error(err))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	if _, err := n.h.store.Accept(ctx, ev); err != nil {
		n.log.Error("storing target-health event failed",
			zap.String("target", c.target), zap.String("event", ev.Type),
			zap.String("notify", to), zap.Error(err))
		return
	}
	n.log.Info("target-health event queued",
		zap.String("target", c.target), zap.String("event", ev.Type),
		zap.String("event_id", ev.ID), zap.String("notify", to))
}

// healthEvent builds the event for one change, routed to the target to.
func healthEvent(c circuitChange, st relay.CircuitState, since time.Time, to string) (*store.Event, error) {
	id, err := healthEventID()
	if err != nil {
		return nil, err
	}
	type downData struct {
		Target              string `json:"target"`
		Status              string `json:"status"`
		Reason              string `json:"reason"`
		ConsecutiveFailures int    `json:"consecutive_failures"`
		NextProbe           string `json:"next_probe,omitempty"`
	}
	type upData struct {
		Target string `json:"target"`
		Status string `json:"status"`
		// Seconds the circuit was open; omitted when this process did
		// not see it open (it opened before a restart).
		DowntimeDuration *int64 `json:"downtime_duration,omitempty"`
	}
	payload := struct {
		ID        string `json:"id"`
		Event     string `json:"event"`
		Timestamp string `json:"timestamp"`
		Data      any    `json:"data"`
	}{ID: id, Timestamp: c.at.UTC().Format(time.RFC3339)}
	if c.open {
		payload.Event = eventTargetDown
		d := downData{Target: c.target, Status: "unavailable", Reason: "circuit_open",
			ConsecutiveFailures: st.ConsecutiveFailures}
		if !st.NextProbe.IsZero() {
			d.NextProbe = st.NextProbe.UTC().Format(time.RFC3339)
		}
		payload.Data = d
	} else {
		payload.Event = eventTargetUp
		d := upData{Target: c.target, Status: "available"}
		if !since.IsZero() {
			secs := int64(c.at.Sub(since).Round(time.Second) / time.Second)
			d.DowntimeDuration = &secs
		}
		payload.Data = d
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	return &store.Event{
		ID:         id,
		Source:     notifySource,
		Type:       payload.Event,
		ReceivedAt: c.at,
		Body:       body,
		Targets:    []string{to},
	}, nil
}

// healthEventID is a fresh random ID, so each change is its own event.
func healthEventID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "evt_inbox_" + hex.EncodeToString(b[:]), nil
}
