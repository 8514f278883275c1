// Package console_test drives the webhook inbox console in a real
// headless Chromium, through the real caddy binary on 127.0.0.1.
package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/webhookinbox/caddy-webhook-inbox/internal/testtool"
)

// chromiumFlags are what Chromium needs on this project's machines: no
// sandbox in a container, no GPU, and nothing that reaches the internet
// by itself (QUIC probes, component and sync updates).
var chromiumFlags = []chromedp.ExecAllocatorOption{
	chromedp.Flag("headless", true),
	chromedp.Flag("no-sandbox", true),
	chromedp.Flag("disable-gpu", true),
	chromedp.Flag("disable-quic", true),
	chromedp.Flag("no-first-run", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	chromedp.Flag("no-default-browser-check", true),
	chromedp.Flag("disable-dev-shm-usage", true),
	chromedp.Flag("disable-extensions", true),
	chromedp.Flag("disable-default-apps", true),
	chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication"),
	chromedp.Flag("no-proxy-server", true),
	chromedp.Flag("hide-scrollbars", true),
	chromedp.Flag("force-color-profile", "srgb"),
	chromedp.WindowSize(1100, 720),
}

// chromium finds the browser: $CHROMIUM, else chromium on PATH; without
// one the test fails under CI and is skipped out loud elsewhere (see
// internal/testtool).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return testtool.Require(t, "chromium", "apt-get install chromium, or set CHROMIUM")
}

// newBrowser starts Chromium with a fresh profile; it ends with the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
	}, chromiumFlags...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// tab is one browser tab and what it saw: every request it made, every
// answer, and every JavaScript error or error logged to its console.
type tab struct {
	ctx context.Context
	t   *testing.T

	mu        sync.Mutex
	requests  []string
	responses map[string]int64 // URL -> status of the last answer
	errors    []string
	// expected are URL parts whose failed loads (a 4xx the test asks
	// for) are not errors
	expected []string
}

// expectFailedLoad tells the tab that a 4xx answer for a URL containing
// part is what the test asks for: Chromium logs it as an error.
func (tb *tab) expectFailedLoad(part string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.expected = append(tb.expected, part)
}

// newTab opens a tab. Unless allowErrors, the test fails when the tab
// logged a JavaScript error; in every case it fails when the tab sent a
// request anywhere but 127.0.0.1.
func newTab(t *testing.T, browser context.Context, allowErrors bool) *tab {
	t.Helper()
	tb := &tab{t: t, responses: map[string]int64{}}
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithListener(tb.listen))
	tb.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		tb.mu.Lock()
		defer tb.mu.Unlock()
		allRequests.add(tb.requests)
		for _, u := range tb.requests {
			if !loopback(u) {
				t.Errorf("the page sent a request off 127.0.0.1: %s", u)
			}
		}
		if !allowErrors {
			for _, e := range tb.errors {
				t.Errorf("JavaScript error: %s", e)
			}
		}
	})
	return tb
}

func (tb *tab) listen(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		tb.requests = append(tb.requests, ev.Request.URL)
	case *network.EventResponseReceived:
		tb.responses[ev.Response.URL] = ev.Response.Status
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		tb.errors = append(tb.errors, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			tb.errors = append(tb.errors, "console."+string(ev.Type)+": "+strings.Join(args, " "))
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError && !tb.isExpected(ev.Entry) {
			tb.errors = append(tb.errors, fmt.Sprintf("%s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

// isExpected reports whether a log entry is a failed load the test
// asked for; tb.mu is held.
func (tb *tab) isExpected(e *cdplog.Entry) bool {
	if e.Source != cdplog.EntrySourceNetwork {
		return false
	}
	for _, part := range tb.expected {
		if strings.Contains(e.URL, part) {
			return true
		}
	}
	return false
}

// actionTimeout bounds each step in a tab.
const actionTimeout = 30 * time.Second

// run runs chromedp steps in the tab, failing the test on error.
func (tb *tab) run(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("browser: %v\npage text:\n%s", err, tb.text())
	}
}

// text is the page's visible text, for failure messages.
func (tb *tab) text() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// until polls a JavaScript expression in the page until it is truthy.
func (tb *tab) until(what, expr string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		tb.t.Fatalf("waiting for %s: %v\npage text:\n%s", what, err, tb.text())
	}
}

// navigates runs a step that makes the page load another document, and
// waits until that document has loaded.
func (tb *tab) navigates(step chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, step)); err != nil {
		tb.t.Fatalf("waiting for a page load: %v\npage text:\n%s", err, tb.text())
	}
}

// eval evaluates a JavaScript expression in the page, awaiting a promise.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// status is the status of the last answer the tab got for a URL
// containing part, or 0.
func (tb *tab) status(part string) int64 {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for u, s := range tb.responses {
		if strings.Contains(u, part) {
			return s
		}
	}
	return 0
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// loopback reports whether a request URL stays on this machine's
// 127.0.0.1 (or never leaves the browser).
func loopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "data", "blob", "about":
		return true
	}
	return u.Hostname() == "127.0.0.1"
}

// requestLog gathers the requests of every tab of the test binary.
type requestLog struct {
	mu   sync.Mutex
	urls []string
}

func (l *requestLog) add(urls []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.urls = append(l.urls, urls...)
}

func (l *requestLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.urls...)
}

var allRequests requestLog
