package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/badger"
)

// TestCLIAgainstRunningInstance drives the admin-backed subcommands
// (events, event, stats, replay, tail) against a real caddy whose only
// target answers 410, so every event becomes a dead letter.
func TestCLIAgainstRunningInstance(t *testing.T) {
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusGone)
		_, _ = w.Write([]byte("endpoint retired"))
	}))
	defer gone.Close()
	cfg := strings.Replace(cliConfig, "http://127.0.0.1:9/hook", gone.URL+"/hook", 1)
	in := testcaddy.Start(t, cfg, "TEST_CLI_SECRET=cli-live-secret")
	admin := "--address=" + in.Admin

	if out, errOut, code := cliRunBinary(t, nil, nil, "webhook", "send", "--url", in.URL("/hook"),
		"--secret", "cli-live-secret", "--event", "cost.exceeded", "--count", "2"); code != 0 {
		t.Fatalf("send: exit %d\n%s\n%s", code, out, errOut)
	}

	// events --status dead --json: poll until both are dead-lettered
	var list struct {
		Events []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"events"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, errOut, code := cliRunBinary(t, nil, nil, "webhook", "events", admin, "--status", "dead", "--json")
		if code != 0 {
			t.Fatalf("events: exit %d\n%s", code, errOut)
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("events --json: %v\n%s", err, out)
		}
		if len(list.Events) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead letters never listed: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	id := list.Events[0].ID

	// The totals count an attempt just after its outcome is stored.
	for deadline := time.Now().Add(10 * time.Second); ; {
		out, _, _ := cliRunBinary(t, nil, nil, "webhook", "stats", admin)
		if strings.Contains(out, ", dead 2\n") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	tests := []struct {
		name    string
		args    []string
		want    []string // substrings of stdout
		wantNot []string
	}{
		{name: "events table", args: []string{"webhook", "events", admin, "--status", "dead"}, want: []string{id, "cost.exceeded", "dead", "app:dead"}},
		{name: "events since an hour ago", args: []string{"webhook", "events", admin, "--since", "1h", "--json"}, want: []string{id}},
		{name: "events until 2000", args: []string{"webhook", "events", admin, "--until", "2000-01-01T00:00:00Z"}, want: []string{"(no events)"}},
		{
			name: "one event with its attempt",
			args: []string{"webhook", "event", id, admin},
			want: []string{id, "targets:\n  app  dead  attempts=1", "  410  ", "\n      | endpoint retired\n", "body (JSON, "},
		},
		{
			name:    "stats with totals and the store as text",
			args:    []string{"webhook", "stats", admin},
			want:    []string{"app ", "since start (", "this process): received 2, delivered 0, retried 0, dead 2\n", "store: badger, " + in.Data + ", ", " used, ", " free\n"},
			wantNot: []string{"{", "size_bytes"},
		},
		{name: "stats as JSON", args: []string{"webhook", "stats", admin, "--json"}, want: []string{`"totals": {`, `"size_bytes": `}},
		{name: "bulk replay dry run", args: []string{"webhook", "replay", "--dead", "--target", "app", "--filter", `event.event == "cost.exceeded"`, "--dry-run", admin}, want: []string{"would replay 2 dead letters (dry run)"}},
		{name: "replay one event", args: []string{"webhook", "replay", id, admin}, want: []string{"replayed " + id + " (source unicraft) to app\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := cliRunBinary(t, nil, nil, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if n := strings.Count(out, "targets:"); n > 1 {
				t.Errorf("targets: printed %d times:\n%s", n, out)
			}
		})
	}

	t.Run("unknown event is an error with the admin's message", func(t *testing.T) {
		_, errOut, code := cliRunBinary(t, nil, nil, "webhook", "event", "no-such-event", admin)
		if code == 0 || !strings.Contains(errOut, "HTTP 404: ") || strings.Contains(errOut, `{"error"`) {
			t.Fatalf("exit %d, stderr %s", code, errOut)
		}
	})

	t.Run("help points at the README", func(t *testing.T) {
		for _, sub := range []string{"stats", "tail"} {
			out, errOut, code := cliRunBinary(t, nil, nil, "webhook", sub, "--help")
			want := cliDocsURL + "#caddy-webhook-" + sub + "\n"
			if code != 0 || !strings.HasSuffix(out, want) || strings.Contains(out, "caddyserver.com/docs/command-line") {
				t.Errorf("webhook %s --help: exit %d, ends %q, want %q\n%s", sub, code, out[max(0, len(out)-200):], want, errOut)
			}
		}
	})

	t.Run("tail prints stored events", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, testcaddy.Binary(t), "webhook", "tail", admin, "--interval", "200ms")
		out, _ := cmd.Output() // ends when the context kills it
		if !strings.Contains(string(out), id) {
			t.Fatalf("tail output lacks %s:\n%s", id, out)
		}
	})
}

