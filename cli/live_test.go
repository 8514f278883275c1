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

	tests := []struct {
		name string
		args []string
		want []string // substrings of stdout
	}{
		{"events table", []string{"webhook", "events", admin, "--status", "dead"}, []string{id, "cost.exceeded", "dead"}},
		{"one event with its attempt", []string{"webhook", "event", id, admin}, []string{id, "410", "endpoint retired"}},
		{"stats", []string{"webhook", "stats", admin}, []string{"app", "2"}},
		{"bulk replay dry run", []string{"webhook", "replay", "--dead", "--target", "app", "--filter", `event.event == "cost.exceeded"`, "--dry-run", admin}, []string{"2"}},
		{"replay one event", []string{"webhook", "replay", id, admin}, []string{"app"}},
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
		})
	}

	t.Run("unknown event is an error", func(t *testing.T) {
		_, errOut, code := cliRunBinary(t, nil, nil, "webhook", "event", "no-such-event", admin)
		if code == 0 || !strings.Contains(errOut, "404") {
			t.Fatalf("exit %d, stderr %s", code, errOut)
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
