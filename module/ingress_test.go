package module_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

const (
	newSecret = "canary-new-secret-1f2e3d"
	oldSecret = "canary-old-secret-4c5b6a"
)

// ingressConfig has one site with a handler per scenario. Nothing is
// listening on the targets: this file tests ingress only.
const ingressConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		dedup_window 1h
		min_free_space 1MiB
		target app {
			url http://127.0.0.1:9/hook
		}
		target pager {
			url http://127.0.0.1:9/pager
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	# access logs copy request headers: drop the signature (README, Security)
	log {
		output stderr
		level DEBUG
		format filter {
			request>headers>X-Unicraft-Signature delete
		}
	}
	route /hook {
		webhook_inbox unicraft {
			secret {env.TEST_NEW_SECRET} {env.TEST_OLD_SECRET}
			max_body 4KiB
			route ` + "`event.event == \"cost.exceeded\" && event.data.excess > 100.0`" + ` pager app
			route ` + "`event.event.startsWith(\"request.\")`" + ` app
			route ` + "`event.data.missing.field == 1`" + ` pager
		}
	}
	route /allow {
		webhook_inbox allowlisted {
			secret {env.TEST_NEW_SECRET}
			allow_ips 192.168.1.100 10.0.0.0/8
			default app
		}
	}
	route /limited {
		webhook_inbox limited {
			secret {env.TEST_NEW_SECRET}
			rate_limit 2 1m
			default app
		}
	}
	route /custom-id {
		webhook_inbox custom {
			secret {env.TEST_NEW_SECRET}
			id ` + "`event.data.request_id`" + `
			default app
		}
	}
}
`

var secretEnv = []string{"TEST_NEW_SECRET=" + newSecret, "TEST_OLD_SECRET=" + oldSecret}

// event returns a seed-shaped payload with a fresh timestamp.
func event(typ, id string, extra string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"event":%q,"timestamp":%q,"data":{"request_id":"req_%s","excess":150.0,"user_id":"user_123"%s}}`,
		id, typ, time.Now().UTC().Format(time.RFC3339), id, extra))
}

type reply struct {
	status  int
	header  http.Header
	body    string
	retries int // connection errors retried before this answer
}

// post sends body to url with the given headers, as a webhook sender
// does: a connection error before any answer (a keep-alive connection
// closed by a reload) is retried with the same bytes. "sign" in headers is
// replaced by a valid signature with newSecret.
func post(t *testing.T, url string, body []byte, headers map[string]string) reply {
	t.Helper()
	var lastErr error
	for attempt := range 5 {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			if v == "sign" {
				v = signature.SignUniCraft([]byte(newSecret), body)
			}
			req.Header.Set(k, v)
		}
		got, err := send(req)
		if err == nil {
			got.retries = attempt
			return got
		}
		lastErr = err
	}
	t.Fatalf("POST %s: %v", url, lastErr)
	return reply{}
}

func send(req *http.Request) (reply, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}, err
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	got, err := send(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return got
}

func signed(body []byte) map[string]string {
	return map[string]string{"X-UniCraft-Signature": "sign"}
}

// TestIngressAnswers walks the status table of the README ("Ingress answers") through a real
// caddy process with a real store.
func TestIngressAnswers(t *testing.T) {
	in := testcaddy.Start(t, ingressConfig, secretEnv...)
	hook := in.URL("/hook")
	valid := event("request.completed", "evt_valid", "")
	cost := event("cost.exceeded", "evt_cost", "")
	unrouted := event("provider.unavailable", "evt_unrouted", "")
	oldSig := signature.SignUniCraft([]byte(oldSecret), valid)
	deep := []byte(strings.Repeat("[", 100) + strings.Repeat("]", 100))
	deepObj := []byte(`{"a":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat("}", 41))
	stale := []byte(`{"id":"evt_stale","event":"request.completed","timestamp":"` + time.Now().Add(-2*time.Hour).UTC().Format(time.RFC3339) + `"}`)
	future := []byte(`{"id":"evt_future","event":"request.completed","timestamp":"` + time.Now().Add(10*time.Minute).UTC().Format(time.RFC3339) + `"}`)
	noData := []byte(`{"event":"request.completed"}`)
	big := event("request.completed", "evt_big", `,"pad":"`+strings.Repeat("x", 5000)+`"`)

	tests := []struct {
		name       string
		url        string
		body       []byte
		headers    map[string]string
		wantStatus int
		wantBody   string // substring
	}{
		{"accepted and fanned out in rule order", hook, cost, signed(cost), 202, `{"status":"accepted","id":"evt_cost","targets":["pager","app"]}`},
		{"accepted to one target", hook, valid, signed(valid), 202, `"targets":["app"]`},
		{"duplicate of the same id", hook, valid, signed(valid), 200, `{"status":"duplicate","id":"evt_valid"}`},
		{"header id wins over body id", hook, valid, map[string]string{"X-UniCraft-Signature": "sign", "X-UniCraft-Event-Id": "hdr_1"}, 202, `"id":"hdr_1"`},
		{"unrouted is stored with no targets", hook, unrouted, signed(unrouted), 202, `"targets":[]`},
		{"old secret still verifies", hook, valid, map[string]string{"X-UniCraft-Signature": oldSig, "X-UniCraft-Event-Id": "hdr_old"}, 202, `"id":"hdr_old"`},
		{"uppercase hex with sha256= prefix", hook, valid, map[string]string{"X-UniCraft-Signature": "sha256=" + strings.ToUpper(signature.SignUniCraft([]byte(newSecret), valid)), "X-UniCraft-Event-Id": "hdr_upper"}, 202, `"id":"hdr_upper"`},
		{"missing signature", hook, valid, nil, 401, `"invalid signature"`},
		{"wrong signature", hook, valid, map[string]string{"X-UniCraft-Signature": signature.SignUniCraft([]byte("nope"), valid)}, 401, `"invalid signature"`},
		{"odd-length signature", hook, valid, map[string]string{"X-UniCraft-Signature": "abc"}, 401, `"invalid signature"`},
		{"non-hex signature", hook, valid, map[string]string{"X-UniCraft-Signature": strings.Repeat("zz", 32)}, 401, `"invalid signature"`},
		{"body over max_body", hook, big, signed(big), 413, `"body too large"`},
		{"not JSON", hook, []byte("hello"), signed([]byte("hello")), 400, `"rejected"`},
		{"JSON array", hook, []byte(`[1,2]`), signed([]byte(`[1,2]`)), 400, `"rejected"`},
		{"too deep (array)", hook, deep, signed(deep), 400, `"rejected"`},
		{"too deep (object)", hook, deepObj, signed(deepObj), 400, `"rejected"`},
		{"stale timestamp", hook, stale, signed(stale), 400, `too old`},
		{"timestamp in the future", hook, future, signed(future), 400, `future`},
		{"ip not in allow_ips", in.URL("/allow"), valid, signed(valid), 403, `"forbidden"`},
		{"spoofed X-Forwarded-For from an untrusted peer", in.URL("/allow"), valid, map[string]string{"X-UniCraft-Signature": "sign", "X-Forwarded-For": "192.168.1.100"}, 403, `"forbidden"`},
		{"id expression", in.URL("/custom-id"), valid, signed(valid), 202, `"id":"req_evt_valid"`},
		{"id expression fails on event", in.URL("/custom-id"), noData, signed(noData), 400, `id expression failed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := post(t, tt.url, tt.body, tt.headers)
			if got.status != tt.wantStatus || !strings.Contains(got.body, tt.wantBody) {
				t.Fatalf("got %d %s, want %d containing %s", got.status, got.body, tt.wantStatus, tt.wantBody)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}

	t.Run("chunked body over max_body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, hook, io.MultiReader(bytes.NewReader(big), strings.NewReader(strings.Repeat(" ", 1<<20))))
		req.ContentLength = -1 // unknown length: sent chunked
		req.Header.Set("X-UniCraft-Signature", "sign")
		if got := do(t, req); got.status != 413 {
			t.Fatalf("got %d %s, want 413", got.status, got.body)
		}
	})
	t.Run("GET is not allowed", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, hook, nil)
		got := do(t, req)
		if got.status != 405 || got.header.Get("Allow") != "POST" {
			t.Fatalf("got %d Allow=%q", got.status, got.header.Get("Allow"))
		}
	})
	t.Run("rate limited per client ip", func(t *testing.T) {
		var statuses []int
		var last reply
		for i := range 3 {
			b := event("request.completed", fmt.Sprintf("evt_rl_%d", i), "")
			last = post(t, in.URL("/limited"), b, signed(b))
			statuses = append(statuses, last.status)
		}
		if fmt.Sprint(statuses) != "[202 202 429]" {
			t.Fatalf("statuses %v, want [202 202 429]", statuses)
		}
		if ra := last.header.Get("Retry-After"); ra != "30" {
			t.Fatalf("Retry-After %q, want 30 (2 per minute)", ra)
		}
	})
	t.Run("rejections never echo secrets", func(t *testing.T) {
		log := in.Log()
		for _, s := range []string{newSecret, oldSecret, signature.SignUniCraft([]byte(newSecret), valid), `"excess"`} {
			if strings.Contains(log, s) {
				t.Fatalf("log contains %q", s)
			}
		}
		if !strings.Contains(log, `"reason":"bad_signature"`) {
			t.Fatalf("rejections are not logged with a reason:\n%s", log)
		}
		if n := strings.Count(log, "route rule failed"); n != 1 {
			t.Fatalf("failing rule logged %d times, want once", n)
		}
	})
}

// TestTrustedProxies checks that X-Forwarded-For is believed only from a
// trusted proxy.
func TestTrustedProxies(t *testing.T) {
	cfg := strings.Replace(ingressConfig, "admin [[.Admin]]", `admin [[.Admin]]
	servers {
		trusted_proxies static 127.0.0.1/32
	}`, 1)
	in := testcaddy.Start(t, cfg, secretEnv...)
	body := event("request.completed", "evt_proxy", "")
	tests := []struct {
		name string
		xff  string
		want int
	}{
		{"forwarded for an allowed ip", "192.168.1.100", 202},
		{"forwarded for an allowed range", "10.1.2.3", 202},
		{"forwarded for another ip", "203.0.113.9", 403},
		{"not forwarded", "", 403},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"X-UniCraft-Signature": "sign", "X-UniCraft-Event-Id": fmt.Sprintf("proxy_%d", i)}
			if tt.xff != "" {
				h["X-Forwarded-For"] = tt.xff
			}
			if got := post(t, in.URL("/allow"), body, h); got.status != tt.want {
				t.Fatalf("got %d %s, want %d", got.status, got.body, tt.want)
			}
		})
	}
}

// TestLowDiskSpace checks that the inbox answers 503 with Retry-After,
// never 2xx, when free space is below min_free_space, and that nothing
// was stored: the same event is accepted once space is available again.
func TestLowDiskSpace(t *testing.T) {
	full := strings.Replace(ingressConfig, "min_free_space 1MiB", "min_free_space 1EiB", 1)
	in := testcaddy.Start(t, full, secretEnv...)
	body := event("request.completed", "evt_disk", "")
	got := post(t, in.URL("/hook"), body, signed(body))
	if got.status != 503 || got.header.Get("Retry-After") == "" {
		t.Fatalf("got %d Retry-After=%q, want 503 with Retry-After", got.status, got.header.Get("Retry-After"))
	}
	if err := in.Reload(ingressConfig); err != nil {
		t.Fatal(err)
	}
	if got := post(t, in.URL("/hook"), body, signed(body)); got.status != 202 {
		t.Fatalf("after space returned: got %d %s, want 202", got.status, got.body)
	}
}

// TestConcurrentSameID sends one event 200 times at once: exactly one is
// stored (202) and all others are duplicates (200).
func TestConcurrentSameID(t *testing.T) {
	in := testcaddy.Start(t, ingressConfig, secretEnv...)
	body := event("request.completed", "evt_race", "")
	const n = 200
	var wg sync.WaitGroup
	statuses := make([]int, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i] = post(t, in.URL("/hook"), body, signed(body)).status
		}()
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[202] != 1 || count[200] != n-1 {
		t.Fatalf("statuses %v, want one 202 and %d 200", count, n-1)
	}
}

// TestDuplicatesAfterRestart acknowledges events, kills caddy with
// SIGKILL, restarts it and checks every acknowledged event is still
// remembered: what was answered 202 was on disk.
func TestDuplicatesAfterRestart(t *testing.T) {
	in := testcaddy.Start(t, ingressConfig, secretEnv...)
	const n = 50
	bodies := make([][]byte, n)
	for i := range n {
		bodies[i] = event("request.completed", fmt.Sprintf("evt_restart_%d", i), "")
		if got := post(t, in.URL("/hook"), bodies[i], signed(bodies[i])); got.status != 202 {
			t.Fatalf("event %d: %d %s", i, got.status, got.body)
		}
	}
	in.Kill()
	in.Start()
	for i, b := range bodies {
		if got := post(t, in.URL("/hook"), b, signed(b)); got.status != 200 || !strings.Contains(got.body, "duplicate") {
			t.Fatalf("event %d after kill -9: %d %s, want 200 duplicate", i, got.status, got.body)
		}
	}
}

// TestReloadWhilePosting reloads the config 20 times while events are
// posted: no request fails, no lock error, and every accepted event is
// remembered afterwards.
func TestReloadWhilePosting(t *testing.T) {
	in := testcaddy.Start(t, ingressConfig, secretEnv...)
	stop := make(chan struct{})
	var mu sync.Mutex
	var accepted [][]byte
	bad := map[string]int{}
	retried := 0
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				b := event("request.completed", fmt.Sprintf("evt_reload_%d_%d", w, i), "")
				got := post(t, in.URL("/hook"), b, signed(b))
				mu.Lock()
				retried += got.retries
				if got.status == 202 || (got.status == 200 && got.retries > 0) {
					accepted = append(accepted, b)
				} else {
					bad[fmt.Sprintf("%d %s", got.status, got.body)]++
				}
				mu.Unlock()
			}
		}()
	}
	for i := range 20 {
		// alternate two configs so every reload really changes something
		cfg := strings.Replace(ingressConfig, "dedup_window 1h", fmt.Sprintf("dedup_window %dh", 1+i%2), 1)
		if err := in.Reload(cfg); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("non-202 answers during reloads: %v", bad)
	}
	if len(accepted) == 0 {
		t.Fatal("nothing was accepted")
	}
	if log := in.Log(); strings.Contains(log, "Cannot acquire directory lock") {
		t.Fatal("a reload hit the Badger directory lock")
	}
	for i, b := range accepted {
		if got := post(t, in.URL("/hook"), b, signed(b)); got.status != 200 {
			t.Fatalf("accepted event %d not remembered after reloads: %d %s", i, got.status, got.body)
		}
	}
	t.Logf("%d events accepted across 20 reloads; %d posts resent after a keep-alive connection was closed by a reload", len(accepted), retried)
}
