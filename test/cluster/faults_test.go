package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// TestFaultsUnderLoad posts events to all three gateways without pause
// while one gateway is killed (kill -9) and started again, then one NATS
// node is shut down and started again: no acknowledged event is lost.
// Deliveries a killed gateway had leased are taken over by the others
// after the lease TTL (lease_ttl 3s in the test's Caddyfile).
func TestFaultsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a gateway and a NATS node under load and waits out the lease TTL: not with -short")
	}
	g := startGateways(t)
	senders := make([]*testcaddy.Sender, len(g.gws))
	stop := make(chan struct{})
	var running []func()
	for i, gw := range g.gws {
		senders[i] = testcaddy.NewSender(gw.URL("/"), fmt.Sprintf("g%d", i+1), sourceSecret, 20, payload)
		wg := senders[i].Run(2, stop)
		running = append(running, wg.Wait)
	}
	acked := func() int {
		n := 0
		for _, s := range senders {
			_, a := s.IDs()
			n += len(a)
		}
		return n
	}
	// Each phase lets the load run until 100 more events are acknowledged.
	progress := func(what string) {
		t.Helper()
		want := acked() + 100
		waitUntil(t, 60*time.Second, "no progress "+what, func() bool { return acked() >= want })
	}
	progress("before the faults")
	g.gws[1].Kill()
	progress("with gateway 2 killed")
	g.gws[1].Start()
	progress("after gateway 2 restarted")
	g.nats.Stop(0)
	progress("with NATS node 1 down")
	g.nats.Restart(0)
	progress("after NATS node 1 restarted")
	close(stop)
	for _, wait := range running {
		wait()
	}

	var sent, ack []string
	for i, s := range senders {
		sn, a := s.IDs()
		sent, ack = append(sent, sn...), append(ack, a...)
		if other := s.Other(); len(other) > 0 {
			t.Logf("gateway %d: answers other than an acknowledgement: %v", i+1, other)
		}
	}
	missing := g.sink.WaitFor(ack, 90*time.Second)
	got, badSig := g.sink.Counts()
	tally := testcaddy.CountDeliveries(got, badSig, sent, ack)
	t.Logf("kill -9 of a gateway and loss of a NATS node under load: %+v", tally)
	if len(missing) > 0 || tally.Lost > 0 {
		t.Errorf("%d acknowledged events lost (first: %v)", tally.Lost, missing[:min(5, len(missing))])
	}
	if tally.Phantoms > 0 || tally.BadSignatures > 0 {
		t.Errorf("phantom or badly signed deliveries: %+v", tally)
	}
}
