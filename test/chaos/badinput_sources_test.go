package chaos

import (
	"net/http"
	"strings"
	"testing"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// twoSourcesConfig has two sources on two paths, both routing to app,
// where nothing listens.
const twoSourcesConfig = `{
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
	route /one {
		webhook_inbox one {
			secret {env.CHAOS_SOURCE_SECRET}
			default app
		}
	}
	route /two {
		webhook_inbox two {
			secret {env.CHAOS_SOURCE_SECRET}
			default app
		}
	}
}
`

// TestBadInputSameIDTwoSources is issue 18's item 5 from the CLI: one
// event ID sent to two sources is two events, dedup is per source, and
// nothing an operator does to one may reach the other. Before, the
// admin API addressed the ID alone: it showed only the newest, and a
// delete purged both events and both dedup markers, so a resend to the
// first source was delivered a second time.
func TestBadInputSameIDTwoSources(t *testing.T) {
	in := testcaddy.Start(t, twoSourcesConfig, "CHAOS_SOURCE_SECRET="+sourceSecret)
	body := payload("request.completed", "shared-id")
	for _, path := range []string{"/one", "/two"} {
		if got := post(t, in.URL(path), body, signedBy(sourceSecret, body)); got.status != http.StatusAccepted {
			t.Fatalf("posting to %s: %d %s", path, got.status, got.body)
		}
	}
	steps := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"event without a source names both", []string{"event", "shared-id"}, 1, "several sources (one, two)"},
		{"replay without a source names both", []string{"replay", "shared-id"}, 1, "several sources (one, two)"},
		{"delete without a source names both", []string{"delete", "shared-id"}, 1, "several sources (one, two)"},
		{"event of one source", []string{"event", "shared-id", "--source", "two"}, 0, "source: two"},
		{"delete one source's event", []string{"delete", "shared-id", "--source", "one"}, 0, "deleted shared-id"},
		{"the other's is kept", []string{"event", "shared-id"}, 0, "source: two"},
	}
	for _, st := range steps {
		out, errOut, code := cliRun(t, in, st.args...)
		// Field alignment is the printer's business: compare words.
		if code != st.wantCode || !strings.Contains(strings.Join(strings.Fields(out+errOut), " "), st.want) {
			t.Fatalf("%s: exit %d, out %q, err %q; want exit %d with %q", st.name, code, out, errOut, st.wantCode, st.want)
		}
	}
	// Source two still remembers its ID; source one's was purged.
	if got := post(t, in.URL("/two"), body, signedBy(sourceSecret, body)); got.status != http.StatusOK {
		t.Errorf("resending to source two: %d %s, want 200 duplicate", got.status, got.body)
	}
	if got := post(t, in.URL("/one"), body, signedBy(sourceSecret, body)); got.status != http.StatusAccepted {
		t.Errorf("resending to the purged source one: %d %s, want 202", got.status, got.body)
	}
}
