package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsole runs the console's pages in Chromium against one gateway.
// Every tab fails its test if it logged a JavaScript error (but the one
// posing as another site) or sent a request off 127.0.0.1.
func TestConsole(t *testing.T) {
	browser := newBrowser(t)
	g := startGateway(t)

	t.Run("list shows a new event without a reload", func(t *testing.T) {
		tb := newTab(t, browser, false)
		tb.run(chromedp.Navigate(g.url("/inbox/")), chromedp.WaitVisible(chromedp.CSS(".live .dot")))
		eval[bool](tb, `window.__sameDocument = true`)
		g.post("live-1", event("request.completed", map[string]any{"data": map[string]any{"request_id": "req_live"}}))
		tb.until("the new row", `[...document.querySelectorAll("tr[data-id]")].some(r => r.dataset.id === "live-1")`)
		if !eval[bool](tb, `window.__sameDocument === true`) {
			t.Error("the page reloaded to show the new event")
		}
	})

	t.Run("deep link opens the event page with its body and attempts", func(t *testing.T) {
		id := "deep/1 ?#&"
		body := []byte(`{"event": "request.completed",   "data": {"request_id": "req_deep", "tokens": 1234}}`)
		g.post(id, body)
		g.waitStatus(id, "delivered")
		tb := newTab(t, browser, false)
		tb.run(chromedp.Navigate(g.eventURL("/inbox/", id)))
		tb.until("the attempt", `document.querySelector("table.attempts .attempt-status")?.textContent === "200"`)
		got := eval[struct{ ID, Pretty, Status string }](tb, `({ID: document.querySelector(".event-id").textContent,
			Pretty: document.querySelector("#body-pretty").textContent,
			Status: document.querySelector("#event-status").textContent})`)
		if got.ID != id || got.Status != "delivered" || !strings.Contains(got.Pretty, `"request_id": "req_deep"`) {
			t.Errorf("event page shows %+v", got)
		}
		tb.run(chromedp.Click(chromedp.CSS("#show-raw")))
		tb.until("the raw bytes", `document.querySelector("#body-raw").textContent === `+js(string(body)))
		// the same deep link under handle_path, which strips the prefix
		tb.run(chromedp.Navigate(g.eventURL("/ro/", id)))
		tb.until("the attempt under handle_path", `document.querySelector(".event-id")?.textContent === `+js(id)+` &&
			document.querySelector("table.attempts .attempt-status")?.textContent === "200"`)
	})

	t.Run("an ID two sources hold links to each", func(t *testing.T) {
		g.postTo("unicraft", "twin", event("request.completed", nil))
		g.postTo("other", "twin", event("provider.recovered", nil))
		tb := newTab(t, browser, false)
		tb.expectFailedLoad("/inbox/api/events/twin") // the 409 without ?source=
		tb.run(chromedp.Navigate(g.url("/inbox/events/twin")))
		tb.until("a link per source", `[...document.querySelectorAll("ul.sources a")].map(a => a.textContent).join() === "Source other,Source unicraft"`)
		tb.navigates(chromedp.Click(chromedp.CSS(`ul.sources li:first-child a`)))
		tb.until("the other source's event", `document.querySelector(".meta dd")?.textContent === "other" && location.search === "?source=other"`)
	})

	t.Run("hostile body shows as text and runs nothing", func(t *testing.T) {
		id := `"><img src=x onerror=window.__pwned=1>`
		img := `<img src=x onerror=window.__pwned=2>`
		script := `</script><script>window.__pwned=3</script>`
		g.post(id, event(img, map[string]any{"note": img, "more": script}))
		g.waitStatus(id, "delivered")
		for _, page := range []string{g.url("/inbox/?type=" + strings.ReplaceAll(img, " ", "+")), g.eventURL("/inbox/", id)} {
			tb := newTab(t, browser, false)
			tb.run(chromedp.Navigate(page))
			tb.until("the hostile event", `document.body.textContent.includes(`+js(img)+`)`)
			res := eval[struct {
				Pwned          bool
				Images, Script int
			}](tb, `({Pwned: window.__pwned !== undefined,
				Images: document.querySelectorAll("img").length,
				Script: document.querySelectorAll("script").length})`)
			if res.Pwned || res.Images != 0 || res.Script != 1 {
				t.Errorf("%s: the payload became markup: %+v", page, res)
			}
			if strings.Contains(page, "/events/") {
				tb.run(chromedp.Click(chromedp.CSS("#show-raw")))
				tb.until("the raw hostile body", `document.querySelector("#body-raw").textContent.includes(`+js(script)+`)`)
				if eval[bool](tb, `window.__pwned !== undefined || document.querySelectorAll("img, script").length !== 1`) {
					t.Error("the raw body became markup")
				}
			}
		}
	})

	t.Run("replay from the page delivers a dead letter again", func(t *testing.T) {
		id := "dead-replay"
		g.post(id, event("request.failed", nil))
		g.waitStatus(id, "dead")
		tb := newTab(t, browser, false)
		tb.run(chromedp.Navigate(g.eventURL("/inbox/", id)))
		tb.until("the dead letter", `document.querySelector("#event-status")?.textContent === "dead"`)
		tb.run(chromedp.Click(chromedp.CSS("#replay-all")))
		tb.until("the redelivery", `document.querySelector("#event-status")?.textContent === "delivered" &&
			document.querySelectorAll("table.attempts tbody tr").length === 2`)
		if n := g.app.deliveries(id); n != 2 {
			t.Errorf("the app got %d deliveries of %s, want 2", n, id)
		}
	})

	t.Run("filters and cursor paging", func(t *testing.T) {
		for _, id := range []string{"page-1", "page-2", "page-3"} {
			g.post(id, event("provider.unavailable", nil))
			g.waitStatus(id, "delivered")
		}
		g.post("dead-filter", event("request.failed", nil))
		g.waitStatus("dead-filter", "dead")
		tb := newTab(t, browser, false)
		tb.run(chromedp.Navigate(g.url("/inbox/?type=provider.unavailable&limit=2")))
		rows := `[...document.querySelectorAll("tr[data-id]")].map(r => r.dataset.id).join(",")`
		tb.until("the first page", rows+` === "page-3,page-2"`)
		tb.navigates(chromedp.Click(chromedp.CSS(`a[rel="next"]`)))
		tb.until("the second page", rows+` === "page-1" && document.querySelector(".pager a").textContent.includes("Newest")`)
		tb.run(chromedp.Navigate(g.url("/inbox/")))
		tb.until("the list", `document.querySelector(".live .dot") !== null`)
		tb.navigates(chromedp.SetValue(chromedp.CSS(`select[name="status"]`), "dead"))
		tb.until("dead letters only", `location.search === "?status=dead" && document.querySelector("tr[data-id='dead-filter']") !== null &&
			[...document.querySelectorAll("tr[data-id] td:nth-child(2)")].every(td => td.textContent === "dead")`)
	})

	t.Run("delete asks first", func(t *testing.T) {
		id := "delete-me"
		g.post(id, event("request.completed", nil))
		g.waitStatus(id, "delivered")
		tb := newTab(t, browser, false)
		tb.run(chromedp.Navigate(g.eventURL("/inbox/", id)))
		tb.until("the event", `document.querySelector("#event-status")?.textContent === "delivered"`)
		tb.run(chromedp.Click(chromedp.CSS("#delete")), chromedp.WaitVisible(chromedp.CSS("#confirm-delete")))
		tb.navigates(chromedp.Click(chromedp.CSS("#confirm-delete")))
		tb.until("the list", `location.pathname === "/inbox/" && document.querySelector(".live .dot") !== null`)
		if n := count(tb, `tr[data-id="delete-me"]`); n != 0 {
			t.Errorf("the deleted event is still listed")
		}
	})

	t.Run("targets page charts deliveries and bulk-replays after a dry run", func(t *testing.T) {
		id := "dead-bulk"
		g.post(id, event("cost.exceeded", map[string]any{"tag": "bulk"}))
		g.waitStatus(id, "dead")
		tb := newTab(t, browser, false)
		tb.run(chromedp.Navigate(g.url("/inbox/targets")))
		tb.until("the chart", `document.querySelector("figure.chart[data-target=app] rect.bar-success") !== null`)
		tb.run(chromedp.SendKeys(chromedp.CSS("#bulk textarea"), `event.tag == "bulk"`),
			chromedp.Click(chromedp.CSS("#bulk-count")))
		tb.until("the dry-run count", `document.querySelector("#bulk-matched")?.textContent === "1"`)
		if g.app.deliveries(id) != 1 {
			t.Fatal("the dry run replayed")
		}
		tb.run(chromedp.Click(chromedp.CSS("#bulk-replay")))
		tb.until("the replay", `document.querySelector("#bulk-result").textContent.startsWith("Requeued 1")`)
		g.waitStatus(id, "delivered")
	})

	t.Run("read_only shows no buttons and refuses the API", func(t *testing.T) {
		id := "dead-readonly"
		g.post(id, event("request.failed", nil))
		g.waitStatus(id, "dead")
		tb := newTab(t, browser, false)
		tb.run(chromedp.Navigate(g.eventURL("/ro/", id)))
		tb.until("the event", `document.querySelector("#event-status")?.textContent === "dead"`)
		if n := count(tb, "main button:not(#show-raw)"); n != 0 {
			t.Errorf("read-only event page has %d action buttons", n)
		}
		tb.run(chromedp.Navigate(g.url("/ro/targets")))
		tb.until("the targets", `document.querySelector("tr[data-target=app]") !== null && !document.querySelector("#mode").hidden`)
		if n := count(tb, "main button, #bulk"); n != 0 {
			t.Errorf("read-only targets page has %d buttons or forms", n)
		}
		for _, path := range []string{"/ro/api/events/" + id + "/replay?source=unicraft", "/ro/api/replay"} {
			if code := g.apiPost(path, `{"dry_run":true}`); code != http.StatusForbidden {
				t.Errorf("POST %s: %d, want 403", path, code)
			}
		}
		if g.app.deliveries(id) != 1 {
			t.Error("a read-only console replayed")
		}
	})

	t.Run("cross-site POST gets 403", func(t *testing.T) {
		id := "dead-crosssite"
		g.post(id, event("request.failed", nil))
		g.waitStatus(id, "dead")
		target := g.eventURL("/inbox/api/", id)
		target = strings.Replace(target, "?source=", "/replay?source=", 1)
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><form method="POST" action="%s"><input name="x" value="1"></form>`, target)
		}))
		defer evil.Close()
		tb := newTab(t, browser, true)
		tb.run(chromedp.Navigate(evil.URL))
		eval[bool](tb, `fetch(`+js(target)+`, {method: "POST", mode: "no-cors", headers: {"X-Inbox-Console": "1"}}).then(() => true)`)
		if s := tb.status("/replay"); s != http.StatusForbidden {
			t.Errorf("cross-site fetch answered %d, want 403", s)
		}
		tb.navigates(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(document.forms[0].submit(), true)`)(ctx, t)
			return err
		}))
		if s := tb.status("/replay"); s != http.StatusForbidden {
			t.Errorf("cross-site POST answered %d, want 403", s)
		}
		if g.app.deliveries(id) != 1 {
			t.Error("a cross-site POST replayed the dead letter")
		}
	})

	t.Run("no secret, target URL or store path reaches the page", func(t *testing.T) {
		secrets := []string{"console-app-secret", senderSecret, g.app.srv.URL, strings.TrimPrefix(g.app.srv.URL, "http://"), g.in.Data}
		for _, path := range []string{"/inbox/api/config", "/inbox/api/stats", "/inbox/api/series",
			"/inbox/api/events?limit=1000", "/inbox/api/events/dead-replay?source=unicraft", "/inbox/", "/inbox/targets"} {
			resp, err := http.Get(g.url(path))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %s", path, resp.Status)
			}
			for _, s := range secrets {
				if strings.Contains(string(body), s) {
					t.Errorf("GET %s shows %q", path, s)
				}
			}
		}
	})

	t.Run("control: the error recorder sees a JavaScript error", func(t *testing.T) {
		tb := newTab(t, browser, true)
		tb.run(chromedp.Navigate(g.url("/inbox/targets")))
		eval[bool](tb, `(setTimeout(() => { throw new Error("control") }), true)`)
		tb.until("the page to settle", `document.querySelector("tr[data-target=app]") !== null`)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			tb.mu.Lock()
			n := len(tb.errors)
			tb.mu.Unlock()
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a thrown error was not recorded: the no-error checks would pass vacuously")
			}
		}
	})

	t.Run("no request left 127.0.0.1", func(t *testing.T) {
		urls := allRequests.all()
		if len(urls) < 10 {
			t.Fatalf("only %d requests recorded", len(urls))
		}
		for _, u := range urls {
			if !loopback(u) {
				t.Errorf("request off 127.0.0.1: %s", u)
			}
		}
	})
}

// count counts the elements a CSS selector matches in the page.
func count(tb *tab, sel string) int {
	tb.t.Helper()
	return eval[int](tb, `document.querySelectorAll(`+js(sel)+`).length`)
}
