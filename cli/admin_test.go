package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	// The tests read admin addresses from Caddyfiles, as the caddy binary
	// does with the adapters it is built with.
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

// cliTestServer runs handler on 127.0.0.1 for the test.
func cliTestServer(t *testing.T, handler http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

// cliAdminCall is a request the admin stand-in received.
type cliAdminCall struct {
	method string
	path   string // escaped, as sent
	query  string
	body   string
}

// cliAdminStandIn answers every request with status and body and records
// what it was asked.
type cliAdminStandIn struct {
	mu    sync.Mutex
	calls []cliAdminCall
	addr  string
}

func newCLIAdminStandIn(t *testing.T, status int, body string) *cliAdminStandIn {
	s := &cliAdminStandIn{}
	srv := cliTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.calls = append(s.calls, cliAdminCall{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(b)})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
	s.addr = strings.TrimPrefix(srv.URL, "http://")
	return s
}

const cliEventsAnswer = `{
	"events": [
		{"id":"evt_2","source":"unicraft","type":"cost.exceeded","status":"dead","received_at":"2024-01-20T10:31:00.123456789Z",
		 "targets":["app","pager"],
		 "deliveries":[{"target":"app","status":"delivered"},{"target":"pager","status":"dead"}]},
		{"id":"evt_1","source":"unicraft","type":"request.completed\u001b[31m","status":"pending","received_at":"2024-01-20T10:30:00Z",
		 "targets":["app"],"seq":18446744073709551615}
	],
	"next_cursor": "c2"
}`

const cliEventAnswer = `{
	"id":"evt/1 x","source":"unicraft","type":"request.failed","status":"dead",
	"received_at":"2024-01-20T10:30:00Z","client_ip":"127.0.0.1","seq":18446744073709551615,
	"headers":{"X-Unicraft-Event-Id":"evt/1 x"},
	"targets":["app"],
	"deliveries":[{"target":"app","status":"dead","reason":"max attempts","run_attempts":2,
		"attempts":[
			{"at":"2024-01-20T10:30:01Z","duration":12000000,"status":500,"error":"server error"},
			{"at":"2024-01-20T10:30:03Z","duration":3000000,"error":"connection refused"}]}],
	"body":"{\"event\":\"request.failed\",\"data\":{\"retry_count\":3}}"
}`

// cliHostileEvents is an events answer as encoding/json writes it: C0
// controls are escaped, but DEL, C1 controls and bidi overrides are raw
// UTF-8.
const cliHostileEvents = "{\"events\":[{\"id\":\"evt\u202e1\",\"source\":\"unicraft\"," +
	"\"type\":\"a\u009bb\u2066c\x7fd\u200fe\u0085f\",\"status\":\"dead\"}],\"next_cursor\":\"\"}"

// cliTerminalUnsafe reports the first character of s that a terminal
// would act on (a control other than a line break, a bidi control).
func cliTerminalUnsafe(s string) (rune, bool) {
	for _, r := range s {
		switch {
		case r == '\n':
		case r < 0x20, r >= 0x7f && r <= 0x9f, r == 0x061c, r == 0x200e, r == 0x200f,
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return r, true
		}
	}
	return 0, false
}

func TestCommandAdminRequests(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		status     int
		answer     string
		wantCall   *cliAdminCall // nil: no request may be made
		wantBody   map[string]any
		wantOut    []string
		wantNotOut []string
		wantErr    string
	}{
		{
			name:     "events table",
			args:     []string{"events", "--status", "dead", "--target", "app", "--source", "unicraft", "--type", "cost.exceeded", "--limit", "2", "--cursor", "c1"},
			status:   200,
			answer:   cliEventsAnswer,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events", query: "cursor=c1&limit=2&source=unicraft&status=dead&target=app&type=cost.exceeded"},
			wantOut: []string{
				"ID     SOURCE    TYPE",
				"evt_2  unicraft  cost.exceeded",
				"app:delivered,pager:dead  2024-01-20T10:31:00Z",
				"request.completed?[31m  pending  app",
				"next cursor: c2",
			},
			wantNotOut: []string{"\x1b"},
		},
		{
			name:     "events without filters",
			args:     []string{"events"},
			status:   200,
			answer:   `{"events":[]}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events"},
			wantOut:  []string{"(no events)"},
		},
		{
			name:     "events as JSON",
			args:     []string{"events", "--json"},
			status:   200,
			answer:   `{"events":[{"id":"evt_1"}],"next_cursor":""}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events"},
			wantOut:  []string{"{\n  \"events\": [\n    {\n      \"id\": \"evt_1\"\n    }\n  ],\n  \"next_cursor\": \"\"\n}\n"},
		},
		{
			name:    "events with a bad status asks nothing",
			args:    []string{"events", "--status", "lost"},
			wantErr: `--status "lost"`,
		},
		{
			name:     "delete one source's event",
			args:     []string{"delete", "a/b", "--source", "stripe"},
			status:   204,
			wantCall: &cliAdminCall{method: "DELETE", path: "/webhook_inbox/events/a%2Fb", query: "source=stripe"},
			wantOut:  []string{"deleted a/b"},
		},
		{
			name:     "delete of an ID two sources hold",
			args:     []string{"delete", "dup"},
			status:   409,
			answer:   `{"error":"event id \"dup\" is held by several sources (one, two): name one; add ?source= to the request"}`,
			wantCall: &cliAdminCall{method: "DELETE", path: "/webhook_inbox/events/dup"},
			wantErr:  "several sources (one, two)",
		},
		{
			name:     "event of one source",
			args:     []string{"event", "evt_1", "--source", "stripe", "--json"},
			status:   200,
			answer:   `{"id":"evt_1","source":"stripe"}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events/evt_1", query: "source=stripe"},
			wantOut:  []string{`"source": "stripe"`},
		},
		{
			name:     "event shows fields, deliveries and body",
			args:     []string{"event", "evt/1 x"},
			status:   200,
			answer:   cliEventAnswer,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events/evt%2F1%20x"},
			wantOut: []string{
				"id:           evt/1 x",
				"seq:          18446744073709551615",
				"targets:      app",
				"X-Unicraft-Event-Id: evt/1 x",
				"  app  dead  reason=max attempts  run_attempts=2",
				"    2024-01-20T10:30:01Z  500  duration=12ms  error=server error",
				"    2024-01-20T10:30:03Z  duration=3ms  error=connection refused",
				"body:\n  {\n    \"event\": \"request.failed\",",
			},
		},
		{
			name:     "event .. addresses the event",
			args:     []string{"event", ".."},
			status:   200,
			answer:   `{"id":".."}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events/%2E%2E"},
			wantOut:  []string{"id:  .."},
		},
		{
			name:     "events table with C1 and bidi controls",
			args:     []string{"events"},
			status:   200,
			answer:   cliHostileEvents,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events"},
			wantOut:  []string{"evt?1", "a?b?c?d?e?f"},
		},
		{
			name:     "events as JSON escapes C1 and bidi controls",
			args:     []string{"events", "--json"},
			status:   200,
			answer:   cliHostileEvents,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events"},
			wantOut:  []string{`"id": "evt\u202e1"`, `"type": "a\u009bb\u2066c\u007fd\u200fe\u0085f"`},
		},
		{
			name:     "event with hostile attempt errors",
			args:     []string{"event", "evt_1"},
			status:   200,
			answer:   "{\"id\":\"evt_1\",\"targets\":[{\"target\":\"app\",\"status\":\"dead\",\"attempts\":[{\"status\":0,\"error\":\"dial \u202egnp.exe\u009b2J\"}]}]}",
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events/evt_1"},
			wantOut:  []string{"error=dial ?gnp.exe?2J"},
		},
		{
			name:     "error answer with bidi controls",
			args:     []string{"event", "evt\u202e1"},
			status:   404,
			answer:   "{\"error\":\"getting event evt\u202e1: event not found\"}",
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events/evt%E2%80%AE1"},
			wantErr:  "getting event evt?1: event not found",
		},
		{
			name:     "event not found",
			args:     []string{"event", "evt_404"},
			status:   404,
			answer:   `{"error":"event evt_404 not found"}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events/evt_404"},
			wantErr:  `HTTP 404: {"error":"event evt_404 not found"}`,
		},
		{
			name:     "replay one event",
			args:     []string{"replay", "evt_1", "--target", "app"},
			status:   200,
			answer:   `{"status":"replayed","id":"evt_1","targets":["app"]}`,
			wantCall: &cliAdminCall{method: "POST", path: "/webhook_inbox/events/evt_1/replay", query: "target=app"},
			wantOut:  []string{"replayed evt_1 to app\n"},
		},
		{
			name:     "replay dead letters",
			args:     []string{"replay", "--dead", "--target", "app", "--filter", `event.event == "cost.exceeded"`, "--dry-run", "--rate", "5"},
			status:   200,
			answer:   `{"count":3,"dry_run":true}`,
			wantCall: &cliAdminCall{method: "POST", path: "/webhook_inbox/replay"},
			wantBody: map[string]any{"status": "dead", "target": "app", "filter": `event.event == "cost.exceeded"`, "dry_run": true, "rate": 5.0},
			wantOut:  []string{"would replay 3 dead letters (dry run)\n"},
		},
		{
			name:     "replay every dead letter",
			args:     []string{"replay", "--dead"},
			status:   200,
			answer:   `{"replayed":12}`,
			wantCall: &cliAdminCall{method: "POST", path: "/webhook_inbox/replay"},
			wantBody: map[string]any{"status": "dead", "dry_run": false},
			wantOut:  []string{"replayed 12 dead letters\n"},
		},
		{
			name:     "replay refused",
			args:     []string{"replay", "--dead", "--filter", "event.("},
			status:   400,
			answer:   `{"error":"compiling filter: syntax error at 1:7"}`,
			wantCall: &cliAdminCall{method: "POST", path: "/webhook_inbox/replay"},
			wantBody: map[string]any{"status": "dead", "filter": "event.(", "dry_run": false},
			wantErr:  `HTTP 400: {"error":"compiling filter: syntax error at 1:7"}`,
		},
		{
			name:   "stats keyed by target",
			args:   []string{"stats"},
			status: 200,
			answer: `{"targets":{
				"pager":{"pending":0,"dead":4,"circuit":{"open":true,"next_probe":"2024-01-20T10:35:00.5Z"}},
				"app":{"pending":3,"dead":1,"oldest_pending_seconds":125,"circuit":{"open":false}}},
				"unrouted":2}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/stats"},
			wantOut: []string{
				"TARGET  PENDING  DEAD  OLDEST PENDING  CIRCUIT",
				"app     3        1     2m5s            closed",
				"pager   0        4     -               open (next probe 2024-01-20T10:35:00Z)",
				"unrouted: 2",
			},
		},
		{
			name:   "stats mark orphaned targets",
			args:   []string{"stats"},
			status: 200,
			answer: `{"targets":{
				"app":{"pending":0,"dead":0,"circuit":"closed","configured":true},
				"gone":{"pending":2,"dead":0,"circuit":"closed","configured":false,"orphaned":true},
				"old":{"pending":0,"dead":3,"circuit":"closed","configured":false}}}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/stats"},
			wantOut: []string{
				"app              0        0     -               closed\n",
				"gone (orphaned)  2        0     -               closed\n",
				"old (removed)    0        3     -               closed\n",
				"orphaned: not in the running config",
			},
		},
		{
			name:     "stats as a list",
			args:     []string{"stats"},
			status:   200,
			answer:   `[{"target":"app","queue_depth":7,"dead_letters":0,"circuit_state":"half-open"}]`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/stats"},
			wantOut:  []string{"app     7        0     -               half-open"},
		},
		{
			name:     "stats error",
			args:     []string{"stats"},
			status:   503,
			answer:   `{"error":"webhook inbox is not running"}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/stats"},
			wantErr:  `HTTP 503: {"error":"webhook inbox is not running"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin := newCLIAdminStandIn(t, tt.status, tt.answer)
			args := append(tt.args, "--address", admin.addr)
			out, _, err := cliExec(t.Context(), nil, args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if err != nil {
				if r, bad := cliTerminalUnsafe(err.Error()); bad {
					t.Errorf("error carries %U raw: %q", r, err)
				}
			}
			if r, bad := cliTerminalUnsafe(out); bad {
				t.Errorf("output carries %U raw: %q", r, out)
			}
			admin.mu.Lock()
			calls := admin.calls
			admin.mu.Unlock()
			if tt.wantCall == nil {
				if len(calls) != 0 {
					t.Fatalf("made requests %+v", calls)
				}
				return
			}
			if len(calls) != 1 {
				t.Fatalf("made %d requests, want 1: %+v", len(calls), calls)
			}
			got := calls[0]
			if got.method != tt.wantCall.method || got.path != tt.wantCall.path || got.query != tt.wantCall.query {
				t.Errorf("request %s %s?%s, want %s %s?%s", got.method, got.path, got.query,
					tt.wantCall.method, tt.wantCall.path, tt.wantCall.query)
			}
			if tt.wantBody == nil {
				if got.body != "" {
					t.Errorf("request body %q, want none", got.body)
				}
			} else {
				var body map[string]any
				if err := json.Unmarshal([]byte(got.body), &body); err != nil {
					t.Fatalf("request body %q: %v", got.body, err)
				}
				gb, _ := json.Marshal(body)
				wb, _ := json.Marshal(tt.wantBody)
				if string(gb) != string(wb) {
					t.Errorf("request body %s, want %s", gb, wb)
				}
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			for _, not := range tt.wantNotOut {
				if strings.Contains(out, not) {
					t.Errorf("output has %q:\n%q", not, out)
				}
			}
		})
	}
}

// TestCommandAdminFromConfig finds the admin endpoint through --config, as
// `caddy reload` does.
func TestCommandAdminFromConfig(t *testing.T) {
	admin := newCLIAdminStandIn(t, 200, `{"events":[{"id":"evt_9"}]}`)
	caddyfile := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte("{\n\tadmin "+admin.addr+"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := cliExec(t.Context(), nil, "events", "--config", caddyfile, "--adapter", "caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "evt_9") {
		t.Errorf("output lacks the event:\n%s", out)
	}
}

func TestCommandAdminUnreachable(t *testing.T) {
	srv := cliTestServer(t, func(http.ResponseWriter, *http.Request) {})
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	_, _, err := cliExec(t.Context(), nil, "stats", "--address", addr)
	if err == nil || !strings.Contains(err.Error(), "GET /webhook_inbox/stats") {
		t.Fatalf("error = %v", err)
	}
}
