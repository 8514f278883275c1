package module

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

func TestConsoleRoute(t *testing.T) {
	assets := func(name string) bool { return name == "app.js" }
	tests := []struct {
		name  string
		path  string
		want  consoleRoute
		found bool
	}{
		{name: "list under a prefix", path: "/inbox/", want: consoleRoute{kind: "page", page: "list"}, found: true},
		{name: "list at the site root", path: "/", want: consoleRoute{kind: "page", page: "list"}, found: true},
		{name: "targets", path: "/inbox/targets", want: consoleRoute{kind: "page", page: "targets"}, found: true},
		{name: "event", path: "/inbox/events/evt_1", want: consoleRoute{kind: "page", page: "event", depth: 1}, found: true},
		{name: "event with an escaped slash", path: "/inbox/events/a%2Fb", want: consoleRoute{kind: "page", page: "event", depth: 1}, found: true},
		{name: "event named targets", path: "/inbox/events/targets", want: consoleRoute{kind: "page", page: "event", depth: 1}, found: true},
		{name: "event named api", path: "/events/api", want: consoleRoute{kind: "page", page: "event", depth: 1}, found: true},
		{name: "asset", path: "/inbox/assets/app.js", want: consoleRoute{kind: "asset", rest: "app.js"}, found: true},
		{name: "unknown asset", path: "/inbox/assets/nope.js"},
		{name: "api config", path: "/x/y/api/config", want: consoleRoute{kind: "api", rest: "config"}, found: true},
		{name: "api event", path: "/inbox/api/events/a%2Fb", want: consoleRoute{kind: "api", rest: "events/a%2Fb"}, found: true},
		{name: "api event named stats", path: "/inbox/api/events/stats", want: consoleRoute{kind: "api", rest: "events/stats"}, found: true},
		{name: "api replay of one event", path: "/api/events/e/replay", want: consoleRoute{kind: "api", rest: "events/e/replay"}, found: true},
		{name: "api raw body", path: "/inbox/api/events/e/body", want: consoleRoute{kind: "api", rest: "events/e/body"}, found: true},
		{name: "api pause", path: "/inbox/api/targets/app/pause", want: consoleRoute{kind: "api", rest: "targets/app/pause"}, found: true},
		{name: "api bulk replay", path: "/inbox/api/replay", want: consoleRoute{kind: "api", rest: "replay"}, found: true},
		{name: "empty event id", path: "/inbox/events/", want: consoleRoute{kind: "page", page: "list"}, found: true},
		{name: "unknown page", path: "/inbox/nope"},
		{name: "unknown api", path: "/inbox/api/nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := routeConsole(tt.path, assets)
			if found != tt.found || got != tt.want {
				t.Errorf("routeConsole(%q) = %+v, %v; want %+v, %v", tt.path, got, found, tt.want, tt.found)
			}
		})
	}
}

// newTestConsole provisions a console outside Caddy.
func newTestConsole(t *testing.T, readOnly bool) *Console {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	c := &Console{ReadOnly: readOnly}
	if err := c.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Cleanup() })
	return c
}

// TestConsoleStateChange checks who may change state. No app runs in
// this test, so a request the console lets through is answered 503 by
// the admin API's handler.
func TestConsoleStateChange(t *testing.T) {
	tests := []struct {
		name     string
		readOnly bool
		method   string
		headers  map[string]string
		want     int
	}{
		{name: "same origin with the header", method: http.MethodPost, want: http.StatusServiceUnavailable,
			headers: map[string]string{"X-Inbox-Console": "1", "Origin": "http://inbox.test", "Sec-Fetch-Site": "same-origin"}},
		{name: "a client without Origin but with the header", method: http.MethodPost, want: http.StatusServiceUnavailable,
			headers: map[string]string{"X-Inbox-Console": "1"}},
		{name: "delete, same origin", method: http.MethodDelete, want: http.StatusServiceUnavailable,
			headers: map[string]string{"X-Inbox-Console": "1", "Sec-Fetch-Site": "same-origin"}},
		{name: "without the header (a form)", method: http.MethodPost, want: http.StatusForbidden,
			headers: map[string]string{"Origin": "http://inbox.test", "Sec-Fetch-Site": "same-origin"}},
		{name: "cross-site", method: http.MethodPost, want: http.StatusForbidden,
			headers: map[string]string{"X-Inbox-Console": "1", "Sec-Fetch-Site": "cross-site"}},
		{name: "same-site is not same-origin", method: http.MethodPost, want: http.StatusForbidden,
			headers: map[string]string{"X-Inbox-Console": "1", "Sec-Fetch-Site": "same-site"}},
		{name: "another origin", method: http.MethodPost, want: http.StatusForbidden,
			headers: map[string]string{"X-Inbox-Console": "1", "Origin": "http://evil.test"}},
		{name: "origin null", method: http.MethodPost, want: http.StatusForbidden,
			headers: map[string]string{"X-Inbox-Console": "1", "Origin": "null"}},
		{name: "read-only", readOnly: true, method: http.MethodPost, want: http.StatusForbidden,
			headers: map[string]string{"X-Inbox-Console": "1", "Sec-Fetch-Site": "same-origin"}},
		{name: "read-only still reads", readOnly: true, method: http.MethodGet, want: http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestConsole(t, tt.readOnly)
			path := map[string]string{
				http.MethodPost:   "/inbox/api/events/e1/replay",
				http.MethodDelete: "/inbox/api/events/e1",
				http.MethodGet:    "/inbox/api/events",
			}[tt.method]
			req := httptest.NewRequest(tt.method, "http://inbox.test"+path, nil)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			if err := c.ServeHTTP(rec, req, nil); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Errorf("answer is %q, not JSON", rec.Header().Get("Content-Type"))
			}
		})
	}
}

