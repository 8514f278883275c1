package module

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FuzzCaddyfile feeds arbitrary text to the parsers of our global option
// and directive: they must return an error or a config, never panic.
func FuzzCaddyfile(f *testing.F) {
	for _, seed := range []string{
		"webhook_inbox unicraft {\n secret a b\n allow_ips 10.0.0.0/8 192.168.1.100\n max_body 1MiB\n max_age 1h\n rate_limit 100 1s\n id `headers[\"X-UniCraft-Event-Id\"]`\n route `event.event == \"x\"` app pager\n default app\n}",
		"webhook_inbox {\n storage_dir /tmp/x\n dedup_window 72h\n retention 168h\n min_free_space 256MiB\n target app {\n url http://127.0.0.1:3000/\n secret s\n timeout 10s\n concurrency 8\n retry {\n max_attempts 20\n backoff 1s 1h\n max_age 72h\n }\n header X-A b\n body node\n }\n}",
		"webhook_inbox {\n route `(` app\n}",
		"webhook_inbox {\n target {\n }\n}",
		"webhook_inbox {\n min_free_space off\n}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		tokens, err := caddyfile.Tokenize([]byte(input), "Caddyfile")
		if err != nil {
			return
		}
		_ = new(Handler).UnmarshalCaddyfile(caddyfile.NewDispenser(tokens))
		_ = new(App).UnmarshalCaddyfile(caddyfile.NewDispenser(tokens))
	})
}
