package relay

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/signature"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

const (
	appSecret      = "app-secret-0123456789"
	standardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// sourceSchemes is the app's source→scheme map in these tests.
var sourceSchemes = map[string]signature.Spec{
	"stripe":  {Name: signature.Stripe},
	"svix":    {Name: signature.Standard},
	"github":  {Name: signature.GitHub},
	"partner": {Name: signature.HMAC, HMAC: signature.HMACOptions{Header: "X-Partner-Signature", Encoding: "base64"}},
}

// TestSignScheme delivers one event per case and verifies the request the
// way the app would, with the scheme's verifier at the attempt's time.
func TestSignScheme(t *testing.T) {
	tests := []struct {
		name, sign, source, secret string
		typ                        string // default request.completed
		kept                       map[string]string
		verify                     string // scheme the app verifies with; "" = no signature at all
		want                       map[string]string
	}{
		{name: "source unicraft: today's header", source: "unicraft", secret: appSecret, verify: signature.UniCraft},
		{name: "source stripe", source: "stripe", secret: appSecret, verify: signature.Stripe},
		{name: "source standard keeps webhook-id", source: "svix", secret: standardSecret, verify: signature.Standard,
			kept: map[string]string{"Webhook-Id": "msg_kept"}, want: map[string]string{"Webhook-Id": "msg_kept"}},
		{name: "source github passes its headers", source: "github", secret: appSecret, verify: signature.GitHub,
			kept: map[string]string{"X-Github-Event": "push", "X-Github-Delivery": "d-1"},
			want: map[string]string{"X-Github-Event": "push", "X-Github-Delivery": "d-1"}},
		{name: "source hmac", source: "partner", secret: appSecret, verify: signature.HMAC},
		{name: "unknown source is unicraft", source: "gone", secret: appSecret, verify: signature.UniCraft},
		{name: "sign github on a unicraft event", sign: "github", source: "unicraft", secret: appSecret, verify: signature.GitHub,
			want: map[string]string{"X-Github-Event": "request.completed", "X-Github-Delivery": "evt_sig"}},
		{name: "sign shopify", sign: "shopify", source: "unicraft", secret: appSecret, verify: signature.Shopify,
			want: map[string]string{"X-Shopify-Topic": "request.completed", "X-Shopify-Webhook-Id": "evt_sig"}},
		{name: "sign slack", sign: "slack", source: "stripe", secret: appSecret, verify: signature.Slack},
		{name: "sign standard without kept id", sign: "standard", source: "unicraft", secret: standardSecret, verify: signature.Standard,
			want: map[string]string{"Webhook-Id": "evt_sig"}},
		{name: "sign unicraft on a stripe event", sign: "unicraft", source: "stripe", secret: appSecret, verify: signature.UniCraft},
		{name: "sign none", sign: "none", source: "stripe", secret: appSecret},
		{name: "a hostile type is made a valid header value", sign: "shopify", source: "unicraft", secret: appSecret, verify: signature.Shopify,
			typ: "orders/create\r\nX-Injected: 1", want: map[string]string{"X-Shopify-Topic": "orders/create??X-Injected: 1", "X-Injected": ""}},
		{name: "no secret", source: "stripe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rv := newReceiver(t, status(http.StatusOK))
			h := newHarness(t, "", DispatcherOptions{})
			cfg := target("app", rv.URL)
			cfg.Secret, cfg.Sign, cfg.SourceSchemes = []byte(tc.secret), tc.sign, sourceSchemes
			h.d.SetTargets([]TargetConfig{cfg})
			ev := testEvent("evt_sig", "app")
			ev.Source = tc.source
			if tc.typ != "" {
				ev.Type = tc.typ
			}
			for k, v := range tc.kept {
				ev.Headers[k] = v
			}
			mustAccept(t, h.in, ev)
			waitFor(t, "delivery", h.statusIs("evt_sig", "app", store.StatusDelivered))
			got := rv.requests("evt_sig")[0]
			for _, name := range signature.SignatureHeaders {
				if v := got.Get(name); v != "" && (tc.verify == "" || tc.verify == signature.HMAC) {
					t.Errorf("%s = %q, want no signature", name, v)
				}
			}
			if tc.verify != "" {
				spec := signature.Spec{Name: tc.verify}
				if tc.verify == signature.HMAC {
					spec = sourceSchemes["partner"]
				}
				v, err := spec.New([]string{tc.secret}, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if err := v.Verify(got, rv.body("evt_sig"), h.clock.Now()); err != nil {
					t.Fatalf("the app's %s check: %v (headers %v)", tc.verify, err, got)
				}
			}
			want := map[string]string{"X-Unicraft-Event-Id": "evt_sig", "X-Webhook-Attempt": "1"}
			if tc.typ == "" {
				want["X-Unicraft-Event"] = "request.completed"
			}
			for k, v := range tc.want {
				want[k] = v
			}
			for k, v := range want {
				if g := got.Get(k); g != v {
					t.Errorf("%s = %q, want %q", k, g, v)
				}
			}
		})
	}
}

// TestSignedAtEachAttempt retries a Stripe-signed delivery an hour later:
// the second attempt carries a signature made then, which passes a
// 5-minute tolerance, while the first attempt's would not.
func TestSignedAtEachAttempt(t *testing.T) {
	rv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, hit int) {
		if hit == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h := newHarness(t, "", DispatcherOptions{})
	cfg := target("app", rv.URL)
	cfg.Secret, cfg.SourceSchemes = []byte(appSecret), sourceSchemes
	cfg.BackoffFirst, cfg.BackoffCap = time.Hour, time.Hour
	h.d.SetTargets([]TargetConfig{cfg})
	ev := testEvent("evt_late", "app")
	ev.Source = "stripe"
	mustAccept(t, h.in, ev)
	waitFor(t, "first attempt", h.runAttempts("evt_late", "app", 1))
	advanceUntil(t, h.clock, 10*time.Minute, "retry", h.statusIs("evt_late", "app", store.StatusDelivered))

	v, _ := signature.New(signature.Stripe, []string{appSecret}, signature.Options{})
	reqs := rv.requests("evt_late")
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	now := h.clock.Now()
	if err := v.Verify(reqs[1], ev.Body, now); err != nil {
		t.Fatalf("retry's signature at %s: %v", now, err)
	}
	if _, stale := v.Verify(reqs[0], ev.Body, now).(*signature.StaleError); !stale {
		t.Fatalf("first attempt's signature %q is not stale an hour later", reqs[0].Get("Stripe-Signature"))
	}
}

// TestTransform sends the transform's value, signed, and dead-letters at
// once when it fails; a replay then uses the current config's transform.
func TestTransform(t *testing.T) {
	rv := newReceiver(t, status(http.StatusOK))
	h := newHarness(t, "", DispatcherOptions{})
	cfg := target("app", rv.URL)
	cfg.Secret, cfg.Sign = []byte(appSecret), signature.GitHub
	cfg.Transform = `{"text": type + " " + string(event.data.cost), "id": id}`
	h.d.SetTargets([]TargetConfig{cfg})

	mustAccept(t, h.in, testEvent("evt_tr", "app"))
	waitFor(t, "delivery", h.statusIs("evt_tr", "app", store.StatusDelivered))
	got, body := rv.requests("evt_tr")[0], rv.body("evt_tr")
	if want := `{"id":"evt_tr","text":"request.completed 0.25"}`; string(body) != want {
		t.Fatalf("body %s, want %s", body, want)
	}
	v, _ := signature.New(signature.GitHub, []string{appSecret}, signature.Options{})
	if err := v.Verify(got, body, time.Now()); err != nil {
		t.Fatalf("transformed body not signed: %v", err)
	}

	cfg.Transform = `{"missing": event.nope}`
	h.d.SetTargets([]TargetConfig{cfg})
	mustAccept(t, h.in, testEvent("evt_bad", "app"))
	waitFor(t, "dead letter", h.statusIs("evt_bad", "app", store.StatusDead))
	st := h.state(t, "evt_bad", "app")
	if len(st.Attempts) != 1 || !strings.Contains(st.Reason, "transform") || !strings.Contains(st.Reason, "nope") {
		t.Fatalf("dead after %d attempts with reason %q", len(st.Attempts), st.Reason)
	}
	if n := rv.count("evt_bad"); n != 0 {
		t.Fatalf("target got %d requests for a failed transform", n)
	}

	cfg.Transform = `"plain " + id`
	h.d.SetTargets([]TargetConfig{cfg})
	if n, err := h.in.ReplayDead(bg, "app", nil, store.ReplayOptions{}); err != nil || n != 1 {
		t.Fatalf("ReplayDead = %d, %v", n, err)
	}
	waitFor(t, "replayed delivery", h.statusIs("evt_bad", "app", store.StatusDelivered))
	if body := rv.body("evt_bad"); string(body) != "plain evt_bad" {
		t.Fatalf("replayed body %q", body)
	}
	if ct := rv.requests("evt_bad")[0].Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q for a string body", ct)
	}
}

