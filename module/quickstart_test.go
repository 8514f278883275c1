package module_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// goReceiver is examples/go-receiver running as a process.
type goReceiver struct {
	url string
	out *syncBuffer
}

func (g *goReceiver) log() string { return g.out.String() }

// startGoReceiver builds and runs examples/go-receiver on a free port.
func startGoReceiver(t *testing.T, secret string) *goReceiver {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "go-receiver")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/go-receiver").CombinedOutput(); err != nil {
		t.Fatalf("building examples/go-receiver: %v\n%s", err, out)
	}
	port := testcaddy.FreePort(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret, fmt.Sprintf("PORT=%d", port))
	out := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("go-receiver did not listen:\n%s", out.String())
		}
	}
	return &goReceiver{url: "http://" + addr + "/webhooks/unicraft", out: out}
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestQuickStart runs the README's quick start on the repo's own
// Caddyfile, with only its ports and data directory moved so it cannot
// clash with anything else on the machine: examples/go-receiver as the
// app (checking the demo app secret), the gateway, `caddy webhook send
// --event all`, the curl + openssl snippet, then `caddy webhook events
// --status delivered`.
func TestQuickStart(t *testing.T) {
	raw, err := os.ReadFile("../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	app := startGoReceiver(t, "demo-app-secret")
	cf := string(raw)
	for _, r := range []struct{ old, new string }{
		{"admin localhost:2019", "admin [[.Admin]]"},
		{"http://:8080", "http://:[[.HTTP]]"},
		{"https://localhost:8443", fmt.Sprintf("https://localhost:%d", testcaddy.FreePort(t))},
		{"http://127.0.0.1:3000/webhooks/unicraft", app.url},
		{"storage_dir ./data/webhook-inbox", "storage_dir [[.Data]]"},
	} {
		if !strings.Contains(cf, r.old) {
			t.Fatalf("the quick-start Caddyfile no longer contains %q; update this test and the README", r.old)
		}
		cf = strings.Replace(cf, r.old, r.new, 1)
	}
	in := testcaddy.Start(t, cf)

	send := exec.Command(testcaddy.Binary(t), "webhook", "send",
		"--url", in.URL("/webhooks/unicraft"), "--secret", "demo-unicraft-secret", "--event", "all")
	out, err := send.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "status 202: 7") {
		t.Fatalf("webhook send: %v\n%s", err, out)
	}

	// the README's curl + openssl snippet, as written but for the port
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(readme), "body='{")
	end := strings.Index(string(readme), `--data-binary "$body"`)
	if start < 0 || end < start {
		t.Fatal("the README's curl snippet is gone; update this test")
	}
	snippet := strings.ReplaceAll(string(readme)[start:end+len(`--data-binary "$body"`)],
		"http://127.0.0.1:8080", in.URL(""))
	curl := exec.Command("bash", "-c", snippet)
	out, err = curl.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "202 Accepted") || !strings.Contains(string(out), `"id":"evt_1"`) {
		t.Fatalf("README curl snippet: %v\n%s", err, out)
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		accepted := strings.Count(app.log(), `msg="webhook accepted"`)
		if accepted == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app accepted %d of 8 events:\n%s", accepted, app.log())
		}
		time.Sleep(50 * time.Millisecond)
	}

	events := exec.Command(testcaddy.Binary(t), "webhook", "events", "--status", "delivered", "--address", in.Admin)
	out, err = events.CombinedOutput()
	if err != nil {
		t.Fatalf("webhook events: %v\n%s", err, out)
	}
	for _, typ := range []string{"request.completed", "request.failed", "cost.exceeded", "cost.daily_alert",
		"provider.unavailable", "provider.recovered", "error.high_rate"} {
		if !strings.Contains(string(out), typ) {
			t.Errorf("delivered events lack %s:\n%s", typ, out)
		}
	}
}
