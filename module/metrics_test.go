package module_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/metricnames"
	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// sample is one line of Prometheus' text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

type samples []sample

// scrape GETs a metrics endpoint and parses its text format.
func scrape(t *testing.T, url string) samples {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping %s: %d %v", url, resp.StatusCode, err)
	}
	out, err := parseMetrics(body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return out
}

// parseMetrics reads the sample lines of the text format, enough for
// what Caddy's registry writes (no timestamps).
func parseMetrics(body []byte) (samples, error) {
	var out samples
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := sample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(rest, "{ "); i >= 0 {
			s.name, rest = rest[:i], rest[i:]
		}
		if strings.HasPrefix(rest, "{") {
			rest = rest[1:]
			for !strings.HasPrefix(rest, "}") {
				eq := strings.Index(rest, `="`)
				if eq < 0 {
					return nil, fmt.Errorf("bad labels in %q", line)
				}
				name := rest[:eq]
				rest = rest[eq+2:]
				var val strings.Builder
				for {
					if rest == "" {
						return nil, fmt.Errorf("unterminated label in %q", line)
					}
					c := rest[0]
					rest = rest[1:]
					if c == '"' {
						break
					}
					if c == '\\' && rest != "" {
						c, rest = rest[0], rest[1:]
						if c == 'n' {
							c = '\n'
						}
					}
					val.WriteByte(c)
				}
				s.labels[name] = val.String()
				rest = strings.TrimPrefix(rest, ",")
			}
			rest = rest[1:]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return nil, fmt.Errorf("bad value in %q: %w", line, err)
		}
		s.value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

// value returns the sample of name whose labels are exactly kv (pairs).
func (ss samples) value(name string, kv ...string) (float64, bool) {
	for _, s := range ss {
		if s.name != name || len(s.labels) != len(kv)/2 {
			continue
		}
		match := true
		for i := 0; i+1 < len(kv); i += 2 {
			if s.labels[kv[i]] != kv[i+1] {
				match = false
			}
		}
		if match {
			return s.value, true
		}
	}
	return 0, false
}

// inbox returns the samples of the webhook inbox's metrics.
func (ss samples) inbox() samples {
	var out samples
	for _, s := range ss {
		if strings.HasPrefix(s.name, "caddy_webhook_inbox_") {
			out = append(out, s)
		}
	}
	return out
}

// TestMetrics runs a known sequence (accepted, duplicate, bad signature,
// delivered, retried after 500s, dead after a 400) and checks the exact
// values on the admin endpoint's /metrics and on a site's metrics handler.
func TestMetrics(t *testing.T) {
	target := newStandIn(t, func(id string, n int) int {
		switch {
		case id == "bad-1":
			return http.StatusBadRequest
		case id == "flaky-1" && n <= 2:
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	in := startAdmin(t, target)
	postEvent(t, in, "request.completed", "ok-1")
	dup := event("request.completed", "ok-1", "")
	if got := post(t, in.URL("/hook"), dup, signed(dup)); got.status != http.StatusOK {
		t.Fatalf("duplicate: %d %s", got.status, got.body)
	}
	if got := post(t, in.URL("/hook"), dup, map[string]string{"X-UniCraft-Signature": "00ff"}); got.status != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %s", got.status, got.body)
	}
	postEvent(t, in, "request.completed", "flaky-1")
	postEvent(t, in, "request.completed", "bad-1")

	admin := "http://" + in.Admin + "/metrics"
	waitUntil(t, "the deliveries to settle", func() bool {
		s := scrape(t, admin)
		ok, _ := s.value("caddy_webhook_inbox_deliveries_total", "target", "app", "result", "success")
		dead, _ := s.value("caddy_webhook_inbox_deliveries_total", "target", "app", "result", "dead")
		return ok == 2 && dead == 1
	})

	want := []struct {
		name   string
		labels []string
		value  float64
	}{
		{"caddy_webhook_inbox_received_total", []string{"source", "unicraft", "outcome", "accepted"}, 3},
		{"caddy_webhook_inbox_received_total", []string{"source", "unicraft", "outcome", "duplicate"}, 1},
		{"caddy_webhook_inbox_received_total", []string{"source", "unicraft", "outcome", "bad_signature"}, 1},
		{"caddy_webhook_inbox_received_total", []string{"source", "unicraft", "outcome", "stale"}, 0},
		{"caddy_webhook_inbox_received_total", []string{"source", "unicraft", "outcome", "unavailable"}, 0},
		{"caddy_webhook_inbox_deliveries_total", []string{"target", "app", "result", "success"}, 2},
		{"caddy_webhook_inbox_deliveries_total", []string{"target", "app", "result", "retry"}, 2},
		{"caddy_webhook_inbox_deliveries_total", []string{"target", "app", "result", "dead"}, 1},
		{"caddy_webhook_inbox_deliveries_total", []string{"target", "pager", "result", "success"}, 0},
		{"caddy_webhook_inbox_delivery_duration_seconds_count", []string{"target", "app"}, 5},
		{"caddy_webhook_inbox_delivery_duration_seconds_bucket", []string{"target", "app", "le", "+Inf"}, 5},
		{"caddy_webhook_inbox_queue_depth", []string{"target", "app"}, 0},
		{"caddy_webhook_inbox_queue_depth", []string{"target", "pager"}, 0},
		{"caddy_webhook_inbox_dead_letters", []string{"target", "app"}, 1},
		{"caddy_webhook_inbox_dead_letters", []string{"target", "pager"}, 0},
		{"caddy_webhook_inbox_oldest_pending_seconds", []string{"target", "app"}, 0},
		{"caddy_webhook_inbox_target_up", []string{"target", "app"}, 1},
		{"caddy_webhook_inbox_target_up", []string{"target", "pager"}, 1},
	}
	endpoints := []struct {
		name string
		url  string
	}{
		{"admin endpoint", admin},
		{"site metrics handler", in.URL("/metrics")},
	}
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			s := scrape(t, ep.url)
			for _, w := range want {
				got, ok := s.value(w.name, w.labels...)
				if !ok || got != w.value {
					t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, got, ok, w.value)
				}
			}
			// the list the example alerts and dashboard are checked against
			for _, name := range metricnames.All {
				if !slices.ContainsFunc(s, func(x sample) bool { return x.name == name }) {
					t.Errorf("%s is not exported (internal/metricnames lists it)", name)
				}
			}
			for _, name := range []string{"caddy_webhook_inbox_store_size_bytes", "caddy_webhook_inbox_free_space_bytes"} {
				if v, ok := s.value(name); !ok || v <= 0 {
					t.Errorf("%s = %v (present %v), want > 0", name, v, ok)
				}
			}
		})
	}
}

