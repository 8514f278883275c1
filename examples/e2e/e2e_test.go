// Package e2e runs UniCraft's documented Express and Flask receivers
// (examples/express, examples/flask) behind the real caddy binary and
// checks that their own signature checks accept every relayed seed event
// with `body node` and `body python`, and reject it with `body raw`.
package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/internal/testtool"
)

const (
	senderSecret = "unicraft-sender-secret-e2e"
	appSecret    = "app-secret-e2e-4f1c"
)

// gatewayConfig relays the seed events to both apps, each re-encoded for
// its language, and the control events to both apps raw.
const gatewayConfig = `{
	admin [[.Admin]]
	debug
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space off
		target express {
			url http://127.0.0.1:EXPRESS_PORT/webhooks/unicraft
			secret {env.E2E_APP_SECRET}
			body node
			retry {
				backoff 50ms 500ms
			}
		}
		target flask {
			url http://127.0.0.1:FLASK_PORT/webhooks/unicraft
			secret {env.E2E_APP_SECRET}
			body python
			retry {
				backoff 50ms 500ms
			}
		}
		target express_raw {
			url http://127.0.0.1:EXPRESS_PORT/webhooks/unicraft
			secret {env.E2E_APP_SECRET}
			body raw
		}
		target flask_raw {
			url http://127.0.0.1:FLASK_PORT/webhooks/unicraft
			secret {env.E2E_APP_SECRET}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	webhook_inbox /webhooks/unicraft unicraft {
		secret {env.E2E_SENDER_SECRET}
		default express flask
	}
	webhook_inbox /control control {
		secret {env.E2E_SENDER_SECRET}
		default express_raw flask_raw
	}
}
`

// seedEvents are the seven events of UniCraft's documentation, in its
// indented layout, with awkward values added: floats such as 1050.0 and
// 0.000042 that each language prints differently, 1e-7, 1e21, an integer
// beyond a double, non-ASCII text, escaped slashes, U+2028, a duplicate
// key and array-index keys. TIMESTAMP is replaced with the current time
// (the inbox refuses stale events).
var seedEvents = []struct {
	event string
	body  string
	// express and flask are what the apps' handlers print for the event
	// (the start of the line); "" where the handler prints nothing.
	express, flask string
}{
	{
		event: "request.completed",
		body: `{
  "event": "request.completed",
  "timestamp": "TIMESTAMP",
  "data": {
    "request_id": "req_123456789",
    "model": "gpt-3.5-turbo",
    "provider": "openai",
    "cost": 0.000042,
    "response_time": 1250,
    "tokens": {
      "prompt": 50,
      "completion": 25,
      "total": 75
    },
    "prompt_preview": "Grüße, 世界 🌍 \u2028 see https:\/\/unicraft.example\/docs",
    "user_id": "user_123",
    "project_id": "proj_456"
  }
}`,
		express: "Request completed: req_123456789",
		flask:   "Request completed: req_123456789",
	},
	{
		event: "request.failed",
		body: `{
  "event": "request.failed",
  "timestamp": "TIMESTAMP",
  "data": {
    "request_id": "req_987654321",
    "model": "gpt-4",
    "provider": "openai",
    "error": {
      "type": "rate_limit_exceeded",
      "message": "Rate limit exceeded — réessayez",
      "code": "rate_limit_exceeded",
      "retry_after": 1e-7
    },
    "retry_count": 3,
    "user_id": "user_123",
    "project_id": "proj_456"
  }
}`,
		express: "Request failed: req_987654321",
		flask:   "Request failed: req_987654321 - {'type': 'rate_limit_exceeded', 'message': 'Rate limit exceeded — réessayez', 'code': 'rate_limit_exceeded', 'retry_after': 1e-07}",
	},
	{
		event: "cost.exceeded",
		body: `{
  "event": "cost.exceeded",
  "timestamp": "TIMESTAMP",
  "data": {
    "budget_id": "budget_123",
    "budget_name": "Monthly AI Budget ☕ Café",
    "current_cost": 1050.0,
    "limit": 1000.0,
    "excess": 50.0,
    "period": "monthly",
    "user_id": "user_123",
    "project_id": "proj_456"
  }
}`,
		express: "Cost exceeded: Monthly AI Budget ☕ Café 50",
		flask:   "Cost exceeded: Monthly AI Budget ☕ Café - $50.0",
	},
	{
		event: "cost.daily_alert",
		body: `{
  "event": "cost.daily_alert",
  "timestamp": "TIMESTAMP",
  "data": {
    "date": "2024-01-20",
    "daily_cost": 85.0,
    "daily_limit": 100.0,
    "percentage": 85.0,
    "currency": "€",
    "user_id": "user_123",
    "project_id": "proj_456"
  }
}`,
		express: "Unknown event: cost.daily_alert",
	},
	{
		event: "provider.unavailable",
		body: `{
  "event": "provider.unavailable",
  "timestamp": "TIMESTAMP",
  "data": {
    "provider": "openai",
    "status": "unavailable",
    "reason": "service_outage",
    "estimated_recovery": "2024-01-20T11:00:00Z",
    "status_page": "https:\/\/status.openai.example\/",
    "affected_models": ["gpt-4", "gpt-3.5-turbo"]
  }
}`,
		express: "Provider unavailable: openai",
		flask:   "Provider unavailable: openai",
	},
	{
		event: "provider.recovered",
		body: `{
  "event": "provider.recovered",
  "timestamp": "TIMESTAMP",
  "data": {
    "provider": "openai",
    "status": "available",
    "downtime_duration": 1800,
    "downtime_ms": 1.8e6,
    "requests_seen": 12345678901234567890,
    "affected_models": ["gpt-4", "gpt-3.5-turbo"]
  }
}`,
		express: "Unknown event: provider.recovered",
	},
	{
		event: "error.high_rate",
		body: `{
  "event": "error.high_rate",
  "timestamp": "TIMESTAMP",
  "data": {
    "error_rate": 0.15,
    "threshold": 0.1,
    "time_window": "5m",
    "provider": "openai",
    "model": "gpt-4",
    "model": "gpt-4-turbo",
    "tokens_at_risk": 1e21,
    "by_hour": {"total": 35, "10": 20, "9": 15},
    "error_types": [
      {
        "type": "rate_limit_exceeded",
        "count": 25
      },
      {
        "type": "invalid_request",
        "count": 10
      }
    ]
  }
}`,
		express: "Unknown event: error.high_rate",
	},
}

