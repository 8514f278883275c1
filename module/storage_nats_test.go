package module

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestNATSStorageProvision(t *testing.T) {
	t.Setenv("INBOX_TEST_NATS_PASSWORD", "pw-from-env")
	t.Setenv("INBOX_TEST_NATS_USER", "inbox")
	tests := []struct {
		name    string
		cfg     NATSStorage
		wantErr string
		wantKey string
	}{
		{
			name: "placeholders resolved once, not in the pool key",
			cfg: NATSStorage{Servers: []string{"nats://b:4222", "nats://a:4222"}, Replicas: 3,
				User: "{env.INBOX_TEST_NATS_USER}", Password: "{env.INBOX_TEST_NATS_PASSWORD}"},
			wantKey: "nats:nats://a:4222,nats://b:4222/webhook_inbox",
		},
		{
			name:    "user information in a URL stays out of the pool key",
			cfg:     NATSStorage{Servers: []string{"nats://inbox:pw-from-env@a:4222"}, Replicas: 1, Prefix: "gw"},
			wantKey: "nats:nats://a:4222/gw",
		},
		{name: "no servers", cfg: NATSStorage{}, wantErr: "no NATS servers"},
		{name: "bad prefix", cfg: NATSStorage{Servers: []string{"nats://a:4222"}, Prefix: "a.b"}, wantErr: "prefix"},
		{name: "too many replicas", cfg: NATSStorage{Servers: []string{"nats://a:4222"}, Replicas: 7}, wantErr: "replicas"},
		{name: "cert without key", cfg: NATSStorage{Servers: []string{"nats://a:4222"}, TLS: &NATSTLS{CertFile: "c.pem"}},
			wantErr: "cert_file and key_file"},
		{name: "unset secret", cfg: NATSStorage{Servers: []string{"nats://a:4222"}, Password: "{env.INBOX_TEST_NATS_UNSET}"},
			wantErr: "password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.cfg
			err := n.Provision(caddy.Context{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Provision = %v, want an error about %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "pw-from-env") {
					t.Fatalf("the error shows a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if key := n.PoolKey(); key != tc.wantKey || strings.Contains(key, "pw-from-env") {
				t.Errorf("PoolKey = %q, want %q", key, tc.wantKey)
			}
			if n.Password != "" && n.opts.Password != "pw-from-env" {
				t.Errorf("password resolved to %q, want the environment's", n.opts.Password)
			}
		})
	}
}