func TestConsolePages(t *testing.T) {
	c := newTestConsole(t, false)
	tests := []struct {
		name, path, contentType, contains string
	}{
		{name: "list", path: "/inbox/", contentType: "text/html", contains: `<base href="./">`},
		{name: "targets", path: "/inbox/targets", contentType: "text/html", contains: `<base href="./">`},
		{name: "event", path: "/inbox/events/a%2Fb?source=s", contentType: "text/html", contains: `<base href="../">`},
		{name: "script", path: "/inbox/assets/app.js", contentType: "text/javascript", contains: "import"},
		{name: "style", path: "/inbox/assets/console.css", contentType: "text/css", contains: "body"},
		{name: "config", path: "/inbox/api/config", contentType: "application/json", contains: `"read_only":false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil), nil); err != nil {
				t.Fatal(err)
			}
			if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), tt.contentType) ||
				!strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("GET %s: %d %q, want %s containing %q", tt.path, rec.Code, rec.Header().Get("Content-Type"), tt.contentType, tt.contains)
			}
			csp := rec.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
		})
	}
	t.Run("no inline script in the shell", func(t *testing.T) {
		rec := httptest.NewRecorder()
		_ = c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/inbox/", nil), nil)
		if n := strings.Count(rec.Body.String(), "<script"); n != 1 || !strings.Contains(rec.Body.String(), `<script type="module" src="assets/app.js">`) {
			t.Errorf("the shell has %d scripts:\n%s", n, rec.Body)
		}
	})
}

func TestConsoleSeries(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	counts := map[seriesKey]float64{}
	s := &deliverySampler{read: func() map[seriesKey]float64 {
		out := make(map[seriesKey]float64, len(counts))
		for k, v := range counts {
			out[k] = v
		}
		return out
	}}
	s.sample(t0)
	counts[seriesKey{"app", "success"}] = 3
	counts[seriesKey{"app", "dead"}] = 1
	s.sample(t0.Add(time.Minute))
	counts[seriesKey{"app", "success"}] = 5
	counts[seriesKey{"gone", "success"}] = 9
	got := s.series(t0.Add(150*time.Second), []string{"app", "idle"})

	app := got.Targets["app"]
	if len(app["success"]) != seriesBuckets {
		t.Fatalf("%d buckets, want %d", len(app["success"]), seriesBuckets)
	}
	if app["success"][seriesBuckets-1] != 2 || app["success"][seriesBuckets-2] != 3 || app["dead"][seriesBuckets-2] != 1 {
		t.Errorf("app: success %v dead %v", app["success"][seriesBuckets-3:], app["dead"][seriesBuckets-3:])
	}
	if _, ok := got.Targets["gone"]; ok {
		t.Error("a target not asked for is in the answer")
	}
	for _, v := range got.Targets["idle"]["success"] {
		if v != 0 {
			t.Fatal("an idle target has deliveries")
		}
	}
	for range seriesBuckets + 10 {
		s.sample(t0)
	}
	if len(s.samples) != seriesBuckets+1 {
		t.Errorf("kept %d samples, want %d", len(s.samples), seriesBuckets+1)
	}
}

func TestConsoleErrorAnswer(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		body   string
	}{
		{name: "ambiguous ID", err: storeError(&store.AmbiguousError{ID: "e", Sources: []string{"a", "b"}}), status: http.StatusConflict,
			body: `{"error":"event id \"e\" is held by several sources (a, b): name one; add ?source= to the request","sources":["a","b"]}`},
		{name: "not found", err: storeError(store.ErrNotFound), status: http.StatusNotFound, body: `{"error":"event not found"}`},
		{name: "any other error", err: errors.New("boom"), status: http.StatusInternalServerError, body: `{"error":"boom"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeConsoleError(rec, tt.err)
			if rec.Code != tt.status || strings.TrimSpace(rec.Body.String()) != tt.body {
				t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, tt.status, tt.body)
			}
		})
	}
}