// controlEvent is the documentation's cost.exceeded as UniCraft sends it:
// without re-encoding, neither app's check can accept it.
const controlEvent = `{"event":"cost.exceeded","timestamp":"TIMESTAMP","data":{"budget_id":"budget_123","budget_name":"Monthly AI Budget","current_cost":1050.0,"limit":1000.0,"excess":50.0,"period":"monthly","user_id":"user_123","project_id":"proj_456"}}`

// expressHandlerLines begin the lines the Express app's handler prints,
// one per accepted event.
var expressHandlerLines = []string{"Request completed:", "Request failed:", "Cost exceeded:", "Provider unavailable:", "Unknown event:"}

// flaskHandlerLines likewise for the Flask app, which prints only for
// four of the seven event types; its access log shows every answer.
var flaskHandlerLines = []string{"Request completed:", "Request failed:", "Cost exceeded:", "Provider unavailable:"}

const (
	flaskAccepted = `"POST /webhooks/unicraft HTTP/1.1" 200`
	flaskRejected = `"POST /webhooks/unicraft HTTP/1.1" 401`
)

func TestSeedReceiversBehindInbox(t *testing.T) {
	node := requireTool(t, "node", "install Node.js")
	python := flaskPython(t)
	expressDir := exampleDir(t, "express")
	installExpress(t, expressDir)

	expressPort, flaskPort := testcaddy.FreePort(t), testcaddy.FreePort(t)
	appEnv := []string{"WEBHOOK_SECRET=" + appSecret}
	express := startApp(t, "express", expressPort, exec.Command(node, "server.js"), expressDir,
		append(appEnv, fmt.Sprintf("PORT=%d", expressPort)))
	flask := startApp(t, "flask", flaskPort, exec.Command(python, "app.py"), exampleDir(t, "flask"),
		append(appEnv, fmt.Sprintf("PORT=%d", flaskPort), "PYTHONUNBUFFERED=1"))

	cfg := strings.NewReplacer("EXPRESS_PORT", fmt.Sprint(expressPort), "FLASK_PORT", fmt.Sprint(flaskPort)).Replace(gatewayConfig)
	gw := testcaddy.Start(t, cfg, "E2E_SENDER_SECRET="+senderSecret, "E2E_APP_SECRET="+appSecret)

	now := time.Now().UTC().Format(time.RFC3339)
	for i, ev := range seedEvents {
		post(t, gw.URL("/webhooks/unicraft"), fmt.Sprintf("evt_e2e_%d", i), strings.ReplaceAll(ev.body, "TIMESTAMP", now))
	}
	post(t, gw.URL("/control"), "evt_e2e_control", strings.ReplaceAll(controlEvent, "TIMESTAMP", now))

	// Every delivery settles: 7 delivered per re-encoding target, one
	// dead letter per raw target.
	settled := map[string]int{"express": len(seedEvents), "flask": len(seedEvents), "express_raw": 1, "flask_raw": 1}
	want := map[string]int{"express/delivered": len(seedEvents), "flask/delivered": len(seedEvents), "express_raw/dead": 1, "flask_raw/dead": 1}
	got := waitForOutcomes(t, gw, settled, 60*time.Second)
	for k, n := range want {
		if got[k] != n {
			t.Errorf("inbox log: %d %s, want %d (all: %v)", got[k], k, n, got)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("inbox log: %d unexpected %s", n, k)
		}
	}

	t.Run("express accepted every event with body node", func(t *testing.T) {
		n := express.waitCount(len(seedEvents), 5*time.Second, expressHandlerLines...)
		if n != len(seedEvents) {
			t.Errorf("express logged %d events, want %d", n, len(seedEvents))
		}
		for _, ev := range seedEvents {
			if express.count(ev.express) != 1 {
				t.Errorf("%s: express did not log %q once", ev.event, ev.express)
			}
		}
		t.Logf("express accepted %d of %d seed events", n, len(seedEvents))
	})
	t.Run("flask accepted every event with body python", func(t *testing.T) {
		n := flask.waitCount(len(seedEvents), 5*time.Second, flaskAccepted)
		if n != len(seedEvents) {
			t.Errorf("flask answered 200 %d times, want %d", n, len(seedEvents))
		}
		for _, ev := range seedEvents {
			if ev.flask != "" && flask.count(ev.flask) != 1 {
				t.Errorf("%s: flask did not log %q once", ev.event, ev.flask)
			}
		}
		t.Logf("flask accepted %d of %d seed events (%d handler lines)", n, len(seedEvents), flask.count(flaskHandlerLines...))
	})
	t.Run("stored attempts", func(t *testing.T) {
		// What the inbox recorded, through its admin API: one attempt per
		// target, answered 200 by the re-encoding targets, 401 by the raw.
		wantStatus := map[string]int{"express": http.StatusOK, "flask": http.StatusOK}
		for i := range seedEvents {
			checkAttempts(t, gw, fmt.Sprintf("evt_e2e_%d", i), wantStatus)
		}
		checkAttempts(t, gw, "evt_e2e_control",
			map[string]int{"express_raw": http.StatusUnauthorized, "flask_raw": http.StatusUnauthorized})
	})
	t.Run("raw bodies fail both apps' checks", func(t *testing.T) {
		for target, status := range deadStatuses(t, gw) {
			if status != http.StatusUnauthorized {
				t.Errorf("%s: dead-lettered with status %d, want 401", target, status)
			}
		}
		if n := flask.count(flaskRejected); n != 1 {
			t.Errorf("flask answered 401 %d times, want 1", n)
		}
		// The Express app logs nothing for a rejected event.
		if n := express.count(expressHandlerLines...); n != len(seedEvents) {
			t.Errorf("express logged %d events, want only the %d seed events", n, len(seedEvents))
		}
	})
	if t.Failed() {
		t.Logf("express output:\n%s\nflask output:\n%s", express.output(), flask.output())
	}
}

