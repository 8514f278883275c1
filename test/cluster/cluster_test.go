package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

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
			lease_ttl 3s
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
		target fragile {
			url FRAGILE_URL
			retry {
				max_attempts 1
			}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	webhook_inbox cluster {
		secret {env.CLUSTER_SOURCE_SECRET}
		route ` + "`" + `event.event == "fragile.test"` + "`" + ` fragile
		default app
	}
}
`

var client = &http.Client{Timeout: 15 * time.Second}

// payload is a UniCraft event with a fresh timestamp.
func payload(id string) []byte { return typed("request.completed", id) }

func typed(typ, id string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"event":%q,"timestamp":%q,"data":{"request_id":"req_%s"}}`,
		id, typ, time.Now().UTC().Format(time.RFC3339Nano), id)
}

// post sends a signed body and returns the status.
func post(t *testing.T, url string, body []byte) int {
	t.Helper()
	status, _ := postFull(t, url, body)
	return status
}

// postFull sends a signed body and returns the status and the answer's
// headers.
func postFull(t *testing.T, url string, body []byte) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(signature.UniCraftSignature, signature.SignUniCraft([]byte(sourceSecret), body))
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", url, err)
		return 0, nil
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// fragileApp answers 500 until it is healed, then 200, and records the
// event IDs it answered 200.
type fragileApp struct {
	mu     sync.Mutex
	healed bool
	got    map[string]int
}

func (f *fragileApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.healed {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	f.got[r.Header.Get("X-UniCraft-Event-Id")]++
}

func (f *fragileApp) heal() {
	f.mu.Lock()
	f.healed = true
	f.mu.Unlock()
}

func (f *fragileApp) received(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got[id]
}

// adminDo sends a request to a gateway's admin API and returns the
// status and body.
func adminDo(t *testing.T, gw *testcaddy.Instance, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+gw.Admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitUntil polls cond every 50 ms until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// gateways are three caddy processes on one 3-node cluster, a sink for
// target app and a fragile app for target fragile.
type gateways struct {
	nats    *testnats.Servers
	gws     []*testcaddy.Instance
	sink    *testcaddy.Sink
	fragile *fragileApp
}

func startGateways(t *testing.T) *gateways {
	t.Helper()
	servers := testnats.Start(t, 3)
	g := startGatewaysOn(t, servers.URLs())
	g.nats = servers
	return g
}

// startGatewaysOn starts the three gateways on the NATS servers at urls
// (g.nats stays nil).
func startGatewaysOn(t *testing.T, urls []string) *gateways {
	t.Helper()
	g := &gateways{sink: testcaddy.NewSink(t, appSecret), fragile: &fragileApp{got: map[string]int{}}}
	g.sink.Up()
	fragile := httptest.NewServer(g.fragile)
	t.Cleanup(fragile.Close)
	cfg := strings.NewReplacer("NATS_URLS", strings.Join(urls, " "), "SINK_URL", g.sink.URL(),
		"FRAGILE_URL", fragile.URL).Replace(gatewayConfig)
	env := []string{"CLUSTER_SOURCE_SECRET=" + sourceSecret, "CLUSTER_APP_SECRET=" + appSecret}
	g.gws = make([]*testcaddy.Instance, 3)
	for i := range g.gws {
		g.gws[i] = testcaddy.Start(t, cfg, env...)
	}
	return g
}

func TestThreeGateways(t *testing.T) {
	if testing.Short() {
		t.Skip("builds caddy and runs three gateways on a 3-node cluster: not with -short")
	}
	g := startGateways(t)
	gws, sink := g.gws, g.sink

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

	t.Run("a dead letter made on gateway 1 is replayed through gateway 3", func(t *testing.T) {
		if status := post(t, gws[0].URL("/"), typed("fragile.test", "fragile-1")); status != http.StatusAccepted {
			t.Fatalf("POST to gateway 1: %d", status)
		}
		waitUntil(t, 20*time.Second, "fragile-1 never went dead", func() bool {
			status, body := adminDo(t, gws[1], http.MethodGet, "/webhook_inbox/events/fragile-1")
			return status == http.StatusOK && strings.Contains(body, `"status":"dead"`)
		})
		g.fragile.heal()
		if status, body := adminDo(t, gws[2], http.MethodPost, "/webhook_inbox/events/fragile-1/replay"); status/100 != 2 {
			t.Fatalf("replay on gateway 3: %d %s", status, body)
		}
		waitUntil(t, 20*time.Second, "the replayed dead letter was never delivered", func() bool {
			return g.fragile.received("fragile-1") == 1
		})
	})

	t.Run("two NATS nodes down: 503, back: 202", func(t *testing.T) {
		g.nats.Stop(1)
		g.nats.Stop(2)
		for i, gw := range gws {
			start := time.Now()
			status, hdr := postFull(t, gw.URL("/"), payload(fmt.Sprintf("outage-%d", i)))
			if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
				t.Errorf("gateway %d without quorum: %d, Retry-After %q; want 503 with Retry-After", i+1, status, hdr.Get("Retry-After"))
			}
			t.Logf("gateway %d answered %d after %s", i+1, status, time.Since(start).Round(time.Millisecond))
		}
		g.nats.Restart(1)
		g.nats.Restart(2)
		var acked []string
		for i, gw := range gws {
			id := fmt.Sprintf("after-%d", i)
			waitUntil(t, 60*time.Second, "gateway still refusing after the nodes came back", func() bool {
				return post(t, gw.URL("/"), payload(id)) == http.StatusAccepted
			})
			acked = append(acked, id)
		}
		if missing := sink.WaitFor(acked, 60*time.Second); len(missing) > 0 {
			t.Fatalf("not delivered after the outage: %v", missing)
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
