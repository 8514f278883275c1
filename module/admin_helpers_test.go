package module_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// adminConfig routes request.* events to app and cost.exceeded to pager
// and app; both targets are the test's stand-in (STANDIN), with short
// backoffs so retries happen within a test. /metrics is a site route
// with Caddy's metrics handler.
const adminConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space off
		target app {
			url STANDIN/app
			secret {env.TEST_APP_SECRET}
			retry {
				max_attempts 5
				backoff 20ms 100ms
			}
		}
		target pager {
			url STANDIN/pager
			retry {
				max_attempts 4
				backoff 20ms 100ms
			}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	route /hook {
		webhook_inbox unicraft {
			secret {env.TEST_NEW_SECRET}
			route ` + "`event.event == \"cost.exceeded\"`" + ` pager app
			route ` + "`event.event.startsWith(\"request.\")`" + ` app
		}
	}
	route /metrics {
		metrics
	}
}
`

// standIn is a downstream app whose answer the test chooses per event:
// answer gets the event ID and how many times it has arrived (this one
// included) and returns the status. It counts deliveries per event ID.
type standIn struct {
	*httptest.Server
	mu      sync.Mutex
	answer  func(id string, n int) int
	got     map[string]int
	sigs    []string // X-UniCraft-Signature of each delivery
	changed chan struct{}
}

func newStandIn(t *testing.T, answer func(id string, n int) int) *standIn {
	s := &standIn{answer: answer, got: make(map[string]int), changed: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get("X-UniCraft-Event-Id")
		s.mu.Lock()
		s.got[id]++
		s.sigs = append(s.sigs, r.Header.Get("X-UniCraft-Signature"))
		status := s.answer(id, s.got[id])
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintf(w, "stand-in answered %d", status)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *standIn) setAnswer(answer func(id string, n int) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = answer
}

func (s *standIn) signatures() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sigs)
}

func (s *standIn) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[id]
}

// waitCount waits until id has arrived at least n times.
func (s *standIn) waitCount(t *testing.T, id string, n int) {
	t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := s.got[id], s.changed
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("event %s reached the stand-in %d times, want %d", id, got, n)
		}
	}
}

func always(status int) func(string, int) int {
	return func(string, int) int { return status }
}

// startAdmin runs caddy with adminConfig delivering to the stand-in.
func startAdmin(t *testing.T, s *standIn, env ...string) *testcaddy.Instance {
	t.Helper()
	env = append([]string{"TEST_APP_SECRET=" + appSecret}, append(secretEnv, env...)...)
	return testcaddy.Start(t, strings.ReplaceAll(adminConfig, "STANDIN", s.URL), env...)
}

type adminReply struct {
	status int
	header http.Header
	body   string
}

// adminCall sends one request to the admin endpoint; path is sent as is
// (already escaped).
func adminCall(t *testing.T, in *testcaddy.Instance, method, path, body string) adminReply {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+in.Admin+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return adminReply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// adminGet GETs path, wants 200 and decodes the JSON answer into v.
func adminGet(t *testing.T, in *testcaddy.Instance, path string, v any) {
	t.Helper()
	got := adminCall(t, in, http.MethodGet, path, "")
	if got.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, got.status, got.body)
	}
	if err := json.Unmarshal([]byte(got.body), v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, got.body)
	}
}

// waitUntil polls cond until it holds or 15 seconds pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The admin answers as the tests read them.
type (
	statsJSON struct {
		Targets map[string]struct {
			Pending    int64  `json:"pending"`
			Dead       int64  `json:"dead"`
			Circuit    string `json:"circuit"`
			Configured bool   `json:"configured"`
		} `json:"targets"`
		Store struct {
			Dir       string `json:"dir"`
			SizeBytes int64  `json:"size_bytes"`
		} `json:"store"`
		Totals struct {
			Since     time.Time `json:"since"`
			Received  int64     `json:"received"`
			Delivered int64     `json:"delivered"`
			Retried   int64     `json:"retried"`
			Dead      int64     `json:"dead"`
		} `json:"totals"`
	}
	eventsJSON struct {
		Events []struct {
			ID      string `json:"id"`
			Type    string `json:"type"`
			Status  string `json:"status"`
			Targets []struct {
				Target   string `json:"target"`
				Status   string `json:"status"`
				Attempts int    `json:"attempts"`
			} `json:"targets"`
		} `json:"events"`
		NextCursor string `json:"next_cursor"`
	}
	eventJSON struct {
		ID           string            `json:"id"`
		Source       string            `json:"source"`
		Status       string            `json:"status"`
		Headers      map[string]string `json:"headers"`
		Body         json.RawMessage   `json:"body"`
		BodyEncoding string            `json:"body_encoding"`
		Targets      []struct {
			Target   string `json:"target"`
			Status   string `json:"status"`
			Reason   string `json:"reason"`
			Attempts []struct {
				Status     int     `json:"status"`
				DurationMS float64 `json:"duration_ms"`
				Body       string  `json:"body"`
			} `json:"attempts"`
		} `json:"targets"`
	}
)

func (e eventsJSON) ids() []string {
	out := make([]string, len(e.Events))
	for i, ev := range e.Events {
		out[i] = ev.ID
	}
	return out
}

func postEvent(t *testing.T, in *testcaddy.Instance, typ, id string) {
	t.Helper()
	body := event(typ, id, "")
	if got := post(t, in.URL("/hook"), body, signed(body)); got.status != http.StatusAccepted {
		t.Fatalf("posting %s: %d %s", id, got.status, got.body)
	}
}
