package chaos

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// Canary secrets of the two targets; like sourceSecret they must never
// leave the process.
const (
	okTargetSecret   = "chaos-canary-ok-target-5b2c71d4"
	deadTargetSecret = "chaos-canary-dead-target-e90a3f68"
)

// secretsConfig sends "to.dead" events to a target answering 400 (so
// they become dead letters) and the rest to one answering 200. Secrets
// are placeholders, resolved from the environment at load.
const secretsConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space off
		target ok {
			url OK_URL
			secret {env.CHAOS_OK_SECRET}
			retry {
				backoff 20ms 100ms
			}
		}
		target dead {
			url DEAD_URL
			secret {env.CHAOS_DEAD_SECRET}
			retry {
				backoff 20ms 100ms
			}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	log {
		output stderr
		level DEBUG
		format filter {
			request>headers>X-Unicraft-Signature delete
		}
	}
	route /hook {
		webhook_inbox chaos {
			secret {env.CHAOS_SOURCE_SECRET} {env.CHAOS_OK_SECRET}
			route ` + "`event.event == \"to.dead\"`" + ` dead
			default ok
		}
	}
	route /allow {
		webhook_inbox allowlisted {
			secret {env.CHAOS_SOURCE_SECRET}
			allow_ips 192.0.2.1
			default ok
		}
	}
	route /metrics {
		metrics
	}
}
`

// TestSecretsNeverLeak drives accepted, rejected, delivered and
// dead-lettered events, then looks for the canary secrets (as they are,
// hex- and base64-encoded) everywhere the process answers or writes.
func TestSecretsNeverLeak(t *testing.T) {
	okApp := newReceiver(okTargetSecret, nil)
	okSrv := httptest.NewServer(okApp)
	t.Cleanup(okSrv.Close)
	deadApp := newReceiver(deadTargetSecret, func(w http.ResponseWriter, _ *http.Request, _ int) verdict {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "stand-in refuses this event")
		return refused
	})
	deadSrv := httptest.NewServer(deadApp)
	t.Cleanup(deadSrv.Close)

	cfg := strings.NewReplacer("OK_URL", okSrv.URL+"/ok", "DEAD_URL", deadSrv.URL+"/dead").Replace(secretsConfig)
	in := testcaddy.Start(t, cfg,
		"CHAOS_SOURCE_SECRET="+sourceSecret, "CHAOS_OK_SECRET="+okTargetSecret, "CHAOS_DEAD_SECRET="+deadTargetSecret)

	var answers []string // every ingress answer, headers included
	record := func(what string, got reply, want int) {
		t.Helper()
		if got.status != want {
			t.Fatalf("%s: got %d %s, want %d", what, got.status, got.body, want)
		}
		answers = append(answers, fmt.Sprintf("%s: %d %v %s", what, got.status, got.header, got.body))
	}
	var okIDs, deadIDs []string
	for i := range 5 {
		id := fmt.Sprintf("ok-%d", i)
		b := payload("request.completed", id)
		record("accepted", post(t, in.URL("/hook"), b, signedBy(sourceSecret, b)), 202)
		okIDs = append(okIDs, id)
		id = fmt.Sprintf("dead-%d", i)
		b = payload("to.dead", id)
		record("accepted (dead later)", post(t, in.URL("/hook"), b, signedBy(sourceSecret, b)), 202)
		deadIDs = append(deadIDs, id)
	}
	// a second ingress secret equal to a target's: still never echoed
	b := payload("request.completed", "ok-rotated")
	record("accepted with the second secret", post(t, in.URL("/hook"), b, signedBy(okTargetSecret, b)), 202)
	okIDs = append(okIDs, "ok-rotated")
	b = payload("request.completed", "bad-sig")
	record("401 wrong secret", post(t, in.URL("/hook"), b, signedBy("not-the-secret", b)), 401)
	record("401 secret as the signature", post(t, in.URL("/hook"), b, map[string]string{"X-UniCraft-Signature": sourceSecret}), 401)
	record("403", post(t, in.URL("/allow"), b, signedBy(sourceSecret, b)), 403)
	nj := []byte("not json " + sourceSecret)
	record("400 not JSON", post(t, in.URL("/hook"), nj, signedBy(sourceSecret, nj)), 400)
	record("401 no signature", post(t, in.URL("/hook"), payload("request.completed", "ok-0"), nil), 401)

	if missing := okApp.waitDelivered(okIDs, 15*time.Second); len(missing) > 0 {
		t.Fatalf("not delivered to ok: %v", missing)
	}
	waitUntil(t, 15*time.Second, "every to.dead event dead-lettered", func() bool {
		var s struct {
			Targets map[string]struct{ Dead, Pending int } `json:"targets"`
		}
		adminJSON(t, in, "/webhook_inbox/stats", &s)
		return s.Targets["dead"].Dead == len(deadIDs) && s.Targets["ok"].Pending == 0
	})

	sources := map[string]string{"caddy log": in.Log()}
	for i, a := range answers {
		sources[fmt.Sprintf("ingress answer %d", i)] = a
	}
	for _, p := range []string{"/metrics", "/config/", "/webhook_inbox/stats", "/webhook_inbox/events?status=dead", "/webhook_inbox/nope", "/webhook_inbox/events/nope"} {
		status, body := adminGet(t, in, p)
		sources["admin GET "+p] = fmt.Sprintf("%d %s", status, body)
	}
	_, pages := storedEvents(t, in)
	sources["admin event list"] = strings.Join(pages, "\n")
	for _, id := range append(okIDs, deadIDs...) {
		status, body := adminGet(t, in, "/webhook_inbox/events/"+url.PathEscape(id))
		if status != http.StatusOK {
			t.Fatalf("event %s: %d %s", id, status, body)
		}
		sources["admin event "+id] = body
	}
	if dump := sources["admin event dead-0"]; !strings.Contains(dump, `"dead"`) || !strings.Contains(dump, "stand-in refuses") {
		t.Fatalf("dead-letter dump lacks the dead status or the answer excerpt: %s", dump)
	}
	if !strings.Contains(sources["admin GET /config/"], "{env.CHAOS_SOURCE_SECRET}") {
		t.Fatal("GET /config/ does not show the secret placeholder: is this the right config?")
	}

	canaries := map[string]string{}
	for _, s := range []string{sourceSecret, okTargetSecret, deadTargetSecret} {
		canaries[s] = s
		canaries[s+" (hex)"] = hex.EncodeToString([]byte(s))
		canaries[s+" (base64)"] = base64.StdEncoding.EncodeToString([]byte(s))[:len(s)] // a prefix is enough
	}
	for where, text := range sources {
		for name, c := range canaries {
			if strings.Contains(text, c) {
				t.Errorf("%s contains the canary %s", where, name)
			}
		}
	}
	// the 400 body echoed nothing of the body it refused
	if strings.Contains(in.Log(), "not json") {
		t.Error("a refused body reached the log")
	}
	okTally, deadTally := okApp.tally(okIDs, okIDs), deadApp.tally(nil, nil)
	t.Logf("looked in %d places for %d canary forms; ok target: %d delivered; dead target: %d dead letters",
		len(sources), len(canaries), okTally.Delivered, len(deadIDs))
	if okTally.BadSignatures+deadTally.BadSignatures != 0 {
		t.Error("a target saw a bad signature: its secret was not the one configured")
	}
}