// TestMetricsCardinality posts 10,000 events with unique IDs, from
// varied client IPs (trusted X-Forwarded-For) and with unknown event
// types: the inbox's series are the same as after the first few events.
func TestMetricsCardinality(t *testing.T) {
	target := newStandIn(t, always(http.StatusOK))
	cfg := strings.ReplaceAll(adminConfig, "STANDIN", target.URL)
	cfg = strings.Replace(cfg, "admin [[.Admin]]", "admin [[.Admin]]\n\tservers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}", 1)
	env := append([]string{"TEST_APP_SECRET=" + appSecret}, secretEnv...)
	in := testcaddy.Start(t, cfg, env...)
	admin := "http://" + in.Admin + "/metrics"

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	postOne := func(i int) error {
		typ := "request.completed"
		if i%3 == 0 {
			typ = fmt.Sprintf("custom.kind_%d", i) // unknown: stored unrouted
		}
		body := event(typ, fmt.Sprintf("card-%d", i), "")
		req, err := http.NewRequest(http.MethodPost, in.URL("/hook"), bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("X-UniCraft-Signature", signature.SignUniCraft([]byte(newSecret), body))
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("event %d: status %d", i, resp.StatusCode)
		}
		return nil
	}
	for i := range 6 {
		if err := postOne(i); err != nil {
			t.Fatal(err)
		}
	}
	target.waitCount(t, "card-5", 1)
	before := scrape(t, admin).inbox()

	const n = 10_000
	var (
		next   atomic.Int64
		failed atomic.Value
		wg     sync.WaitGroup
	)
	next.Store(6)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := postOne(i); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	after := scrape(t, admin).inbox()
	if len(after) != len(before) {
		t.Errorf("%d webhook inbox series after %d events, %d after the first 6", len(after), n, len(before))
	}
	for _, s := range after {
		for k, v := range s.labels {
			if strings.Contains(v, "card-") || strings.Contains(v, "custom.") || strings.HasPrefix(v, "10.") {
				t.Errorf("%s has an unbounded label %s=%q", s.name, k, v)
			}
		}
	}
	if v, _ := after.value("caddy_webhook_inbox_received_total", "source", "unicraft", "outcome", "accepted"); v != n {
		t.Errorf("accepted %v, want %d", v, n)
	}
}