// TestCLITailFollowsStatus runs the real binary's tail against a real
// gateway whose target holds its answer until the test lets it go: the
// event is printed pending, then again when it is delivered (issue 16,
// item 5).
func TestCLITailFollowsStatus(t *testing.T) {
	release := make(chan struct{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer app.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	cfg := strings.Replace(cliConfig, "http://127.0.0.1:9/hook", app.URL+"/hook", 1)
	in := testcaddy.Start(t, cfg, "TEST_CLI_SECRET=cli-live-secret")

	ctx, cancel := context.WithCancel(context.Background())
	var out cliLockedBuffer
	cmd := exec.CommandContext(ctx, testcaddy.Binary(t), "webhook", "tail", "--address="+in.Admin, "--interval", "50ms")
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	if o, errOut, code := cliRunBinary(t, nil, nil, "webhook", "send", "--url", in.URL("/hook"),
		"--secret", "cli-live-secret", "--event", "request.completed", "--count", "1"); code != 0 {
		t.Fatalf("send: exit %d\n%s\n%s", code, o, errOut)
	}
	waitFor := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), what); {
			if time.Now().After(deadline) {
				t.Fatalf("tail never printed %q:\n%s", what, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("  request.completed  pending  app:pending\n")
	close(release)
	waitFor("  request.completed  delivered  app:delivered\n")
}

// TestCLIDotIDs addresses events whose IDs are path dot segments, or look
// escaped, through the real binary and a real admin endpoint: each
// command reaches that event, never the route a cleaned path would name
// ("replay .." must not become a bulk replay). The events are written to
// the store before caddy starts, so the test holds whatever IDs ingress
// accepts.
func TestCLIDotIDs(t *testing.T) {
	ids := []string{".", "..", "...", "a/../b", "./x", "%2E%2E", "%2F"}
	in := testcaddy.New(t, cliConfig, "TEST_CLI_SECRET=cli-live-secret")
	st, err := badger.Open(in.Data, badger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		ev := &store.Event{ID: id, Source: "unicraft", Type: "request.completed", ReceivedAt: time.Now(),
			Body: []byte(`{"event":"request.completed"}`), Targets: []string{"app"}}
		if _, err := st.Accept(context.Background(), ev); err != nil {
			t.Fatalf("seeding %q: %v", id, err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	in.Start()
	admin := "--address=" + in.Admin
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			tests := []struct {
				name string
				args []string
				want string // the "status" of the answer; "" for an event
			}{
				{"event", []string{"webhook", "event", id, "--json", admin}, ""},
				{"replay", []string{"webhook", "replay", id, "--json", admin}, "requeued"},
				{"replay to a target", []string{"webhook", "replay", id, "--target", "app", "--json", admin}, "requeued"},
			}
			for _, tt := range tests {
				out, errOut, code := cliRunBinary(t, nil, nil, tt.args...)
				if code != 0 {
					t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", tt.name, code, out, errOut)
				}
				var got struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				}
				if err := json.Unmarshal([]byte(out), &got); err != nil || got.ID != id || tt.want != "" && got.Status != tt.want {
					t.Errorf("%s: answer %s (%v), want event %q", tt.name, out, err, id)
				}
			}
		})
	}
}
