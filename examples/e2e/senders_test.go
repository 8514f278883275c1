package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// The senders' secrets (what each provider's dashboard shows) and the
// apps' (each target's `secret`): different, so an app that accepts a
// delivery accepted the inbox's re-signing, not the sender's signature.
const (
	stripeSenderSecret   = "whsec_stripe_dashboard_secret_e2e"
	stripeAppSecret      = "whsec_stripe_app_secret_e2e"
	githubSenderSecret   = "github sender secret e2e"
	githubAppSecret      = "github app secret e2e"
	standardSenderSecret = "whsec_c2VuZGVyLXNlY3JldC1lMmUtc3RhbmRhcmQ="
	standardAppSecret    = "whsec_YXBwLXNlY3JldC1lMmUtc3RhbmRhcmQ="
)

// sendersConfig verifies each sender in its own scheme with a tolerance
// of 15 minutes, and relays to each example app with `sign source` (the
// default). The apps are down at first: every delivery is retried.
const sendersConfig = `{
	admin [[.Admin]]
	debug
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space off
		target stripe_app {
			url http://127.0.0.1:STRIPE_PORT/webhook
			secret {env.STRIPE_APP_SECRET}
			retry {
				max_attempts 200
				backoff 100ms 300ms
			}
		}
		target github_app {
			url http://127.0.0.1:GITHUB_PORT/github/webhook
			secret {env.GITHUB_APP_SECRET}
			retry {
				max_attempts 200
				backoff 100ms 300ms
			}
		}
		target standard_app {
			url http://127.0.0.1:STANDARD_PORT/webhooks
			secret {env.STANDARD_APP_SECRET}
			retry {
				max_attempts 200
				backoff 100ms 300ms
			}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	webhook_inbox /stripe stripe {
		verify stripe
		secret {env.STRIPE_SENDER_SECRET}
		tolerance 15m
		default stripe_app
	}
	webhook_inbox /github github {
		verify github
		secret {env.GITHUB_SENDER_SECRET}
		default github_app
	}
	webhook_inbox /standard standard {
		verify standard
		secret {env.STANDARD_SENDER_SECRET}
		tolerance 15m
		default standard_app
	}
}
`

// buildExample compiles examples/<name> into the test's temp dir.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = exampleDir(t, name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, out)
	}
	return bin
}

// postSigned sends body to the inbox signed in scheme as its sender
// signs it at signedAt, and expects it stored; it returns the headers.
func postSigned(t *testing.T, url, scheme, secret, id, typ string, body []byte, signedAt time.Time) http.Header {
	t.Helper()
	s, err := signature.New(scheme, []string{secret}, signature.Options{})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	s.Sign(req.Header, &signature.Message{ID: id, Type: typ, Body: body}, signedAt)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("posting to %s: %s %s", url, resp.Status, answer)
	}
	return req.Header
}

