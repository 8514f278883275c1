package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/ingress"
	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/internal/testnats"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// Canary secrets: they must never show in a log line or an answer.
const (
	sourceSecret = "cluster-canary-source-5b1c"
	appSecret    = "cluster-canary-app-9e2d"
)

// gatewayConfig is the same Caddyfile on every gateway, as DESIGN.md
// ("Storage backends") has it.
const gatewayConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage nats {
			servers  NATS_URLS
			replicas 3
			prefix   inbox
		}
		target app {
			url SINK_URL
			secret {env.CLUSTER_APP_SECRET}
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
	webhook_inbox cluster {
		secret {env.CLUSTER_SOURCE_SECRET}
		default app
	}
}
`

var client = &http.Client{Timeout: 15 * time.Second}

// payload is a UniCraft event with a fresh timestamp.
func payload(id string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"event":"request.completed","timestamp":%q,"data":{"request_id":"req_%s"}}`,
		id, time.Now().UTC().Format(time.RFC3339Nano), id)
}

// post sends a signed body and returns the status.
func post(t *testing.T, url string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(signature.UniCraftSignature, ingress.Sign([]byte(sourceSecret), body))
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", url, err)
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// startGateways starts a 3-node cluster, a sink and three gateways on it.
func startGateways(t *testing.T) ([]*testcaddy.Instance, *testcaddy.Sink) {
	t.Helper()
	ts := testnats.Start(t, 3)
	sink := testcaddy.NewSink(t, appSecret)
	sink.Up()
	cfg := strings.NewReplacer("NATS_URLS", strings.Join(ts.URLs(), " "), "SINK_URL", sink.URL()).Replace(gatewayConfig)
	env := []string{"CLUSTER_SOURCE_SECRET=" + sourceSecret, "CLUSTER_APP_SECRET=" + appSecret}
	gws := make([]*testcaddy.Instance, 3)
	for i := range gws {
		gws[i] = testcaddy.Start(t, cfg, env...)
	}
	return gws, sink
}

func TestThreeGateways(t *testing.T) {
	if testing.Short() {
		t.Skip("builds caddy and runs three gateways on a 3-node cluster: not with -short")
	}
	gws, sink := startGateways(t)

	t.Run("round robin, each delivered once", func(t *testing.T) {
		const events = 60
		var sent []string
		for i := range events {
			id := fmt.Sprintf("rr-%03d", i)
			if status := post(t, gws[i%len(gws)].URL("/"), payload(id)); status != http.StatusAccepted {
				t.Fatalf("POST %s to gateway %d: %d, want 202", id, i%len(gws)+1, status)
			}
			sent = append(sent, id)
		}
		if missing := sink.WaitFor(sent, 60*time.Second); len(missing) > 0 {
			t.Fatalf("%d of %d events never delivered: %v", len(missing), events, missing)
		}
		got, badSig := sink.Counts()
		tally := testcaddy.CountDeliveries(got, badSig, sent, sent)
		t.Logf("round robin: %d sent over 3 gateways, %+v", events, tally)
		for _, id := range sent {
			if got[id] != 1 {
				t.Errorf("%s delivered %d times, want once", id, got[id])
			}
		}
		if badSig != 0 {
			t.Errorf("%d deliveries with a bad signature", badSig)
		}
	})

	t.Run("one ID posted 90 times over three gateways", func(t *testing.T) {
		const posts = 90
		body := payload("same-1")
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			statuses = map[int]int{}
		)
		start := make(chan struct{})
		for i := range posts {
			wg.Go(func() {
				<-start
				status := post(t, gws[i%len(gws)].URL("/"), body)
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		if statuses[http.StatusAccepted] != 1 || statuses[http.StatusOK] != posts-1 {
			t.Fatalf("answers %v, want one 202 and %d duplicates (200)", statuses, posts-1)
		}
		if missing := sink.WaitFor([]string{"same-1"}, 30*time.Second); len(missing) > 0 {
			t.Fatal("the event was never delivered")
		}
		// Delivered once, and no second delivery follows.
		if got, _ := sink.Counts(); got["same-1"] != 1 {
			t.Errorf("same-1 delivered %d times, want once", got["same-1"])
		}
	})

	t.Run("every gateway lists what another accepted", func(t *testing.T) {
		if status := post(t, gws[0].URL("/"), payload("shared-1")); status != http.StatusAccepted {
			t.Fatalf("POST to gateway 1: %d", status)
		}
		for i, gw := range gws {
			resp, err := client.Get("http://" + gw.Admin + "/webhook_inbox/events?limit=1000")
			if err != nil {
				t.Fatal(err)
			}
			var page struct {
				Events []struct {
					ID string `json:"id"`
				} `json:"events"`
			}
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("gateway %d: %v", i+1, err)
			}
			found := false
			for _, ev := range page.Events {
				found = found || ev.ID == "shared-1"
			}
			if !found {
				t.Errorf("gateway %d does not list shared-1 (%d events listed)", i+1, len(page.Events))
			}
		}
	})

	for i, gw := range gws {
		for _, secret := range []string{sourceSecret, appSecret} {
			if strings.Contains(gw.Log(), secret) {
				t.Errorf("gateway %d's log shows a secret", i+1)
			}
		}
	}
}
