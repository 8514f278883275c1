package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// cliStandardSecret is a Standard Webhooks secret (whsec_ and base64).
const cliStandardSecret = "whsec_Y2FuYXJ5LWNsaS1zdGFuZGFyZA=="

// cliSchemeConfig has one inbox per sender scheme, /<scheme>.
const cliSchemeConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space off
		target app {
			url http://127.0.0.1:9/hook
			retry {
				backoff 1h 1h
			}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	route /stripe {
		webhook_inbox stripe {
			verify stripe
			secret {env.TEST_CLI_SECRET}
			default app
		}
	}
	route /github {
		webhook_inbox github {
			verify github
			secret {env.TEST_CLI_SECRET}
			route ` + "`type == \"push\"`" + ` app
		}
	}
	route /standard {
		webhook_inbox standard {
			verify standard
			secret {env.TEST_CLI_STANDARD}
			default app
		}
	}
	route /shopify {
		webhook_inbox shopify {
			verify shopify
			secret {env.TEST_CLI_SECRET}
			route ` + "`type == \"orders/create\"`" + ` app
		}
	}
	route /hmac {
		webhook_inbox partner {
			verify hmac {
				header    X-Partner-Signature
				algorithm sha512
				encoding  base64
				prefix    "sha512="
			}
			secret {env.TEST_CLI_SECRET}
			route ` + "`type == \"\" && event.event == \"cost.exceeded\"`" + ` app
		}
	}
	route /slack {
		webhook_inbox slack {
			verify slack
			secret {env.TEST_CLI_SECRET}
			route ` + "`type == \"app_mention\"`" + ` app
		}
	}
}
`

// TestCLISendScheme sends each sender's sample, signed as that sender,
// through the real binary to an inbox verifying that scheme: every event
// is accepted (202, so routed by its type), under distinct IDs.
func TestCLISendScheme(t *testing.T) {
	in := testcaddy.Start(t, cliSchemeConfig, "TEST_CLI_SECRET="+cliTestSecret, "TEST_CLI_STANDARD="+cliStandardSecret)
	hmacFlags := []string{"--hmac-header", "X-Partner-Signature", "--hmac-algorithm", "sha512", "--hmac-encoding", "base64", "--hmac-prefix", "sha512="}
	for _, scheme := range []string{"stripe", "github", "standard", "shopify", "slack", "hmac"} {
		t.Run(scheme, func(t *testing.T) {
			var extra []string
			if scheme == signature.HMAC {
				extra = append(hmacFlags, "--event", "cost.exceeded")
			}
			secret, wrong := cliTestSecret, "wrong-"+cliTestSecret
			if scheme == signature.Standard {
				secret, wrong = cliStandardSecret, "whsec_d3Jvbmc="
			}
			out, errOut, code := cliRunBinary(t, nil, nil, append([]string{"webhook", "send", "--scheme", scheme,
				"--url", in.URL("/" + scheme), "--secret", secret, "--count", "3"}, extra...)...)
			if code != 0 || !strings.Contains(out, "status 202: 3") {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			out, _, _ = cliRunBinary(t, nil, nil, append([]string{"webhook", "send", "--scheme", scheme,
				"--url", in.URL("/" + scheme), "--secret", wrong, "--count", "1"}, extra...)...)
			if !strings.Contains(out, "status 401: 1") {
				t.Fatalf("wrong secret: %s", out)
			}
		})
	}
	_, errOut, code := cliRunBinary(t, nil, nil, "webhook", "send", "--scheme", "paypal", "--url", in.URL("/x"), "--secret", "s")
	if code == 0 || !strings.Contains(errOut, `--scheme "paypal"`) {
		t.Errorf("unknown scheme: exit %d, %s", code, errOut)
	}
}

// TestCLISignScheme checks the headers `webhook sign --scheme` prints with
// each scheme's verifier.
func TestCLISignScheme(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"invoice.paid"}`)
	file := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		scheme, secret string
		want           map[string]string
	}{
		{scheme: "stripe", secret: cliTestSecret},
		{scheme: "github", secret: cliTestSecret, want: map[string]string{"X-Github-Event": "push", "X-Github-Delivery": "d-1"}},
		{scheme: "standard", secret: cliStandardSecret, want: map[string]string{"Webhook-Id": "d-1"}},
		{scheme: "shopify", secret: cliTestSecret, want: map[string]string{"X-Shopify-Topic": "push"}},
		{scheme: "slack", secret: cliTestSecret},
		{scheme: "hmac", secret: cliTestSecret},
	}
	for _, tt := range tests {
		t.Run(tt.scheme, func(t *testing.T) {
			out, errOut, code := cliRunBinary(t, nil, nil, "webhook", "sign", "--scheme", tt.scheme,
				"--secret", tt.secret, "--id", "d-1", "--type", "push", "--hmac-header", "X-Partner-Signature", file)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			h := http.Header{}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				k, v, _ := strings.Cut(line, ": ")
				h.Set(k, v)
			}
			v, err := signature.New(tt.scheme, []string{tt.secret}, signature.Options{HMAC: signature.HMACOptions{Header: "X-Partner-Signature"}})
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Verify(h, body, time.Now()); err != nil {
				t.Fatalf("printed headers do not verify: %v\n%s", err, out)
			}
			for k, want := range tt.want {
				if h.Get(k) != want {
					t.Errorf("%s = %q, want %q", k, h.Get(k), want)
				}
			}
		})
	}
}