// TestAdminNoSecrets checks that no secret, signature or target URL
// appears in any admin answer or metric, and that /config/ holds the
// placeholders, not the secrets.
func TestAdminNoSecrets(t *testing.T) {
	target := newStandIn(t, func(id string, _ int) int {
		if id == "dead-1" {
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	in := startAdmin(t, target)
	var secrets []string
	for _, ev := range []struct{ typ, id string }{{"request.completed", "live-1"}, {"cost.exceeded", "dead-1"}} {
		body := event(ev.typ, ev.id, "")
		if got := post(t, in.URL("/hook"), body, signed(body)); got.status != http.StatusAccepted {
			t.Fatalf("posting %s: %d %s", ev.id, got.status, got.body)
		}
		// the sender's signature and the one relayed to the targets
		secrets = append(secrets, signature.SignUniCraft([]byte(newSecret), body), signature.SignUniCraft([]byte(appSecret), body))
	}
	bad := event("request.completed", "sig-1", "")
	post(t, in.URL("/hook"), bad, map[string]string{"X-UniCraft-Signature": signature.SignUniCraft([]byte("wrong"), bad)})
	waitUntil(t, "the dead letters", func() bool {
		var stats statsJSON
		adminGet(t, in, "/webhook_inbox/stats", &stats)
		return stats.Targets["app"].Dead == 1 && stats.Targets["pager"].Dead == 1
	})
	if relayed := target.signatures(); !slices.Contains(relayed, secrets[1]) {
		t.Fatalf("the stand-in got signatures %v, want the relayed %s among them", relayed, secrets[1])
	}
	secrets = append(secrets, appSecret, newSecret, oldSecret)

	ours := []struct{ method, path, body string }{
		{"GET", "/webhook_inbox/stats", ""},
		{"GET", "/webhook_inbox/events", ""},
		{"GET", "/webhook_inbox/events?status=dead", ""},
		{"GET", "/webhook_inbox/events/live-1", ""},
		{"GET", "/webhook_inbox/events/dead-1", ""},
		{"GET", "/webhook_inbox/events/nope", ""},
		{"POST", "/webhook_inbox/replay", `{"dry_run":true}`},
		{"POST", "/webhook_inbox/replay", `{"filter":"event.nope.x == 1","dry_run":true}`},
		{"POST", "/webhook_inbox/replay", `{"filter":"nope ==","dry_run":true}`},
		{"POST", "/webhook_inbox/events/dead-1/replay", ""},
		{"GET", "/metrics", ""},
	}
	targetURL := strings.TrimPrefix(target.URL, "http://")
	for _, c := range ours {
		got := adminCall(t, in, c.method, c.path, c.body)
		for _, s := range append(secrets, targetURL) {
			if strings.Contains(got.body, s) {
				t.Errorf("%s %s answers with %q:\n%s", c.method, c.path, s, got.body)
			}
		}
	}
	site, err := http.Get(in.URL("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	siteBody, _ := io.ReadAll(site.Body)
	site.Body.Close()
	for _, sec := range append(secrets, targetURL) {
		if strings.Contains(string(siteBody), sec) {
			t.Errorf("the site's metrics contain %q", sec)
		}
	}

	cfg := adminCall(t, in, "GET", "/config/", "")
	for _, sec := range secrets {
		if strings.Contains(cfg.body, sec) {
			t.Errorf("/config/ contains %q", sec)
		}
	}
	for _, placeholder := range []string{"{env.TEST_APP_SECRET}", "{env.TEST_NEW_SECRET}"} {
		if !strings.Contains(cfg.body, placeholder) {
			t.Errorf("/config/ lacks the placeholder %s", placeholder)
		}
	}
}
