package module_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// sourcesConfig has two sources, each routing everything to app; it names
// its store the long way, as a storage backend.
const sourcesConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage badger {
			dir [[.Data]]
		}
		min_free_space off
		target app {
			url STANDIN/app
			retry {
				max_attempts 1
			}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	route /one {
		webhook_inbox one {
			secret {env.TEST_NEW_SECRET}
			default app
		}
	}
	route /two {
		webhook_inbox two {
			secret {env.TEST_NEW_SECRET}
			default app
		}
	}
}
`

// TestAdminAddressesSourceAndID posts one event ID to two sources, which
// are two events, and checks that every per-event route acts on one of
// them only: without ?source= an ambiguous ID answers 409 naming both, and
// purging one source's event leaves the other's, dedup marker included.
func TestAdminAddressesSourceAndID(t *testing.T) {
	target := newStandIn(t, always(http.StatusBadRequest))
	in := testcaddy.Start(t, strings.ReplaceAll(sourcesConfig, "STANDIN", target.URL), secretEnv...)
	body := event("request.completed", "dup", "")
	for _, path := range []string{"/one", "/two"} {
		if got := post(t, in.URL(path), body, signed(body)); got.status != http.StatusAccepted {
			t.Fatalf("posting to %s: %d %s", path, got.status, got.body)
		}
	}
	target.waitCount(t, "dup", 2)
	var stats statsJSON
	waitUntil(t, "both dead", func() bool {
		adminGet(t, in, "/webhook_inbox/stats", &stats)
		return stats.Targets["app"].Dead == 2
	})
	if stats.Store.Dir != in.Data {
		t.Errorf("store dir %q, want the storage badger dir %q", stats.Store.Dir, in.Data)
	}

	steps := []struct {
		name, method, path string
		wantStatus         int
		wantBody           string
	}{
		{"get without source", "GET", "/webhook_inbox/events/dup", http.StatusConflict, `several sources (one, two)`},
		{"replay without source", "POST", "/webhook_inbox/events/dup/replay", http.StatusConflict, `?source=`},
		{"delete without source", "DELETE", "/webhook_inbox/events/dup", http.StatusConflict, `(one, two)`},
		{"get one source", "GET", "/webhook_inbox/events/dup?source=two", http.StatusOK, `"source":"two"`},
		{"get an unknown source", "GET", "/webhook_inbox/events/dup?source=three", http.StatusNotFound, `not found`},
		{"replay one source", "POST", "/webhook_inbox/events/dup/replay?source=one", http.StatusAccepted, `"source":"one"`},
	}
	for _, st := range steps {
		got := adminCall(t, in, st.method, st.path, "")
		if got.status != st.wantStatus || !strings.Contains(got.body, st.wantBody) {
			t.Fatalf("%s: %d %s, want %d with %s", st.name, got.status, got.body, st.wantStatus, st.wantBody)
		}
	}
	target.waitCount(t, "dup", 3)
	var one, two eventJSON
	waitUntil(t, "source one's replay dead again", func() bool {
		adminGet(t, in, "/webhook_inbox/events/dup?source=one", &one)
		return one.Status == "dead" && len(one.Targets[0].Attempts) == 2
	})
	adminGet(t, in, "/webhook_inbox/events/dup?source=two", &two)
	if len(two.Targets[0].Attempts) != 1 {
		t.Errorf("source two's event has %d attempts, want 1: the replay reached it", len(two.Targets[0].Attempts))
	}

	if got := adminCall(t, in, "DELETE", "/webhook_inbox/events/dup?source=one", ""); got.status != http.StatusNoContent {
		t.Fatalf("delete one source: %d %s", got.status, got.body)
	}
	adminGet(t, in, "/webhook_inbox/events/dup", &two)
	if two.Source != "two" {
		t.Errorf("after purging source one, the ID resolves to source %q, want two", two.Source)
	}
	// Source two still remembers its ID; source one's was purged.
	if got := post(t, in.URL("/two"), body, signed(body)); got.status != http.StatusOK || !strings.Contains(got.body, "duplicate") {
		t.Errorf("resending to source two: %d %s, want 200 duplicate", got.status, got.body)
	}
	if got := post(t, in.URL("/one"), body, signed(body)); got.status != http.StatusAccepted {
		t.Errorf("resending to the purged source one: %d %s, want 202", got.status, got.body)
	}
}
