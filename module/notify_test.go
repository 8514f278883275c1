package module_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

const opsSecret = "canary-ops-secret-41b2"

// notifyConfig relays events to the app at APP_URL and tells the ops
// target at OPS_URL when a target's circuit opens or closes.
const notifyConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space off
		notify ops
		target app {
			url APP_URL
			secret {env.TEST_APP_SECRET}
			retry {
				max_attempts 1000
				backoff 20ms 100ms
				max_age 1h
			}
		}
		target ops {
			url OPS_URL
			secret {env.TEST_OPS_SECRET}
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

// healthEvent is an inbox.target_* delivery as the ops app saw it.
type healthEvent struct {
	header http.Header
	ID     string `json:"id"`
	Event  string `json:"event"`
	Time   string `json:"timestamp"`
	Data   struct {
		Target              string `json:"target"`
		Status              string `json:"status"`
		Reason              string `json:"reason"`
		ConsecutiveFailures int    `json:"consecutive_failures"`
		NextProbe           string `json:"next_probe"`
		DowntimeDuration    *int64 `json:"downtime_duration"`
	} `json:"data"`
}

// opsApp records the target-health events it receives, refusing any with
// a bad signature.
type opsApp struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []healthEvent
	badSig int
}

func newOpsApp(t *testing.T) *opsApp {
	o := &opsApp{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(opsSecret))
		mac.Write(body)
		o.mu.Lock()
		defer o.mu.Unlock()
		if hex.EncodeToString(mac.Sum(nil)) != r.Header.Get("X-UniCraft-Signature") {
			o.badSig++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev healthEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("ops app: %v in %s", err, body)
		}
		ev.header = r.Header.Clone()
		o.events = append(o.events, ev)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// wait returns the first event of type typ, failing after timeout.
func (o *opsApp) wait(t *testing.T, typ string, timeout time.Duration) healthEvent {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		o.mu.Lock()
		for _, ev := range o.events {
			if ev.Event == typ {
				o.mu.Unlock()
				return ev
			}
		}
		o.mu.Unlock()
	}
	t.Fatalf("ops app got no %s within %s", typ, timeout)
	return healthEvent{}
}

// TestNotifyTargetHealth takes a target down and up again and checks that
// the notify target hears of both, signed with its own secret, and that
// the events are stored under the source "inbox".
func TestNotifyTargetHealth(t *testing.T) {
	app := testcaddy.NewSink(t, appSecret) // down until Up
	ops := newOpsApp(t)
	cfg := strings.NewReplacer("APP_URL", app.URL(), "OPS_URL", ops.srv.URL).Replace(notifyConfig)
	in := testcaddy.Start(t, cfg, append(deliveryEnv(), "TEST_OPS_SECRET="+opsSecret)...)

	s := newSender(in.URL("/webhooks/unicraft"), "notify")
	s.PostOne()
	_, acked := s.IDs()
	if len(acked) != 1 {
		t.Fatalf("the event was not accepted")
	}

	down := ops.wait(t, "inbox.target_down", 30*time.Second)
	if down.Data.Target != "app" || down.Data.Status != "unavailable" || down.Data.Reason != "circuit_open" {
		t.Errorf("target_down data = %+v", down.Data)
	}
	if down.Data.ConsecutiveFailures < 5 {
		t.Errorf("target_down after %d failures, want the breaker's 5", down.Data.ConsecutiveFailures)
	}
	if _, err := time.Parse(time.RFC3339, down.Data.NextProbe); err != nil {
		t.Errorf("target_down next_probe %q: %v", down.Data.NextProbe, err)
	}
	if got := down.header.Get("X-UniCraft-Event"); got != "inbox.target_down" {
		t.Errorf("X-UniCraft-Event = %q", got)
	}
	if got := down.header.Get("X-UniCraft-Event-Id"); got != down.ID || !strings.HasPrefix(got, "evt_inbox_") {
		t.Errorf("X-UniCraft-Event-Id = %q, body id %q", got, down.ID)
	}

	app.Up()
	up := ops.wait(t, "inbox.target_recovered", 30*time.Second)
	if up.Data.Target != "app" || up.Data.Status != "available" {
		t.Errorf("target_recovered data = %+v", up.Data)
	}
	if up.Data.DowntimeDuration == nil || *up.Data.DowntimeDuration < 0 {
		t.Errorf("target_recovered downtime_duration = %v", up.Data.DowntimeDuration)
	}
	if up.ID == down.ID {
		t.Errorf("both events have the ID %s", up.ID)
	}
	if missing := app.WaitFor(acked, 30*time.Second); len(missing) > 0 {
		t.Errorf("the app never got %v", missing)
	}

	var list struct {
		Events []struct {
			ID     string `json:"id"`
			Source string `json:"source"`
			Type   string `json:"type"`
		} `json:"events"`
	}
	adminGet(t, in, "/webhook_inbox/events?source=inbox", &list)
	types := map[string]string{}
	for _, ev := range list.Events {
		types[ev.ID] = ev.Type
	}
	if types[down.ID] != "inbox.target_down" || types[up.ID] != "inbox.target_recovered" {
		t.Errorf("admin lists source inbox as %v", list.Events)
	}
	ops.mu.Lock()
	defer ops.mu.Unlock()
	if ops.badSig > 0 {
		t.Errorf("%d deliveries to ops had a bad signature", ops.badSig)
	}
}