// requireTool returns a program's path; see internal/testtool.
func requireTool(t *testing.T, name, hint string) string {
	t.Helper()
	return testtool.Require(t, name, hint)
}

// missing fails the test in CI and skips it elsewhere; see
// internal/testtool.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	testtool.Missing(t, format, args...)
}

// flaskPython returns a python3 that imports flask: the one on PATH, or
// Debian's, where apt's python3-flask installs.
func flaskPython(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if err := exec.Command(path, "-c", "import flask").Run(); err == nil {
			return path
		}
		tried = append(tried, path)
	}
	missing(t, "no python3 imports flask (tried %v): apt-get install -y python3-flask", tried)
	return ""
}

func exampleDir(t *testing.T, name string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// installExpress runs npm ci in the example's folder unless its
// dependencies are already there.
func installExpress(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "express", "package.json")); err == nil {
		return
	}
	npm := requireTool(t, "npm", "it comes with Node.js")
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		missing(t, "npm ci in %s failed: %v\n%s", dir, err, out)
	}
	t.Logf("npm ci in %s took %s", dir, time.Since(start).Round(time.Millisecond))
}

// app is a running example app whose output is kept.
type app struct {
	name string
	mu   sync.Mutex
	out  []byte
	// changed is closed and replaced whenever output arrives.
	changed chan struct{}
	exited  chan struct{}
}

