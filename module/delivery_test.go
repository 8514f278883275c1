package module_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

var soak = flag.Bool("soak", false, "run the fault tests for many more rounds")

const appSecret = "canary-app-secret-7d8e9f"

// deliveryConfig relays every event to the sink at SINK_URL, with short
// backoffs so retries come due within a test.
const deliveryConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space off
		target app {
			url SINK_URL
			secret {env.TEST_APP_SECRET}
			retry {
				max_attempts 1000
				backoff 50ms 500ms
				max_age 1h
			}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	webhook_inbox unicraft {
		secret {env.TEST_NEW_SECRET}
		default app
	}
}
`

func deliveryEnv() []string {
	return append([]string{"TEST_APP_SECRET=" + appSecret}, secretEnv...)
}

// newSender posts seed-shaped events signed with the handler's secret.
// Connection errors while the gateway is killed or reloaded only mean
// "not acknowledged", so posts are tried a few times.
func newSender(url, prefix string) *testcaddy.Sender {
	return testcaddy.NewSender(url, prefix, newSecret, 5, func(id string) []byte {
		return event("request.completed", id, "")
	})
}

// TestCrashDelivery posts events, kills caddy with SIGKILL at a random
// moment under load, restarts it, brings the app up and counts. In even
// rounds the app is down during the load (everything is queued at the
// crash); in odd rounds it is up (deliveries are in flight at the crash). every acknowledged event must be delivered (lost = 0), and
// nothing that was never sent may arrive (phantoms = 0). Duplicates are
// allowed (at-least-once) and reported.
func TestCrashDelivery(t *testing.T) {
	rounds := 3
	if *soak {
		rounds = 20
	}
	sink := testcaddy.NewSink(t, appSecret)
	in := testcaddy.Start(t, strings.Replace(deliveryConfig, "SINK_URL", sink.URL(), 1), deliveryEnv()...)
	snd := newSender(in.URL("/"), "crash")
	var total testcaddy.Tally
	for round := range rounds {
		if round%2 == 0 {
			sink.Down()
		} else {
			sink.Up()
		}
		stop := make(chan struct{})
		wg := snd.Run(8, stop)
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond) // a random moment under load
		in.Kill()
		close(stop)
		wg.Wait()
		in.Start()
		sink.Up()
		sent, acked := snd.IDs()
		if missing := sink.WaitFor(acked, 60*time.Second); len(missing) > 0 {
			t.Errorf("round %d: %d acknowledged events not delivered, e.g. %v", round, len(missing), missing[:min(5, len(missing))])
		}
		total = sink.Tally(acked, sent)
		t.Logf("round %d: sent %d, %+v", round, len(sent), total)
	}
	if total.Lost != 0 || total.Phantoms != 0 || total.BadSignatures != 0 {
		t.Fatalf("after %d kill -9 rounds: %+v", rounds, total)
	}
	if total.Acked == 0 {
		t.Fatal("nothing was acknowledged: the test could not detect loss")
	}
}

// TestReloadDuringDelivery reloads the config 20 times while events are
// posted and delivered: no reload fails, no post fails, every accepted
// event is delivered, and no event is delivered twice.
func TestReloadDuringDelivery(t *testing.T) {
	sink := testcaddy.NewSink(t, appSecret)
	sink.Up()
	cfg := strings.Replace(deliveryConfig, "SINK_URL", sink.URL(), 1)
	in := testcaddy.Start(t, cfg, deliveryEnv()...)
	snd := newSender(in.URL("/"), "reload")
	stop := make(chan struct{})
	wg := snd.Run(4, stop)
	for i := range 20 {
		// let some events through between reloads
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if sent, _ := snd.IDs(); len(sent) >= 25*(i+1) {
				break
			}
		}
		// alternate the target's concurrency so each reload changes the target set
		c := strings.Replace(cfg, "max_attempts 1000", fmt.Sprintf("max_attempts 1000\n\t\t\t}\n\t\t\tconcurrency %d\n\t\t\tretry {", 4+i%2*4), 1)
		if err := in.Reload(c); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	sent, acked := snd.IDs()
	if missing := sink.WaitFor(acked, 60*time.Second); len(missing) > 0 {
		t.Errorf("%d accepted events not delivered", len(missing))
	}
	tally := sink.Tally(acked, sent)
	t.Logf("20 reloads while delivering: sent %d, %+v", len(sent), tally)
	if tally.Lost != 0 || tally.Phantoms != 0 || tally.Duplicates != 0 || tally.BadSignatures != 0 {
		t.Fatalf("tally %+v", tally)
	}
	if other := snd.Other(); len(other) > 0 {
		t.Fatalf("answers other than 202 during reloads: %v", other)
	}
	if len(acked) < 20*25/2 {
		t.Fatalf("only %d of %d posts were acknowledged across the reloads", len(acked), len(sent))
	}
}

// TestGracefulStopDelivers stops caddy with SIGTERM under load, checks it
// exits by itself (in-flight requests and delivery attempts finish), and
// that every acknowledged event is delivered after the restart.
func TestGracefulStopDelivers(t *testing.T) {
	sink := testcaddy.NewSink(t, appSecret)
	sink.Up()
	in := testcaddy.Start(t, strings.Replace(deliveryConfig, "SINK_URL", sink.URL(), 1), deliveryEnv()...)
	snd := newSender(in.URL("/"), "term")
	stop := make(chan struct{})
	wg := snd.Run(4, stop)
	time.Sleep(300 * time.Millisecond) // let load build up before the signal
	if !in.Stop() {
		t.Error("caddy did not exit within 30s of SIGTERM under load")
	}
	in.Start()
	close(stop)
	wg.Wait()
	sent, acked := snd.IDs()
	if missing := sink.WaitFor(acked, 60*time.Second); len(missing) > 0 {
		t.Fatalf("%d acknowledged events not delivered after SIGTERM", len(missing))
	}
	t.Logf("SIGTERM under load: sent %d, %+v", len(sent), sink.Tally(acked, sent))
}