// TestSignBadSecret: a Standard Webhooks source with a target secret that
// is not whsec_ base64 dead-letters with the reason; naming the scheme
// explicitly fails the config instead.
func TestSignBadSecret(t *testing.T) {
	var hits atomic.Int64
	rv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { hits.Add(1) })
	cfg := target("app", rv.URL)
	cfg.Secret, cfg.Sign = []byte("not base64!"), signature.Standard
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "base64") {
		t.Fatalf("Validate = %v", err)
	}
	cfg.Sign, cfg.SourceSchemes = "", sourceSchemes
	h := newHarness(t, "", DispatcherOptions{})
	h.d.SetTargets([]TargetConfig{cfg})
	ev := testEvent("evt_std", "app")
	ev.Source = "svix"
	mustAccept(t, h.in, ev)
	waitFor(t, "dead letter", h.statusIs("evt_std", "app", store.StatusDead))
	if st := h.state(t, "evt_std", "app"); !strings.Contains(st.Reason, "scheme standard") || hits.Load() != 0 {
		t.Fatalf("reason %q, %d requests", st.Reason, hits.Load())
	}
	for _, bad := range []TargetConfig{
		{Name: "x", URL: rv.URL, Sign: "paypal"},
		{Name: "x", URL: rv.URL, Sign: "stripe"},
		{Name: "x", URL: rv.URL, Transform: "1 + 1"},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
	}
}
