package chaos

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// TestControlDetectsLoss is the control of the fault tests: a target that
// answers 200 to its first three deliveries but throws them away loses
// three events end to end, and the same counting that every fault test
// uses must report exactly that. Without it, "lost 0" could mean the
// counting cannot see loss.
func TestControlDetectsLoss(t *testing.T) {
	rc := newReceiver(appSecret, firstN(3, func(w http.ResponseWriter, _ *http.Request) verdict {
		w.WriteHeader(http.StatusOK) // the relay is told it was delivered
		return refused               // but the app never keeps it
	}))
	srv := httptest.NewServer(rc)
	defer srv.Close()
	cfg := strings.Replace(slowConfig, "http://127.0.0.1:9/hook", srv.URL+"/hook\n\t\t\tsecret {env.CHAOS_APP_SECRET}", 1)
	in := testcaddy.Start(t, cfg, "CHAOS_SOURCE_SECRET="+sourceSecret, "CHAOS_APP_SECRET="+appSecret)
	snd := newSender(in.URL("/"), "control")
	for range 10 {
		snd.PostOne()
	}
	sent, acked := snd.IDs()
	waitUntil(t, 20*time.Second, "all ten deliveries", func() bool {
		arrivals, _ := rc.faulted()
		return arrivals >= 10
	})
	tl := rc.tally(sent, acked)
	t.Logf("control: sent %d, acked %d, delivered %d, lost %d, phantoms %d", tl.Sent, tl.Acked, tl.Delivered, tl.Lost, tl.Phantoms)
	if tl.Acked != 10 || tl.Lost != 3 {
		t.Fatalf("the counting did not see the 3 events the app threw away: %+v", tl)
	}

	// and an arrival that was never sent is a phantom
	if got := testcaddy.CountDeliveries(map[string]int{"never-sent": 1}, 0, sent, nil); got.Phantoms != 1 {
		t.Fatalf("a delivery that was never sent is not counted as a phantom: %+v", got)
	}
}
