package module_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// weirdID needs escaping in a URL path.
const weirdID = "a/b c?d%"

// TestAdminAPI walks every admin route through a real caddy: listing and
// paging, inspecting, replaying one event and dead letters in bulk,
// purging, and the answers to bad input.
func TestAdminAPI(t *testing.T) {
	target := newStandIn(t, always(http.StatusBadRequest))
	in := startAdmin(t, target)

	// Newest last: ev-0 .. ev-4, cost-1, un-1, weirdID.
	for i := range 5 {
		postEvent(t, in, "request.completed", fmt.Sprintf("ev-%d", i))
	}
	postEvent(t, in, "cost.exceeded", "cost-1")
	postEvent(t, in, "provider.unavailable", "un-1")
	weird := event("request.failed", "ignored", "")
	h := signed(weird)
	h["X-UniCraft-Event-Id"] = weirdID
	if got := post(t, in.URL("/hook"), weird, h); got.status != http.StatusAccepted {
		t.Fatalf("posting %q: %d %s", weirdID, got.status, got.body)
	}
	all := []string{weirdID, "un-1", "cost-1", "ev-4", "ev-3", "ev-2", "ev-1", "ev-0"}

	var stats statsJSON
	waitUntil(t, "every delivery dead (the stand-in answers 400)", func() bool {
		adminGet(t, in, "/webhook_inbox/stats", &stats)
		return stats.Targets["app"].Dead == 7 && stats.Targets["pager"].Dead == 1 && stats.Targets["app"].Pending == 0
	})
	if app := stats.Targets["app"]; app.Pending != 0 || app.Circuit != "closed" || !app.Configured {
		t.Errorf("stats for app: %+v", app)
	}
	if stats.Store.SizeBytes <= 0 || stats.Store.Dir != in.Data {
		t.Errorf("store stats: %+v, want size > 0 and dir %s", stats.Store, in.Data)
	}
	// Totals since start: the 8 accepted events (un-1 too, unrouted) and
	// their 8 deliveries, each dead at its first answer. An attempt is
	// counted just after its outcome is stored, so they may lag a moment.
	waitUntil(t, "totals since start", func() bool {
		adminGet(t, in, "/webhook_inbox/stats", &stats)
		return stats.Totals.Dead == 8
	})
	if tt := stats.Totals; tt.Received != 8 || tt.Delivered != 0 || tt.Retried != 0 || tt.Since.IsZero() || time.Since(tt.Since) > time.Hour {
		t.Errorf("totals %+v, want 8 received, 8 dead, since the process started", tt)
	}

	t.Run("list", func(t *testing.T) {
		tests := []struct {
			name  string
			query string
			want  []string
		}{
			{"everything, newest first", "", all},
			{"dead", "?status=dead", []string{weirdID, "cost-1", "ev-4", "ev-3", "ev-2", "ev-1", "ev-0"}},
			{"unrouted", "?status=unrouted", []string{"un-1"}},
			{"pending", "?status=pending", nil},
			{"orphaned (none)", "?status=orphaned", nil},
			{"target", "?target=pager", []string{"cost-1"}},
			{"type", "?type=cost.exceeded", []string{"cost-1"}},
			{"type and status", "?type=request.failed&status=dead", []string{weirdID}},
			{"source", "?source=unicraft&limit=2", []string{weirdID, "un-1"}},
			{"unknown source", "?source=nope", nil},
			{"until in the past", "?until=2000-01-01T00:00:00Z", nil},
			{"since a duration ago", "?since=1h", all},
			{"since unix seconds", fmt.Sprintf("?since=%d", time.Now().Add(time.Hour).Unix()), nil},
			{"since the last representable second", "?since=2262-04-11T23:47:16Z", nil},
			{"until the last representable second", "?until=2262-04-11T23:47:16Z", all},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got eventsJSON
				adminGet(t, in, "/webhook_inbox/events"+tt.query, &got)
				if !slices.Equal(got.ids(), tt.want) && len(got.ids())+len(tt.want) > 0 {
					t.Fatalf("events %v, want %v", got.ids(), tt.want)
				}
			})
		}
	})

	t.Run("pagination", func(t *testing.T) {
		tests := []struct {
			name  string
			query string
			want  []string
		}{
			{"by three", "limit=3", all},
			{"filtered by type, by two", "limit=2&type=request.completed", []string{"ev-4", "ev-3", "ev-2", "ev-1", "ev-0"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got []string
				cursor := ""
				for pages := 0; ; pages++ {
					if pages > len(all) {
						t.Fatalf("no end after %d pages: %v", pages, got)
					}
					var page eventsJSON
					adminGet(t, in, "/webhook_inbox/events?"+tt.query+"&cursor="+url.QueryEscape(cursor), &page)
					got = append(got, page.ids()...)
					if page.NextCursor == "" {
						break
					}
					cursor = page.NextCursor
				}
				if !slices.Equal(got, tt.want) {
					t.Fatalf("paged %v, want %v", got, tt.want)
				}
			})
		}
	})

	t.Run("one event", func(t *testing.T) {
		var ev eventJSON
		adminGet(t, in, "/webhook_inbox/events/ev-0", &ev)
		var body map[string]any
		if err := json.Unmarshal(ev.Body, &body); err != nil || body["id"] != "ev-0" || ev.BodyEncoding != "json" {
			t.Errorf("body %s (%s), want the JSON payload", ev.Body, ev.BodyEncoding)
		}
		if ev.Headers["Content-Type"] != "application/json" {
			t.Errorf("headers %v", ev.Headers)
		}
		if _, ok := ev.Headers["X-Unicraft-Signature"]; ok {
			t.Error("the signature is kept with the event")
		}
		if len(ev.Targets) != 1 || ev.Targets[0].Status != "dead" || !strings.Contains(ev.Targets[0].Reason, "400") ||
			len(ev.Targets[0].Attempts) != 1 || ev.Targets[0].Attempts[0].Status != 400 ||
			!strings.Contains(ev.Targets[0].Attempts[0].Body, "stand-in answered 400") {
			t.Errorf("targets %+v, want app dead after one 400", ev.Targets)
		}
		adminGet(t, in, "/webhook_inbox/events/"+url.PathEscape(weirdID), &ev)
		if ev.ID != weirdID {
			t.Errorf("escaped id: got %q", ev.ID)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		tests := []struct {
			name, method, path, body string
			want                     int
			wantErr                  string
		}{
			{"unknown id", "GET", "/webhook_inbox/events/nope", "", 404, "not found"},
			{"unknown resource", "GET", "/webhook_inbox/nope", "", 404, "no such"},
			{"bad status", "GET", "/webhook_inbox/events?status=lost", "", 400, "status"},
			{"bad limit", "GET", "/webhook_inbox/events?limit=abc", "", 400, "limit"},
			{"limit zero", "GET", "/webhook_inbox/events?limit=0", "", 400, "limit"},
			{"limit too big", "GET", "/webhook_inbox/events?limit=5000", "", 400, "limit"},
			{"bad cursor", "GET", "/webhook_inbox/events?cursor=!!!", "", 400, "cursor"},
			{"bad time", "GET", "/webhook_inbox/events?since=yesterday", "", 400, "since"},
			{"since past 2262", "GET", "/webhook_inbox/events?since=9999-12-31T23:59:59Z", "", 400, "out of range"},
			{"until past 2262", "GET", "/webhook_inbox/events?until=9999-12-31T23:59:59Z", "", 400, "out of range"},
			{"since in year 1", "GET", "/webhook_inbox/events?since=0001-01-01T00:00:00Z", "", 400, "out of range"},
			{"since in Unix seconds past 2262", "GET", "/webhook_inbox/events?since=100000000000", "", 400, "out of range"},
			{"bad target name", "GET", "/webhook_inbox/events?target=a%20b", "", 400, "target"},
			{"stats by POST", "POST", "/webhook_inbox/stats", "", 405, "method"},
			{"events by DELETE", "DELETE", "/webhook_inbox/events", "", 405, "method"},
			{"event by PUT", "PUT", "/webhook_inbox/events/ev-0", "", 405, "method"},
			{"replay by GET", "GET", "/webhook_inbox/events/ev-0/replay", "", 405, "method"},
			{"bulk replay by GET", "GET", "/webhook_inbox/replay", "", 405, "method"},
			{"replay unknown id", "POST", "/webhook_inbox/events/nope/replay", "", 404, "not found"},
			{"replay to an unknown target", "POST", "/webhook_inbox/events/ev-0/replay?target=nope", "", 400, "not configured"},
			{"replay to a target it was not routed to", "POST", "/webhook_inbox/events/ev-0/replay?target=pager", "", 404, "not routed"},
			{"replay an unrouted event", "POST", "/webhook_inbox/events/un-1/replay", "", 409, "unrouted"},
			{"bulk replay, bad CEL", "POST", "/webhook_inbox/replay", `{"status":"dead","filter":"event.id ==","dry_run":true}`, 400, `1:12: syntax error`},
			{"bulk replay, CEL not bool", "POST", "/webhook_inbox/replay", `{"filter":"event.id","dry_run":true}`, 400, "1:"},
			{"bulk replay, other status", "POST", "/webhook_inbox/replay", `{"status":"delivered","dry_run":true}`, 400, "dead"},
			{"bulk replay, unknown field", "POST", "/webhook_inbox/replay", `{"dryrun":true}`, 400, "dryrun"},
			{"bulk replay, empty body", "POST", "/webhook_inbox/replay", "", 400, "empty"},
			{"bulk replay, unknown target", "POST", "/webhook_inbox/replay", `{"target":"nope","dry_run":true}`, 400, "not configured"},
			{"bulk replay, negative rate", "POST", "/webhook_inbox/replay", `{"rate":-1}`, 400, "rate"},
			{"bulk replay, rate too slow", "POST", "/webhook_inbox/replay", `{"rate":0.001}`, 400, "at least"},
			{"delete unknown id", "DELETE", "/webhook_inbox/events/nope", "", 404, "not found"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := adminCall(t, in, tt.method, tt.path, tt.body)
				var e struct {
					Error string `json:"error"`
				}
				if err := json.Unmarshal([]byte(got.body), &e); err != nil || got.status != tt.want || !strings.Contains(e.Error, tt.wantErr) {
					t.Fatalf("got %d %s, want %d with an error containing %q", got.status, got.body, tt.want, tt.wantErr)
				}
				if ct := got.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				if tt.want == 405 && got.header.Get("Allow") == "" {
					t.Error("405 without Allow")
				}
			})
		}
	})

	// From here on the stand-in accepts everything.
	target.setAnswer(always(http.StatusOK))

	t.Run("replay one event", func(t *testing.T) {
		got := adminCall(t, in, "POST", "/webhook_inbox/events/ev-0/replay", "")
		if got.status != http.StatusAccepted || !strings.Contains(got.body, `{"status":"requeued","id":"ev-0","source":"unicraft","targets":["app"]}`) {
			t.Fatalf("got %d %s", got.status, got.body)
		}
		target.waitCount(t, "ev-0", 2)
		waitUntil(t, "ev-0 delivered", func() bool {
			var ev eventJSON
			adminGet(t, in, "/webhook_inbox/events/ev-0", &ev)
			return ev.Status == "delivered" && len(ev.Targets[0].Attempts) == 2
		})
		got = adminCall(t, in, "POST", "/webhook_inbox/events/cost-1/replay?target=pager", "")
		if got.status != http.StatusAccepted || !strings.Contains(got.body, `"targets":["pager"]`) {
			t.Fatalf("replay to one target: %d %s", got.status, got.body)
		}
		target.waitCount(t, "cost-1", 3) // pager and app once each, then pager again
	})

	t.Run("bulk replay", func(t *testing.T) {
		steps := []struct {
			name, body string
			want       string
		}{
			{"dry run, filtered", `{"status":"dead","target":"app","filter":"event.id.startsWith(\"ev-\")","dry_run":true}`, `"matched":4`},
			{"dry run, every dead letter of app", `{"target":"app","dry_run":true}`, `"matched":6`},
			{"dry run, every target", `{"dry_run":true}`, `"matched":6`},
			{"replay, filtered", `{"status":"dead","target":"app","filter":"event.id.startsWith(\"ev-\")","rate":200}`, `"requeued":4,"rate":200,"spread_seconds":0.02`},
			{"dry run again", `{"target":"app","filter":"event.id.startsWith(\"ev-\")","dry_run":true}`, `"matched":0`},
		}
		for _, st := range steps {
			got := adminCall(t, in, "POST", "/webhook_inbox/replay", st.body)
			if got.status != http.StatusOK || !strings.Contains(got.body, st.want) {
				t.Fatalf("%s: got %d %s, want %s", st.name, got.status, got.body, st.want)
			}
		}
		for _, id := range []string{"ev-1", "ev-2", "ev-3", "ev-4"} {
			target.waitCount(t, id, 2)
		}
		if n := target.count(weirdID); n != 1 {
			t.Errorf("%q arrived %d times; the filter should have left it dead", weirdID, n)
		}
		var stats statsJSON
		waitUntil(t, "the replayed dead letters delivered", func() bool {
			adminGet(t, in, "/webhook_inbox/stats", &stats)
			return stats.Targets["app"].Dead == 2 && stats.Targets["app"].Pending == 0
		})
	})

	t.Run("purge", func(t *testing.T) {
		if got := adminCall(t, in, "DELETE", "/webhook_inbox/events/"+url.PathEscape(weirdID), ""); got.status != http.StatusNoContent || got.body != "" {
			t.Fatalf("DELETE: %d %q, want 204", got.status, got.body)
		}
		for _, tt := range []struct{ method, path string }{
			{"GET", "/webhook_inbox/events/" + url.PathEscape(weirdID)},
			{"DELETE", "/webhook_inbox/events/" + url.PathEscape(weirdID)},
			{"POST", "/webhook_inbox/events/" + url.PathEscape(weirdID) + "/replay"},
		} {
			if got := adminCall(t, in, tt.method, tt.path, ""); got.status != http.StatusNotFound {
				t.Errorf("%s after purge: %d %s, want 404", tt.method, got.status, got.body)
			}
		}
		var stats statsJSON
		adminGet(t, in, "/webhook_inbox/stats", &stats)
		if stats.Targets["app"].Dead != 1 {
			t.Errorf("app dead letters %d after purging one of 2", stats.Targets["app"].Dead)
		}
		var list eventsJSON
		adminGet(t, in, "/webhook_inbox/events", &list)
		if slices.Contains(list.ids(), weirdID) {
			t.Error("purged event still listed")
		}
	})
}

