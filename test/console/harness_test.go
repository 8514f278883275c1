package console_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

const senderSecret = "console-sender-secret"

// consoleCaddyfile mounts the console twice on the loopback site: with
// `route` (the prefix stays in the path) and, read-only, with
// `handle_path` (Caddy strips it).
const consoleCaddyfile = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		target app {
			url TARGET_URL
			secret console-app-secret
			timeout 5s
			retry {
				max_attempts 3
				backoff 100ms 500ms
			}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	route /webhooks/unicraft {
		webhook_inbox unicraft {
			secret ` + senderSecret + `
			default app
		}
	}
	route /webhooks/other {
		webhook_inbox other {
			secret ` + senderSecret + `
			default app
		}
	}
	route /inbox/* {
		webhook_inbox_console
	}
	handle_path /ro/* {
		webhook_inbox_console {
			read_only
		}
	}
	respond 404
}
`

// standIn is the downstream app: it answers 400 to the first delivery of
// an event whose ID starts with "dead-" (a permanent failure, so a dead
// letter at once) and 200 to everything else, and counts deliveries.
type standIn struct {
	srv *httptest.Server

	mu    sync.Mutex
	count map[string]int
}

func newStandIn(t *testing.T) *standIn {
	s := &standIn{count: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get(signature.UniCraftEventID)
		s.mu.Lock()
		s.count[id]++
		n := s.count[id]
		s.mu.Unlock()
		if strings.HasPrefix(id, "dead-") && n == 1 {
			http.Error(w, `{"error":"customer_id is missing"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *standIn) deliveries(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count[id]
}

// gateway is caddy with the console, its stand-in app and helpers to
// post events and read their state.
type gateway struct {
	t   *testing.T
	in  *testcaddy.Instance
	app *standIn
}

func startGateway(t *testing.T) *gateway {
	t.Helper()
	app := newStandIn(t)
	cf := strings.Replace(consoleCaddyfile, "TARGET_URL", app.srv.URL+"/hook", 1)
	return &gateway{t: t, in: testcaddy.Start(t, cf), app: app}
}

// url is a console (or any) URL of the site.
func (g *gateway) url(path string) string { return g.in.URL(path) }

// post sends one signed event with the ID in X-UniCraft-Event-Id to the
// source unicraft and waits for its 202.
func (g *gateway) post(id string, body []byte) {
	g.t.Helper()
	g.postTo("unicraft", id, body)
}

// postTo is post to the source "unicraft" or "other".
func (g *gateway) postTo(source, id string, body []byte) {
	g.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.url("/webhooks/"+source), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "UniCraft-Webhooks/1.0")
	req.Header.Set(signature.UniCraftEventID, id)
	req.Header.Set(signature.UniCraftSignature, signature.SignUniCraft([]byte(senderSecret), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		g.t.Fatalf("posting %q: %s %s", id, resp.Status, b)
	}
}

// event builds a payload of type typ with extra fields.
func event(typ string, fields map[string]any) []byte {
	m := map[string]any{"event": typ, "timestamp": time.Now().UTC().Format(time.RFC3339)}
	for k, v := range fields {
		m[k] = v
	}
	// raw '<' and '>' in the body, as a hostile sender would send them
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m)
	return bytes.TrimSpace(buf.Bytes())
}

// waitStatus polls the admin API until the event has the status.
func (g *gateway) waitStatus(id, status string) {
	g.t.Helper()
	u := fmt.Sprintf("http://%s/webhook_inbox/events/%s?source=unicraft", g.in.Admin, url.PathEscape(id))
	var last string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(u)
		if err != nil {
			last = err.Error()
			continue
		}
		var ev struct {
			Status string `json:"status"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		if ev.Status == status {
			return
		}
		last = ev.Status
	}
	g.t.Fatalf("event %q: status %q, want %q", id, last, status)
}

// apiPost sends a state-changing console API request the way the page
// does (same origin, the console header) and returns the status.
func (g *gateway) apiPost(path string, body string) int {
	g.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.url(path), strings.NewReader(body))
	req.Header.Set("X-Inbox-Console", "1")
	req.Header.Set("Origin", strings.TrimSuffix(g.url(""), "/"))
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// eventURL is the console page of an event under a mount.
func (g *gateway) eventURL(mount, id string) string {
	return g.url(mount + "events/" + url.PathEscape(id) + "?source=unicraft")
}