// TestSenderReceiversBehindInbox runs the Stripe, GitHub and Standard
// Webhooks example apps, unchanged, behind the real caddy binary. Each
// sender signed its event ten minutes ago (the inbox allows 15); the apps
// are down for the first attempts, and when they come up their own
// libraries, with their five-minute tolerances, accept the retries: the
// sender's original signatures would no longer pass, the inbox's, made
// at each attempt, do.
func TestSenderReceiversBehindInbox(t *testing.T) {
	stripeBin, githubBin, standardBin := buildExample(t, "stripe-receiver"), buildExample(t, "github-receiver"), buildExample(t, "standard-receiver")
	stripePort, githubPort, standardPort := testcaddy.FreePort(t), testcaddy.FreePort(t), testcaddy.FreePort(t)
	cfg := strings.NewReplacer("STRIPE_PORT", fmt.Sprint(stripePort), "GITHUB_PORT", fmt.Sprint(githubPort),
		"STANDARD_PORT", fmt.Sprint(standardPort)).Replace(sendersConfig)
	gw := testcaddy.Start(t, cfg,
		"STRIPE_SENDER_SECRET="+stripeSenderSecret, "STRIPE_APP_SECRET="+stripeAppSecret,
		"GITHUB_SENDER_SECRET="+githubSenderSecret, "GITHUB_APP_SECRET="+githubAppSecret,
		"STANDARD_SENDER_SECRET="+standardSenderSecret, "STANDARD_APP_SECRET="+standardAppSecret)

	tenMinutesAgo := time.Now().Add(-10 * time.Minute)
	stripeBody := []byte(`{"id":"evt_3e2eStripe","object":"event","api_version":"` + stripe.APIVersion + `","created":` +
		strconv.FormatInt(tenMinutesAgo.Unix(), 10) + `,"type":"payment_intent.succeeded","livemode":false,"pending_webhooks":1,` +
		`"data":{"object":{"id":"pi_3e2e","object":"payment_intent","amount":2000,"currency":"eur","status":"succeeded"}}}`)
	githubBody := []byte(`{"ref":"refs/heads/main","before":"0000000","after":"6113728f27ae82c7b1a177c8d03f9e96e0adf246",` +
		`"head_commit":{"id":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","message":"Fix the build"},"repository":{"full_name":"octo-org/hello"}}`)
	standardBody := []byte(`{"type":"invoice.paid","timestamp":"` + tenMinutesAgo.UTC().Format(time.RFC3339) + `","data":{"invoice_id":"inv_e2e","amount":2000}}`)

	stripeHeader := postSigned(t, gw.URL("/stripe"), signature.Stripe, stripeSenderSecret, "", "", stripeBody, tenMinutesAgo)
	postSigned(t, gw.URL("/github"), signature.GitHub, githubSenderSecret, "72d3162e-cc78-11e3-81ab-4c9367dc0958", "push", githubBody, time.Now())
	standardHeader := postSigned(t, gw.URL("/standard"), signature.Standard, standardSenderSecret, "msg_e2eStandard", "", standardBody, tenMinutesAgo)

	// Control: the providers' own libraries refuse the senders' original
	// signatures by now.
	if err := webhook.ValidatePayload(stripeBody, stripeHeader.Get("Stripe-Signature"), stripeSenderSecret); !errors.Is(err, webhook.ErrTooOld) {
		t.Fatalf("stripe-go on the sender's signature: %v, want ErrTooOld", err)
	}
	lib, _ := standardwebhooks.NewWebhook(standardSenderSecret)
	if err := lib.Verify(standardBody, standardHeader); !errors.Is(err, standardwebhooks.ErrMessageTooOld) {
		t.Fatalf("standardwebhooks on the sender's signature: %v, want ErrMessageTooOld", err)
	}

	retried := waitForRetries(t, gw, []string{"stripe_app", "github_app", "standard_app"}, 30*time.Second)
	t.Logf("failed attempts while the apps were down: %v", retried)

	appStripe := startApp(t, "stripe-receiver", stripePort, exec.Command(stripeBin), exampleDir(t, "stripe-receiver"),
		[]string{"STRIPE_WEBHOOK_SECRET=" + stripeAppSecret, fmt.Sprintf("PORT=%d", stripePort)})
	appGitHub := startApp(t, "github-receiver", githubPort, exec.Command(githubBin), exampleDir(t, "github-receiver"),
		[]string{"GITHUB_WEBHOOK_SECRET=" + githubAppSecret, fmt.Sprintf("PORT=%d", githubPort)})
	appStandard := startApp(t, "standard-receiver", standardPort, exec.Command(standardBin), exampleDir(t, "standard-receiver"),
		[]string{"WEBHOOK_SECRET=" + standardAppSecret, fmt.Sprintf("PORT=%d", standardPort)})

	settled := map[string]int{"stripe_app": 1, "github_app": 1, "standard_app": 1}
	got := waitForOutcomes(t, gw, settled, 60*time.Second)
	for target := range settled {
		if got[target+"/delivered"] != 1 || got[target+"/dead"] != 0 {
			t.Errorf("%s: outcomes %v, want one delivered after retries", target, got)
		}
	}
	tests := []struct {
		app  *app
		line string
	}{
		{appStripe, "received payment_intent.succeeded evt_3e2eStripe: payment intent pi_3e2e for 2000 eur"},
		{appGitHub, "received push 72d3162e-cc78-11e3-81ab-4c9367dc0958: 6113728f27ae82c7b1a177c8d03f9e96e0adf246 to refs/heads/main"},
		{appStandard, `received invoice.paid msg_e2eStandard: {"invoice_id":"inv_e2e","amount":2000}`},
	}
	for _, tt := range tests {
		if n := tt.app.waitCount(1, 5*time.Second, tt.line); n != 1 {
			t.Errorf("%s logged %q %d times; output:\n%s", tt.app.name, tt.line, n, tt.app.output())
		}
		for _, bad := range []string{"verification failed", "invalid payload", "rejected"} {
			if tt.app.count(bad) != 0 {
				t.Errorf("%s rejected a delivery:\n%s", tt.app.name, tt.app.output())
			}
		}
	}
}

// waitForRetries polls the inbox's log until each target has had a
// failed attempt, and returns the retry counts.
func waitForRetries(t *testing.T, gw *testcaddy.Instance, targets []string, timeout time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := outcomes(gw.Log())
		done := true
		for _, target := range targets {
			done = done && got[target+"/retry"] >= 1
		}
		if done {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempt for every target after %s: %v", timeout, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