// TestAdminOrphaned removes a target that still has a queue: stats list
// it as not configured, status=orphaned lists its events, and its queue
// depth stays visible in the metrics.
func TestAdminOrphaned(t *testing.T) {
	target := newStandIn(t, always(http.StatusOK))
	cfg := strings.ReplaceAll(adminConfig, "STANDIN", target.URL)
	// pager points at a closed port: its deliveries stay pending.
	cfg = strings.Replace(cfg, target.URL+"/pager", "http://127.0.0.1:9/pager", 1)
	cfg = strings.Replace(cfg, "max_attempts 4", "max_attempts 10000", 1)
	env := append([]string{"TEST_APP_SECRET=" + appSecret}, secretEnv...)
	in := testcaddy.Start(t, cfg, env...)
	postEvent(t, in, "cost.exceeded", "stuck-1")
	postEvent(t, in, "request.completed", "fine-1")
	target.waitCount(t, "stuck-1", 1)

	without := strings.Replace(cfg, "\t\ttarget pager {\n\t\t\turl http://127.0.0.1:9/pager", "\t\ttarget pager_gone {\n\t\t\turl http://127.0.0.1:9/pager", 1)
	without = strings.Replace(without, "`event.event == \"cost.exceeded\"` pager app", "`event.event == \"cost.exceeded\"` app", 1)
	if err := in.Reload(without); err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Targets map[string]struct {
			Pending    int64 `json:"pending"`
			Configured bool  `json:"configured"`
			Orphaned   bool  `json:"orphaned"`
		} `json:"targets"`
	}
	adminGet(t, in, "/webhook_inbox/stats", &stats)
	if p := stats.Targets["pager"]; p.Pending != 1 || p.Configured || !p.Orphaned {
		t.Errorf("pager in stats: %+v, want 1 pending, not configured, orphaned", p)
	}
	if g := stats.Targets["pager_gone"]; !g.Configured || g.Pending != 0 || g.Orphaned {
		t.Errorf("configured idle target: %+v, want listed with zeros, not orphaned", g)
	}
	if a := stats.Targets["app"]; a.Orphaned {
		t.Errorf("app in stats: %+v, want not orphaned", a)
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"?status=orphaned", []string{"stuck-1"}},
		{"?status=orphaned&target=pager", []string{"stuck-1"}},
		{"?status=orphaned&target=app", nil},
		{"?status=pending&target=pager", []string{"stuck-1"}},
	}
	for _, tt := range tests {
		var got eventsJSON
		adminGet(t, in, "/webhook_inbox/events"+tt.query, &got)
		if !slices.Equal(got.ids(), tt.want) && len(got.ids())+len(tt.want) > 0 {
			t.Errorf("%s: %v, want %v", tt.query, got.ids(), tt.want)
		}
	}
	samples := scrape(t, "http://"+in.Admin+"/metrics")
	if v, ok := samples.value("caddy_webhook_inbox_queue_depth", "target", "pager"); !ok || v != 1 {
		t.Errorf("queue_depth{target=pager} = %v (present %v), want 1", v, ok)
	}
	replays := []struct {
		name, path string
		want       int
		wantBody   string
	}{
		{"to the orphaned target", "/webhook_inbox/events/stuck-1/replay?target=pager", 202, `"targets":["pager"]`},
		{"to a configured target it was not routed to", "/webhook_inbox/events/stuck-1/replay?target=pager_gone", 404, "not routed"},
		{"to a target neither configured nor routed to", "/webhook_inbox/events/stuck-1/replay?target=nope", 400, "not configured"},
		{"to every target", "/webhook_inbox/events/stuck-1/replay", 202, `"status":"requeued"`},
	}
	for _, tt := range replays {
		if got := adminCall(t, in, http.MethodPost, tt.path, ""); got.status != tt.want || !strings.Contains(got.body, tt.wantBody) {
			t.Errorf("replay %s: %d %s, want %d with %s", tt.name, got.status, got.body, tt.want, tt.wantBody)
		}
	}
	if _, ok := samples.value("caddy_webhook_inbox_target_up", "target", "pager"); ok {
		t.Error("target_up reported for a target that is not configured")
	}
}
