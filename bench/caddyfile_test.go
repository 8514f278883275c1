package main

import (
	"strings"
	"testing"
)

func TestRenderCaddyfile(t *testing.T) {
	base := siteConfig{admin: "127.0.0.1:2999", port: 8081, appPort: 9091, downPort: 9092, storage: "/tmp/b/data", bodySize: 400}
	tests := []struct {
		name     string
		scenario string
		change   func(c *siteConfig)
		want     string
		wantErr  string
	}{
		{
			name:     "proxy",
			scenario: scenarioProxy,
			want: `{
	admin 127.0.0.1:2999
}

http://:8081 {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:9091
}
`,
		},
		{
			name:     "inbox",
			scenario: scenarioInbox,
			want: `{
	admin 127.0.0.1:2999
	webhook_inbox {
		storage_dir /tmp/b/data
		target app {
			url http://127.0.0.1:9091/hook
		}
	}
}

http://:8081 {
	bind 127.0.0.1
	webhook_inbox unicraft {
		secret {env.BENCH_UNICRAFT_SECRET}
		default app
	}
}
`,
		},
		{
			name:     "inbox with bodies over the default max_body",
			scenario: scenarioInbox,
			change:   func(c *siteConfig) { c.bodySize = 2 << 20; c.storage = "/tmp/my dir" },
			want: `{
	admin 127.0.0.1:2999
	webhook_inbox {
		storage_dir "/tmp/my dir"
		target app {
			url http://127.0.0.1:9091/hook
		}
	}
}

http://:8081 {
	bind 127.0.0.1
	webhook_inbox unicraft {
		secret {env.BENCH_UNICRAFT_SECRET}
		max_body 2097152
		default app
	}
}
`,
		},
		{
			name:     "ingest relays to the port nothing listens on",
			scenario: scenarioIngest,
			want: `{
	admin 127.0.0.1:2999
	webhook_inbox {
		storage_dir /tmp/b/data
		target app {
			url http://127.0.0.1:9092/hook
		}
	}
}

http://:8081 {
	bind 127.0.0.1
	webhook_inbox unicraft {
		secret {env.BENCH_UNICRAFT_SECRET}
		default app
	}
}
`,
		},
		{
			name:     "inbox with a target concurrency",
			scenario: scenarioInbox,
			change:   func(c *siteConfig) { c.concurrency = 64 },
			want: `{
	admin 127.0.0.1:2999
	webhook_inbox {
		storage_dir /tmp/b/data
		target app {
			url http://127.0.0.1:9091/hook
			concurrency 64
		}
	}
}

http://:8081 {
	bind 127.0.0.1
	webhook_inbox unicraft {
		secret {env.BENCH_UNICRAFT_SECRET}
		default app
	}
}
`,
		},
		{name: "ingest without a down port", scenario: scenarioIngest, change: func(c *siteConfig) { c.downPort = 0 }, wantErr: "down"},
		{name: "inbox without storage", scenario: scenarioInbox, change: func(c *siteConfig) { c.storage = "" }, wantErr: "storage dir"},
		{name: "direct runs no caddy", scenario: scenarioDirect, wantErr: "no caddy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			if tt.change != nil {
				tt.change(&c)
			}
			got, err := renderCaddyfile(tt.scenario, c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
