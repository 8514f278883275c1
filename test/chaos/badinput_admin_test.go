package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/webhookinbox/caddy-webhook-inbox/ingress"
	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/badger"
)

// badAdminConfig routes everything to app, where nothing listens: its
// deliveries stay pending, retried, so removing app from the config
// orphans them.
const badAdminConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space off
		target app {
			url http://127.0.0.1:9/hook
			retry {
				backoff 1m 1h
			}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	route /hook {
		webhook_inbox chaos {
			secret {env.CHAOS_SOURCE_SECRET}
			default app
		}
	}
}
`

// cliRun runs the real binary's `caddy webhook` with args against in and
// returns stdout, stderr and the exit code.
func cliRun(t *testing.T, in *testcaddy.Instance, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testcaddy.Binary(t), append(append([]string{"webhook"}, args...), "--address", in.Admin)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	code := 0
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("running webhook %v: %v", args, err)
		}
		code = exit.ExitCode()
	}
	return out.String(), errOut.String(), code
}

// terminalControl returns the first character of s a terminal would act
// on: a C0 control other than a line break, DEL, a C1 control, or a bidi
// control.
func terminalControl(s string) (rune, bool) {
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

// TestBadInputAdmin is the admin API and CLI half of the bad-input suite:
// what senders chose (huge or hostile types, IDs that are path dot
// segments), what an operator may type (times past 2262) and what a
// config change leaves (orphaned queues) must give bounded, safe and
// correct answers from the real binary.
func TestBadInputAdmin(t *testing.T) {
	in := testcaddy.New(t, badAdminConfig, "CHAOS_SOURCE_SECRET="+sourceSecret)
	// Written before caddy starts, as an older version or a looser
	// ingress would have stored them.
	seeded := []*store.Event{
		{ID: ".", Targets: []string{"app"}},
		{ID: "..", Targets: []string{"app"}},
		{ID: "old-huge-type", Type: strings.Repeat("t", 3<<20)},
	}
	for i := range 3 {
		seeded = append(seeded, &store.Event{ID: fmt.Sprintf("old-long-type-%d", i), Type: strings.Repeat("t", 600<<10)})
	}
	st, err := badger.Open(in.Data, badger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range seeded {
		ev.Source, ev.ReceivedAt, ev.Body = "chaos", time.Now().Add(time.Duration(i-100)*time.Second), []byte(`{}`)
		if _, err := st.Accept(context.Background(), ev); err != nil {
			t.Fatalf("seeding %q: %v", ev.ID, err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	in.Start()
	hook := in.URL("/hook")

	const hostileType = "order.\u202egnp.exe\u2066\u009b2J\u007f"
	for _, p := range []struct{ id, typ string }{
		{"mega-type-1", strings.Repeat("é", 499_000)},
		{"mega-type-2", strings.Repeat("é", 499_000)},
		{"hostile-type", hostileType},
	} {
		body, err := json.Marshal(map[string]string{"id": p.id, "event": p.typ})
		if err != nil {
			t.Fatal(err)
		}
		if got := post(t, hook, body, signedBy(sourceSecret, body)); got.status != http.StatusAccepted {
			t.Fatalf("posting %s: %d %s", p.id, got.status, got.body)
		}
	}

	t.Run("a 1 MB event type is stored cut on a UTF-8 boundary", func(t *testing.T) {
		var one struct {
			Type     string `json:"type"`
			BodySize int    `json:"body_size"`
		}
		adminJSON(t, in, "/webhook_inbox/events/mega-type-1", &one)
		if len(one.Type) > ingress.MaxEventTypeLength || !utf8.ValidString(one.Type) || one.BodySize < 998_000 {
			t.Fatalf("type of %d bytes (valid UTF-8 %v), body of %d", len(one.Type), utf8.ValidString(one.Type), one.BodySize)
		}
	})

	t.Run("every page stays under 1 MiB or holds one event, and cursors see all", func(t *testing.T) {
		seen := map[string]int{}
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("the list did not end after 20 pages")
			}
			var page eventList
			raw := adminJSON(t, in, "/webhook_inbox/events?limit=1000&cursor="+url.QueryEscape(cursor), &page)
			if len(page.Events) == 0 || len(page.Events) > 1 && len(raw) > 1<<20 {
				t.Fatalf("page %d: %d events in %d bytes", pages, len(page.Events), len(raw))
			}
			for _, ev := range page.Events {
				seen[ev.ID]++
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if len(seen) != len(seeded)+3 {
			t.Errorf("listed %d distinct events, want %d: %v", len(seen), len(seeded)+3, seen)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%q listed %d times", id, n)
			}
		}
		if out, errOut, code := cliRun(t, in, "events", "--limit", "1000"); code != 0 || !strings.Contains(out, "next cursor:") {
			t.Errorf("webhook events: exit %d, %d bytes, want a first page and a cursor\n%.500s", code, len(out), errOut)
		}
	})

	t.Run("since and until past 2262 are refused", func(t *testing.T) {
		for _, q := range []string{"since=9999-12-31T23:59:59Z", "until=9999-12-31T23:59:59Z", "since=0001-01-01T00:00:00Z", "since=99999999999"} {
			if status, body := adminGet(t, in, "/webhook_inbox/events?"+q); status != http.StatusBadRequest || !strings.Contains(body, "out of range") {
				t.Errorf("%s: %d %s, want 400 out of range", q, status, body)
			}
		}
	})

	t.Run("the CLI addresses the events . and ..", func(t *testing.T) {
		for _, id := range []string{".", ".."} {
			for _, args := range [][]string{{"event", id, "--json"}, {"replay", id, "--json"}, {"replay", id, "--target", "app", "--json"}} {
				out, errOut, code := cliRun(t, in, args...)
				var got struct{ ID string }
				if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.ID != id {
					t.Errorf("webhook %v: exit %d, answer %.300s %s, want event %q", args, code, out, errOut, id)
				}
			}
		}
	})

	t.Run("terminal controls in a type reach no terminal", func(t *testing.T) {
		tests := []struct {
			name string
			args []string
		}{
			{"events table", []string{"events"}},
			{"events --json", []string{"events", "--json"}},
			{"event", []string{"event", "hostile-type"}},
			{"event --json", []string{"event", "hostile-type", "--json"}},
			{"tail", []string{"tail", "--lines", "100"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var out, errOut string
				if tt.name == "tail" {
					// tail runs until stopped: one poll is enough.
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					defer cancel()
					b, _ := exec.CommandContext(ctx, testcaddy.Binary(t), "webhook", "tail", "--lines", "100", "--address", in.Admin).Output()
					out = string(b)
				} else {
					var code int
					if out, errOut, code = cliRun(t, in, tt.args...); code != 0 {
						t.Fatalf("exit %d: %s", code, errOut)
					}
				}
				if !strings.Contains(out, "hostile-type") {
					t.Fatalf("output lacks the event:\n%.500s", out)
				}
				if r, bad := terminalControl(out + errOut); bad {
					t.Fatalf("output carries %U raw", r)
				}
				if strings.HasSuffix(tt.name, "--json") {
					var v any
					if err := json.Unmarshal([]byte(out), &v); err != nil {
						t.Fatalf("--json: %v", err)
					}
				}
			})
		}
	})

	t.Run("an orphaned target is marked and can be replayed to", func(t *testing.T) {
		if err := in.Reload(strings.NewReplacer("target app {", "target app2 {", "default app", "default app2").Replace(badAdminConfig)); err != nil {
			t.Fatal(err)
		}
		var stats struct {
			Targets map[string]struct {
				Pending  int64 `json:"pending"`
				Orphaned bool  `json:"orphaned"`
			} `json:"targets"`
		}
		adminJSON(t, in, "/webhook_inbox/stats", &stats)
		if app := stats.Targets["app"]; app.Pending == 0 || !app.Orphaned || stats.Targets["app2"].Orphaned {
			t.Fatalf("stats %+v, want app orphaned with pending deliveries", stats.Targets)
		}
		if out, errOut, code := cliRun(t, in, "stats"); code != 0 || !strings.Contains(out, "app (orphaned)") {
			t.Errorf("webhook stats: exit %d\n%s%s", code, out, errOut)
		}
		if out, errOut, code := cliRun(t, in, "replay", "hostile-type", "--target", "app", "--json"); code != 0 || !strings.Contains(out, `"app"`) {
			t.Errorf("replay to the orphaned target: exit %d\n%s%s", code, out, errOut)
		}
	})
}
