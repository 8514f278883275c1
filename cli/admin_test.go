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

// The answers below are in the shapes of adminapi, as the admin API
// writes them.
const cliEventsAnswer = `{
	"events": [
		{"id":"evt_2","source":"unicraft","type":"cost.exceeded","status":"dead","received_at":"2024-01-20T10:31:00.123456789Z",
		 "targets":[{"target":"app","status":"delivered","attempts":1},{"target":"pager","status":"dead","attempts":3,"reason":"max attempts"}]},
		{"id":"evt_1","source":"unicraft","type":"request.completed\u001b[31m","status":"pending","received_at":"2024-01-20T10:30:00Z",
		 "targets":[{"target":"app","status":"pending","attempts":0,"due":"2024-01-20T10:30:00Z"}]},
		{"id":"evt_0","source":"unicraft","type":"provider.unavailable","status":"unrouted","received_at":"2024-01-20T10:29:00Z","targets":[]}
	],
	"next_cursor": "c2"
}`

const cliEventAnswer = `{
	"id":"evt/1 x","source":"unicraft","type":"request.failed","status":"dead",
	"received_at":"2024-01-20T10:30:00Z","client_ip":"127.0.0.1",
	"headers":{"X-Unicraft-Event-Id":"evt/1 x"},
	"body":{"event":"request.failed","data":{"retry_count":3}},"body_encoding":"json","body_size":52,
	"targets":[{"target":"app","status":"dead","reason":"max attempts","run_attempts":2,"attempt_count":3,
		"attempts":[
			{"at":"2024-01-20T10:29:01Z","duration_ms":1.5,"status":503},
			{"at":"2024-01-20T10:30:01Z","duration_ms":12,"status":500,"error":"HTTP 500","body":"line one\r\n\tline two\u001b[2J\n"},
			{"at":"2024-01-20T10:30:03Z","duration_ms":3.25,"status":0,"error":"dial tcp 127.0.0.1:9: connection refused"}]}]
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

// cliAdminCase runs one command against an admin stand-in answering
// status and answer, and checks the one request it made and what it printed.
type cliAdminCase struct {
	name       string
	args       []string
	status     int
	answer     string
	wantCall   *cliAdminCall // nil: no request may be made
	wantBody   map[string]any
	wantOut    []string
	wantNotOut []string
	wantErr    string
}

func TestCommandAdminRequests(t *testing.T) {
	tests := []cliAdminCase{
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
				"request.completed?[31m  pending   app:pending",
				"provider.unavailable    unrouted  -",
				"next cursor: c2",
			},
			wantNotOut: []string{"\x1b"},
		},
		{
			name:     "events received in a window",
			args:     []string{"events", "--since", "2024-01-20T10:00:00Z", "--until", "90m"},
			status:   200,
			answer:   `{"events":[]}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events", query: "since=2024-01-20T10%3A00%3A00Z&until=90m"},
			wantOut:  []string{"(no events)"},
		},
		{
			name:     "events since Unix seconds",
			args:     []string{"events", "--since", "1705746600", "--status", "dead"},
			status:   200,
			answer:   `{"events":[]}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events", query: "since=1705746600&status=dead"},
		},
		{
			name:     "events with a bad since: the admin's message",
			args:     []string{"events", "--since", "yesterday"},
			status:   400,
			answer:   `{"error":"since \"yesterday\": want an RFC 3339 time, Unix seconds or a duration ago such as 1h"}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events", query: "since=yesterday"},
			wantErr:  `HTTP 400: since "yesterday": want an RFC 3339 time`,
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
				"id:           evt/1 x\n",
				"client_ip:    127.0.0.1\n",
				"headers:\n  X-Unicraft-Event-Id: evt/1 x\n",
				"targets:\n  app  dead  attempts=3  run_attempts=2  reason=max attempts\n",
				"    2024-01-20T10:29:01Z  503  1.5ms\n",
				// An answer excerpt is shown line by line, each line made safe.
				"    2024-01-20T10:30:01Z  500  12ms  error: HTTP 500\n      | line one\n      |   line two?[2J\n",
				// Status 0 is no answer at all.
				"    2024-01-20T10:30:03Z  no response: dial tcp 127.0.0.1:9: connection refused  3.3ms\n",
				"body (JSON, 52 bytes):\n  {\n    \"event\": \"request.failed\",",
			},
			// The targets once, as the detail block; no status 0.
			wantNotOut: []string{"targets:      ", "  0  ", "?\n"},
		},
		{
			name:     "event with a text body and no targets",
			args:     []string{"event", "evt_t"},
			status:   200,
			answer:   `{"id":"evt_t","status":"unrouted","body":"aGVsbG8KG1szMW13b3JsZA==","body_encoding":"base64","body_size":15,"targets":[]}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events/evt_t"},
			wantOut:  []string{"targets: none (unrouted)\n", "body (text, 15 bytes):\n  hello\n  ?[31mworld\n"},
		},
		{
			name:     "event with a binary body",
			args:     []string{"event", "evt_b"},
			status:   200,
			answer:   `{"id":"evt_b","body":"AAEC","body_encoding":"base64","body_size":3,"targets":[]}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events/evt_b"},
			wantOut:  []string{"body: 3 bytes of binary data (--json shows it in base64)\n"},
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
			answer:   "{\"id\":\"evt_1\",\"targets\":[{\"target\":\"app\u202e\",\"status\":\"dead\",\"attempts\":[{\"status\":0,\"error\":\"dial \u202egnp.exe\u009b2J\",\"body\":\"x\u202ey\"}]}],\"headers\":{\"X-A\u009b\":\"v\u2066\"}}",
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/events/evt_1"},
			wantOut:  []string{"no response: dial ?gnp.exe?2J", "  app?  dead", "      | x?y", "  X-A?: v?"},
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
			wantErr:  `GET /webhook_inbox/events/evt_404: HTTP 404: event evt_404 not found`,
		},
		{
			name:     "error message decoded from Caddy's escapes",
			args:     []string{"stats"},
			status:   500,
			answer:   `{"error":"reading stats: unexpected \u003cEOF\u003e \u0026 more"}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/stats"},
			wantErr:  `HTTP 500: reading stats: unexpected <EOF> & more`,
		},
		{
			name:     "replay one event",
			args:     []string{"replay", "evt_1", "--target", "app"},
			status:   200,
			answer:   `{"status":"requeued","id":"evt_1","source":"unicraft","targets":["app"]}`,
			wantCall: &cliAdminCall{method: "POST", path: "/webhook_inbox/events/evt_1/replay", query: "target=app"},
			wantOut:  []string{"replayed evt_1 (source unicraft) to app\n"},
		},
		{
			name:     "replay one event to every target",
			args:     []string{"replay", "evt\u202e1", "--json"},
			status:   202,
			answer:   "{\"status\":\"requeued\",\"id\":\"evt\u202e1\",\"source\":\"unicraft\",\"targets\":[\"app\",\"pager\"]}",
			wantCall: &cliAdminCall{method: "POST", path: "/webhook_inbox/events/evt%E2%80%AE1/replay"},
			wantOut:  []string{"{\n  \"status\": \"requeued\",\n  \"id\": \"evt\\u202e1\",", `"pager"`},
		},
		{
			name:     "replay dead letters",
			args:     []string{"replay", "--dead", "--target", "app", "--filter", `event.event == "cost.exceeded"`, "--dry-run", "--rate", "5"},
			status:   200,
			answer:   `{"dry_run":true,"matched":3}`,
			wantCall: &cliAdminCall{method: "POST", path: "/webhook_inbox/replay"},
			wantBody: map[string]any{"status": "dead", "target": "app", "filter": `event.event == "cost.exceeded"`, "dry_run": true, "rate": 5.0},
			wantOut:  []string{"would replay 3 dead letters (dry run)\n"},
		},
		{
			name:     "replay every dead letter",
			args:     []string{"replay", "--dead"},
			status:   200,
			answer:   `{"dry_run":false,"requeued":12,"rate":100,"spread_seconds":0.12,"filter_errors":1,"filter_error":"no such key: data\u202e"}`,
			wantCall: &cliAdminCall{method: "POST", path: "/webhook_inbox/replay"},
			wantBody: map[string]any{"status": "dead", "dry_run": false},
			wantOut:  []string{"replayed 12 dead letters, spread over 120ms at 100 per second\n", "the filter failed on 1 dead letter (not replayed): no such key: data?\n"},
		},
		{
			name:     "replay of one dead letter, paced",
			args:     []string{"replay", "--dead", "--rate", "0.5"},
			status:   200,
			answer:   `{"dry_run":false,"requeued":1,"rate":0.5,"spread_seconds":2}`,
			wantCall: &cliAdminCall{method: "POST", path: "/webhook_inbox/replay"},
			wantBody: map[string]any{"status": "dead", "dry_run": false, "rate": 0.5},
			wantOut:  []string{"replayed 1 dead letter, spread over 2s at 0.5 per second\n"},
		},
		{
			name:     "bulk replay as JSON",
			args:     []string{"replay", "--dead", "--dry-run", "--json"},
			status:   200,
			answer:   `{"dry_run":true,"matched":0}`,
			wantCall: &cliAdminCall{method: "POST", path: "/webhook_inbox/replay"},
			wantBody: map[string]any{"status": "dead", "dry_run": true},
			wantOut:  []string{"{\n  \"dry_run\": true,\n  \"matched\": 0\n}\n"},
		},
		{
			name:     "replay refused",
			args:     []string{"replay", "--dead", "--filter", "event.("},
			status:   400,
			answer:   `{"error":"compiling filter: syntax error at 1:7"}`,
			wantCall: &cliAdminCall{method: "POST", path: "/webhook_inbox/replay"},
			wantBody: map[string]any{"status": "dead", "filter": "event.(", "dry_run": false},
			wantErr:  `HTTP 400: compiling filter: syntax error at 1:7`,
		},
	}
	cliRunAdminCases(t, tests)
}

// cliRunAdminCases runs each case as a subtest.
func cliRunAdminCases(t *testing.T, tests []cliAdminCase) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t) })
	}
}

func (tt cliAdminCase) run(t *testing.T) {
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
