package signature_test

// Round trips against the providers' own Go libraries (test-only
// dependencies): what we sign passes their verifier, and what they sign
// passes ours.

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-github/v84/github"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	stripego "github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

const (
	stripeSecret   = "whsec_test_stripe_0123456789abcdef"
	standardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	githubSecret   = "It's a Secret to Everybody"
)

var stripeEvent = []byte(`{"id":"evt_1PqRsT","object":"event","api_version":"` + stripego.APIVersion + `","created":1760000000,"type":"invoice.paid","data":{"object":{"id":"in_1","object":"invoice"}}}`)

func scheme(t *testing.T, name string, secrets ...string) signature.Scheme {
	t.Helper()
	s, err := signature.New(name, secrets, signature.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStripeRoundTrip(t *testing.T) {
	now := time.Now()
	ours := scheme(t, signature.Stripe, stripeSecret, "whsec_old")
	t.Run("ours passes ConstructEvent", func(t *testing.T) {
		h := http.Header{}
		scheme(t, signature.Stripe, stripeSecret).Sign(h, &signature.Message{Body: stripeEvent}, now)
		ev, err := webhook.ConstructEvent(stripeEvent, h.Get("Stripe-Signature"), stripeSecret)
		if err != nil {
			t.Fatalf("ConstructEvent: %v", err)
		}
		if ev.ID != "evt_1PqRsT" || ev.Type != "invoice.paid" {
			t.Fatalf("event = %s %s", ev.ID, ev.Type)
		}
	})
	t.Run("GenerateTestSignedPayload passes ours", func(t *testing.T) {
		p := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: stripeEvent, Secret: stripeSecret, Timestamp: now})
		h := http.Header{}
		h.Set("Stripe-Signature", p.Header)
		if err := ours.Verify(h, stripeEvent, now); err != nil {
			t.Fatalf("Verify(%q) = %v", p.Header, err)
		}
	})
	t.Run("stripe-go's old signature is stale for ours too", func(t *testing.T) {
		p := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: stripeEvent, Secret: stripeSecret, Timestamp: now.Add(-10 * time.Minute)})
		h := http.Header{}
		h.Set("Stripe-Signature", p.Header)
		if _, err := webhook.ConstructEvent(stripeEvent, p.Header, stripeSecret); err == nil {
			t.Fatal("stripe-go accepted a 10-minute-old signature")
		}
		if _, ok := ours.Verify(h, stripeEvent, now).(*signature.StaleError); !ok {
			t.Fatal("ours did not call a 10-minute-old signature stale")
		}
	})
}

func TestStandardWebhooksRoundTrip(t *testing.T) {
	now := time.Now()
	body := []byte(`{"type":"user.created","timestamp":"2026-12-04T10:00:00Z","data":{"id":"user_1"}}`)
	lib, err := standardwebhooks.NewWebhook(standardSecret)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ours passes Verify", func(t *testing.T) {
		h := http.Header{}
		scheme(t, signature.Standard, standardSecret).Sign(h, &signature.Message{ID: "msg_2Lh9", Body: body}, now)
		if err := lib.Verify(body, h); err != nil {
			t.Fatalf("standardwebhooks.Verify: %v (headers %v)", err, h)
		}
		if h.Get(standardwebhooks.HeaderWebhookID) != "msg_2Lh9" {
			t.Fatalf("webhook-id = %q", h.Get(standardwebhooks.HeaderWebhookID))
		}
	})
	t.Run("theirs passes ours", func(t *testing.T) {
		sig, err := lib.Sign("msg_2Lh9", now, body)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set(standardwebhooks.HeaderWebhookID, "msg_2Lh9")
		h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
		h.Set(standardwebhooks.HeaderWebhookSignature, "v1,b2xk "+sig)
		if err := scheme(t, signature.Standard, "whsec_b2xkIHNlY3JldA==", standardSecret).Verify(h, body, now); err != nil {
			t.Fatalf("Verify = %v", err)
		}
	})
}

func TestGitHubRoundTrip(t *testing.T) {
	body := []byte(`{"zen":"Keep it logically awesome.","hook_id":42}`)
	t.Run("ours passes ValidatePayload", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		scheme(t, signature.GitHub, githubSecret).Sign(req.Header, &signature.Message{ID: "d-1", Type: "ping", Body: body}, time.Now())
		got, err := github.ValidatePayload(req, []byte(githubSecret))
		if err != nil {
			t.Fatalf("ValidatePayload: %v", err)
		}
		if !bytes.Equal(got, body) || github.WebHookType(req) != "ping" || github.DeliveryID(req) != "d-1" {
			t.Fatalf("payload %q, type %q, delivery %q", got, github.WebHookType(req), github.DeliveryID(req))
		}
	})
	t.Run("a signature ValidateSignature accepts passes ours", func(t *testing.T) {
		const sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
		hello := []byte("Hello, World!")
		if err := github.ValidateSignature(sig, hello, []byte(githubSecret)); err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set(github.SHA256SignatureHeader, sig)
		if err := scheme(t, signature.GitHub, "old", githubSecret).Verify(h, hello, time.Now()); err != nil {
			t.Fatalf("Verify = %v", err)
		}
		h.Set(github.SHA256SignatureHeader, sig[:len(sig)-1]+"0")
		if github.ValidateSignature(h.Get(github.SHA256SignatureHeader), hello, []byte(githubSecret)) == nil ||
			scheme(t, signature.GitHub, githubSecret).Verify(h, hello, time.Now()) == nil {
			t.Fatal("a changed digit passed")
		}
	})
}
