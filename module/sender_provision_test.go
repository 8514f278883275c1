package module

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSenderProvisionErrors checks the load-time errors of verify, sign
// and transform that need the whole config.
func TestSenderProvisionErrors(t *testing.T) {
	const app = `{
	webhook_inbox {
		storage_dir %DATA%
		target app {
			url http://127.0.0.1:3000/hook
			%TARGET%
		}
	}
}
`
	tests := []struct {
		name, target, site, wantErr string
	}{
		{
			name:    "standard secret not base64",
			site:    "webhook_inbox { \n verify standard\n secret demo-secret-value\n default app\n}",
			wantErr: "verify standard: signature secret 1 of 1: a Standard Webhooks secret is whsec_ followed by base64",
		},
		{
			name:    "target signs standard with a secret it cannot read",
			target:  "secret demo-secret-value\n sign standard",
			site:    "webhook_inbox { \n secret demo-secret-value\n default app\n}",
			wantErr: "target app: sign standard: signature secret 1 of 1: a Standard Webhooks secret",
		},
		{
			name:    "sign without a secret",
			target:  "sign stripe",
			site:    "webhook_inbox { \n secret demo-secret-value\n default app\n}",
			wantErr: "sign stripe needs a secret",
		},
		{
			name:    "sign source of a standard source with a plain target secret",
			target:  "secret demo-secret-value",
			site:    "webhook_inbox svix { \n verify standard\n secret whsec_c2VjcmV0\n default app\n}",
			wantErr: "target app signs in source svix's scheme standard",
		},
		{
			name:    "one source, two schemes",
			site:    "route /a {\n webhook_inbox twice { \n verify stripe\n secret demo-secret-value\n }\n }\n route /b {\n webhook_inbox twice { \n verify github\n secret demo-secret-value\n }\n }",
			wantErr: "source twice is verified as stripe by another handler, here as github",
		},
		{
			name:    "tolerance beyond half the dedup window",
			site:    "webhook_inbox { \n verify stripe\n tolerance 40h\n secret demo-secret-value\n}",
			wantErr: "tolerance 40h0m0s must be at most half the dedup_window 72h0m0s",
		},
		{
			name:    "keep the hmac signature header",
			site:    "webhook_inbox { \n verify hmac {\n header X-Partner-Signature\n }\n secret demo-secret-value\n keep_headers x-partner-signature\n}",
			wantErr: "signature header of verify hmac",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "never-created")
			cf := strings.NewReplacer("%DATA%", dir, "%TARGET%", tt.target).Replace(app) + ":8080 {\n" + tt.site + "\n}\n"
			err := validate(t, cf)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "demo-secret-value") {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}