// startApp runs cmd in dir and waits until it listens on port.
func startApp(t *testing.T, name string, port int, cmd *exec.Cmd, dir string, env []string) *app {
	t.Helper()
	a := &app{name: name, changed: make(chan struct{}), exited: make(chan struct{})}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = a, a
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		_ = cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-a.exited
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-a.exited:
			t.Fatalf("%s exited during start-up:\n%s", name, a.output())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %s after 30s:\n%s", name, addr, a.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Write keeps the app's output (stdout and stderr).
func (a *app) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.out = append(a.out, p...)
	close(a.changed)
	a.changed = make(chan struct{})
	return len(p), nil
}

// count returns how often the patterns occur in the output. It counts
// occurrences, not lines: Flask's development server handles requests
// in threads, and their prints interleave mid-line.
func (a *app) count(patterns ...string) int {
	out := a.output()
	n := 0
	for _, p := range patterns {
		n += strings.Count(out, p)
	}
	return n
}

// waitCount waits until the patterns occur n times, or the timeout
// passes, and returns the count.
func (a *app) waitCount(n int, timeout time.Duration, patterns ...string) int {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		a.mu.Lock()
		changed := a.changed
		a.mu.Unlock()
		got := a.count(patterns...)
		if got >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline.C:
			return got
		}
	}
}

func (a *app) output() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return string(a.out)
}

// post sends one event to the inbox as UniCraft does, signed over the
// raw bytes, and expects it stored.
func post(t *testing.T, url, id, body string) {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(senderSecret))
	mac.Write([]byte(body))
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-UniCraft-Signature", hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("X-UniCraft-Event-Id", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("posting %s: %s %s", id, resp.Status, answer)
	}
}

// logEntry is one line of the inbox's JSON log.
type logEntry struct {
	Msg    string `json:"msg"`
	Target string `json:"target"`
	Status int    `json:"status"`
}

// entries parses the inbox's delivery log lines.
func entries(log string) []logEntry {
	var out []logEntry
	for _, line := range strings.Split(log, "\n") {
		var e logEntry
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil || e.Target == "" {
			continue
		}
		out = append(out, e)
	}
	return out
}

// outcomes counts the inbox's per-attempt log lines (debug "delivered",
// "delivery failed; will retry", "delivery failed; dead-lettered") by
// target/result.
func outcomes(log string) map[string]int {
	got := map[string]int{}
	for _, e := range entries(log) {
		switch e.Msg {
		case "delivered":
			got[e.Target+"/delivered"]++
		case "delivery failed; will retry":
			got[e.Target+"/retry"]++
		case "delivery failed; dead-lettered":
			got[e.Target+"/dead"]++
		}
	}
	return got
}

// waitForOutcomes polls the inbox's log until each target has settled
// (delivered or dead-lettered) as many deliveries as settled says, or
// the timeout passes, and returns the outcomes.
func waitForOutcomes(t *testing.T, gw *testcaddy.Instance, settled map[string]int, timeout time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := outcomes(gw.Log())
		done := true
		for target, n := range settled {
			done = done && got[target+"/delivered"]+got[target+"/dead"] >= n
		}
		if done || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkAttempts reads an event's stored delivery state from the admin
// API and checks that each target had exactly one attempt, answered with
// the wanted status.
func checkAttempts(t *testing.T, gw *testcaddy.Instance, id string, want map[string]int) {
	t.Helper()
	resp, err := http.Get("http://" + gw.Admin + "/webhook_inbox/events/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ev struct {
		Targets []struct {
			Target   string `json:"target"`
			Attempts []struct {
				Status int `json:"status"`
			} `json:"attempts"`
		} `json:"targets"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET event %s: %s", id, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&ev); err != nil {
		t.Fatalf("GET event %s: %v", id, err)
	}
	if len(ev.Targets) != len(want) {
		t.Errorf("%s: %d targets, want %d", id, len(ev.Targets), len(want))
	}
	for _, tg := range ev.Targets {
		if len(tg.Attempts) != 1 || tg.Attempts[0].Status != want[tg.Target] {
			t.Errorf("%s to %s: attempts %+v, want one answered %d", id, tg.Target, tg.Attempts, want[tg.Target])
		}
	}
}

// deadStatuses returns the status of each target's dead-lettering
// attempt.
func deadStatuses(t *testing.T, gw *testcaddy.Instance) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, e := range entries(gw.Log()) {
		if e.Msg == "delivery failed; dead-lettered" {
			out[e.Target] = e.Status
		}
	}
	if len(out) == 0 {
		t.Error("no dead letters in the inbox log")
	}
	return out
}
