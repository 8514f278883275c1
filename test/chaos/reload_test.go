package chaos

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// relayConfig delivers every event to the sink at SINK_URL, with short
// backoffs so retries come due within a test.
const relayConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space off
		target app {
			url SINK_URL
			secret {env.CHAOS_APP_SECRET}
			concurrency CONCURRENCY
			retry {
				max_attempts 1000
				backoff 50ms 500ms
				max_age 1h
			}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	webhook_inbox chaos {
		secret {env.CHAOS_SOURCE_SECRET}
		default app
	}
}
`

const appSecret = "chaos-canary-app-2d4e6f80"

// newSender posts seed-shaped events signed with the source secret. A
// reload closes kept-alive connections, and 1000 reloads back to back
// close a lot of them: posts are resent, as a webhook sender does, for a
// while.
func newSender(url, prefix string) *testcaddy.Sender {
	return testcaddy.NewSender(url, prefix, sourceSecret, 10, func(id string) []byte {
		return payload("request.completed", id)
	})
}

// TestReloadsUnderLoad reloads the config 100 times (x10 with -soak)
// while 4 senders post and the target receives: no reload fails, no
// answer is a 5xx or a lasting connection error, and every acknowledged
// event is delivered.
func TestReloadsUnderLoad(t *testing.T) {
	sink := testcaddy.NewSink(t, appSecret)
	sink.Up()
	cfg := strings.Replace(relayConfig, "SINK_URL", sink.URL(), 1)
	in := testcaddy.Start(t, strings.Replace(cfg, "CONCURRENCY", "4", 1),
		"CHAOS_SOURCE_SECRET="+sourceSecret, "CHAOS_APP_SECRET="+appSecret)
	snd := newSender(in.URL("/"), "reload")
	stop := make(chan struct{})
	wg := snd.Run(4, stop)
	n := rounds(100)
	var failed []string
	resets := 0
	for i := range n {
		// alternate the target's concurrency so every reload changes the target set
		cfg := strings.Replace(cfg, "CONCURRENCY", fmt.Sprint(4+i%2*4), 1)
		for attempt := 0; ; attempt++ {
			// testcaddy's Reload posts with http.DefaultClient, and caddy
			// restarts its admin endpoint on every load, which closes a
			// kept-alive connection under the next POST /load: dial
			// afresh each time, as `caddy reload` does
			http.DefaultTransport.(*http.Transport).CloseIdleConnections()
			err := in.Reload(cfg)
			if err == nil {
				break
			}
			// "reload: <status>" is an answer from caddy: a failed load.
			// Anything else is a connection the old admin listener reset
			// before reading it (loads milliseconds apart race its
			// restart): nothing was loaded, so load again.
			if strings.HasPrefix(err.Error(), "reload: ") || attempt == 2 {
				failed = append(failed, fmt.Sprintf("reload %d: %v", i, err))
				break
			}
			resets++
		}
	}
	close(stop)
	wg.Wait()
	sent, acked := snd.IDs()
	if missing := sink.WaitFor(acked, 30*time.Second); len(missing) > 0 {
		t.Errorf("%d acknowledged events not delivered, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	st := sink.Tally(acked, sent)
	t.Logf("%d reloads under load: %d failed, %d resent after the admin connection was reset; other answers %v; %d posts resent after a connection error",
		n, len(failed), resets, snd.Other(), snd.Resends())
	report(t, "reloads", st)
	if len(failed) > 0 {
		t.Errorf("%d reloads failed: %v", len(failed), failed[:min(3, len(failed))])
	}
	if other := snd.Other(); len(other) > 0 {
		t.Errorf("answers other than 202 during reloads: %v", other)
	}
	// each load that went through saves the config: the reloads were real
	if saved := strings.Count(in.Log(), `"msg":"autosaved config`); saved < n+1 {
		t.Errorf("%d configs loaded, want %d (the start and every reload)", saved, n+1)
	}
	if len(acked) < n {
		t.Errorf("only %d events acknowledged across %d reloads: not under load", len(acked), n)
	}
}
