package console_test

import (
	"flag"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

var screenshots = flag.Bool("console.screenshots", false, "write the README's console screenshots to docs/")

// TestConsoleScreenshots takes the README's pictures of the real console:
//
//	go test ./test/console -run Screenshots -console.screenshots
func TestConsoleScreenshots(t *testing.T) {
	if !*screenshots {
		t.Skip("run with -console.screenshots to rewrite docs/console-*.png")
	}
	browser := newBrowser(t)
	g := startGateway(t)

	send := exec.Command(testcaddy.Binary(t), "webhook", "send",
		"--url", g.url("/webhooks/unicraft"), "--secret", senderSecret, "--event", "all")
	if out, err := send.CombinedOutput(); err != nil {
		t.Fatalf("webhook send: %v\n%s", err, out)
	}
	id := "dead-evt_8f2c41"
	g.post(id, event("cost.exceeded", map[string]any{
		"id": id,
		"data": map[string]any{
			"request_id": "req_7f3a9b2c", "user_id": "usr_1042", "provider": "openai", "model": "gpt-4",
			"cost": 12.84, "budget": 10.0, "excess": 2.84, "period": "daily",
		},
	}))
	g.waitStatus(id, "dead")
	g.post("dead-evt_8f2c42", event("request.failed", map[string]any{"data": map[string]any{"request_id": "req_91ab"}}))
	g.waitStatus("dead-evt_8f2c42", "dead")
	if code := g.apiPost("/inbox/api/events/"+id+"/replay?source=unicraft", ""); code != http.StatusAccepted {
		t.Fatalf("replay: %d", code)
	}
	g.waitStatus(id, "delivered")

	dir := filepath.Join("..", "..", "docs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shots := []struct {
		name, url, ready string
		height           int64
	}{
		{name: "console-list.png", url: g.url("/inbox/"), height: 520,
			ready: `document.querySelectorAll("tr[data-id]").length >= 9`},
		{name: "console-event.png", url: g.eventURL("/inbox/", id), height: 900,
			ready: `document.querySelectorAll("table.attempts tbody tr").length === 2`},
	}
	for _, s := range shots {
		tb := newTab(t, browser, false)
		tb.run(chromedp.EmulateViewport(1100, s.height), chromedp.Navigate(s.url))
		tb.until(s.name, s.ready)
		// the list's arrival highlight is an animation; let it finish
		tb.until("no animation", `document.getAnimations().length === 0`)
		png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, s.name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d KiB)", strings.TrimPrefix(path, "../../"), len(png)/1024)
	}
}
