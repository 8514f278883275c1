package module_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// Secrets of the senders (in) and of the apps behind the inbox (app):
// different, so a delivery that passes the app's check was re-signed.
const (
	inSecret        = "sender-secret-current"
	inOldSecret     = "sender-secret-previous"
	inStandard      = "whsec_c2VuZGVyLXN0YW5kYXJkLWN1cnJlbnQ="
	inStandardOld   = "whsec_c2VuZGVyLXN0YW5kYXJkLW9sZA=="
	senderAppSecret = "app-secret-behind-the-inbox"
	appStandard     = "whsec_YXBwLXN0YW5kYXJkLXNlY3JldA=="
	partnerHeader   = "X-Partner-Signature"
	partnerPrefix   = "sha512="
	partnerEncoder  = "base64"
)

var partnerHMAC = signature.HMACOptions{Header: partnerHeader, Algorithm: "sha512", Encoding: partnerEncoder, Prefix: partnerPrefix}

const senderConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space 1MiB
		target stripe_app {
			url RECV/stripe
			secret {env.APP_SECRET}
		}
		target github_app {
			url RECV/github
			secret {env.APP_SECRET}
		}
		target standard_app {
			url RECV/standard
			secret {env.APP_STANDARD}
		}
		target shopify_app {
			url RECV/shopify
			secret {env.APP_SECRET}
		}
		target slack_app {
			url RECV/slack
			secret {env.APP_SECRET}
		}
		target hmac_app {
			url RECV/hmac
			secret {env.APP_SECRET}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	route /stripe {
		webhook_inbox stripe {
			verify stripe
			secret {env.IN_SECRET} {env.IN_OLD}
			default stripe_app
		}
	}
	route /github {
		webhook_inbox github {
			verify github
			secret {env.IN_SECRET} {env.IN_OLD}
			route ` + "`type == \"push\" && id.startsWith(\"gh-\")`" + ` github_app
		}
	}
	route /github-prefixed {
		webhook_inbox github_mirror {
			verify github
			secret {env.IN_SECRET}
			id ` + "`\"mirror:\" + id`" + `
			route ` + "`id == \"mirror:gh-9\" && type == \"push\"`" + ` github_app
		}
	}
	route /standard {
		webhook_inbox standard {
			verify standard
			secret {env.IN_STANDARD} {env.IN_STANDARD_OLD}
			tolerance 2m
			default standard_app
		}
	}
	route /shopify {
		webhook_inbox shopify {
			verify shopify
			secret {env.IN_SECRET} {env.IN_OLD}
			default shopify_app
		}
	}
	route /slack {
		webhook_inbox slack {
			verify slack
			secret {env.IN_SECRET} {env.IN_OLD}
			default slack_app
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
			secret {env.IN_SECRET} {env.IN_OLD}
			default hmac_app
		}
	}
}
`

// appReceiver is every app behind the inbox: it checks each delivery with
// the scheme of its path and the app's secret, as the app's own code would.
type appReceiver struct {
	mu   sync.Mutex
	got  map[string]http.Header // by X-UniCraft-Event-Id
	bad  []string
	hits map[string]int // by path
}

func newAppReceiver(t *testing.T) (*appReceiver, *httptest.Server) {
	rv := &appReceiver{got: map[string]http.Header{}, hits: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		scheme := strings.TrimPrefix(r.URL.Path, "/")
		secret := senderAppSecret
		if scheme == signature.Standard {
			secret = appStandard
		}
		v, err := signature.New(scheme, []string{secret}, signature.Options{HMAC: partnerHMAC})
		if err == nil {
			err = v.Verify(r.Header, body, time.Now())
		}
		rv.mu.Lock()
		defer rv.mu.Unlock()
		rv.hits[scheme]++
		if err != nil {
			rv.bad = append(rv.bad, scheme+": "+err.Error())
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rv.got[r.Header.Get("X-Unicraft-Event-Id")] = r.Header.Clone()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return rv, srv
}

func (rv *appReceiver) header(id string) (http.Header, bool) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	h, ok := rv.got[id]
	return h, ok
}

// signedAs signs body the way the scheme's sender does, at at.
func signedAs(t *testing.T, scheme, secret, id, typ string, body []byte, at time.Time) map[string]string {
	t.Helper()
	s, err := signature.New(scheme, []string{secret}, signature.Options{HMAC: partnerHMAC})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	s.Sign(h, &signature.Message{ID: id, Type: typ, Body: body, Headers: map[string]string{"X-Shopify-Shop-Domain": "shop.myshopify.com"}}, at)
	out := map[string]string{}
	for k := range h {
		out[k] = h.Get(k)
	}
	return out
}

// TestSenders posts each sender's requests through the real caddy binary:
// signed with the current or the old secret they are stored under the
// scheme's event ID and delivered re-signed in the same scheme with the
// app's secret; wrong signatures get 401, stale timestamps 400.
func TestSenders(t *testing.T) {
	rv, srv := newAppReceiver(t)
	in := testcaddy.Start(t, strings.ReplaceAll(senderConfig, "RECV", srv.URL),
		"IN_SECRET="+inSecret, "IN_OLD="+inOldSecret, "IN_STANDARD="+inStandard, "IN_STANDARD_OLD="+inStandardOld,
		"APP_SECRET="+senderAppSecret, "APP_STANDARD="+appStandard)
	now := time.Now()
	stripeBody := []byte(`{"id":"evt_stripe_1","object":"event","type":"invoice.paid","data":{"object":{"id":"in_1"}}}`)
	githubBody := []byte(`{"ref":"refs/heads/main","hook_id":42}`)
	standardBody := []byte(`{"type":"user.created","timestamp":"2026-12-04T10:00:00.000Z","data":{"id":"user_1"}}`)
	shopifyBody := []byte(`{"id":820982911946154500,"email":"jon@example.com"}`)
	slackBody := []byte(`{"type":"event_callback","event_id":"Ev_slack_1","event":{"type":"app_mention","text":"hi"}}`)
	hmacBody := []byte(`{"id":"partner_1","kind":"order"}`)

	tests := []struct {
		name, path, scheme, secret, id, typ string
		body                                []byte
		at                                  time.Time
		status                              int
		answer                              string
		delivered                           map[string]string // headers the app gets, "" = not delivered
		stored                              string            // the stored ID, when not id or the answer's
	}{
		{name: "stripe, old secret", path: "/stripe", scheme: "stripe", secret: inOldSecret, body: stripeBody, at: now, status: 202, answer: `"id":"evt_stripe_1"`, delivered: map[string]string{"X-Unicraft-Event": "invoice.paid"}},
		{name: "stripe, wrong secret", path: "/stripe", scheme: "stripe", secret: senderAppSecret, body: stripeBody, at: now, status: 401, answer: `"invalid signature"`},
		{name: "stripe, 6 minutes old", path: "/stripe", scheme: "stripe", secret: inSecret, body: stripeBody, at: now.Add(-6 * time.Minute), status: 400, answer: "outside the 5m0s tolerance"},
		{name: "github push", path: "/github", scheme: "github", secret: inSecret, id: "gh-1", typ: "push", body: githubBody, at: now, status: 202, answer: `"targets":["github_app"]`,
			delivered: map[string]string{"X-Github-Event": "push", "X-Github-Delivery": "gh-1", "X-Unicraft-Event": "push"}},
		{name: "github ping is unrouted", path: "/github", scheme: "github", secret: inSecret, id: "gh-2", typ: "ping", body: githubBody, at: now, status: 202, answer: `"targets":[]`},
		{name: "github duplicate", path: "/github", scheme: "github", secret: inOldSecret, id: "gh-1", typ: "push", body: githubBody, at: now, status: 200, answer: `"duplicate"`},
		{name: "github, id expression over the scheme's id", path: "/github-prefixed", scheme: "github", secret: inSecret, id: "gh-9", typ: "push", body: githubBody, at: now, status: 202,
			answer: `"id":"mirror:gh-9","targets":["github_app"]`, stored: "mirror:gh-9",
			delivered: map[string]string{"X-Github-Delivery": "gh-9", "X-Unicraft-Event-Id": "mirror:gh-9"}},
		{name: "github, wrong secret", path: "/github", scheme: "github", secret: "nope", id: "gh-3", typ: "push", body: githubBody, at: now, status: 401, answer: `"invalid signature"`},
		{name: "standard, old secret", path: "/standard", scheme: "standard", secret: inStandardOld, id: "msg_std_1", body: standardBody, at: now, status: 202, answer: `"id":"msg_std_1"`,
			delivered: map[string]string{"Webhook-Id": "msg_std_1", "X-Unicraft-Event": "user.created"}},
		{name: "standard, 3 minutes in the future", path: "/standard", scheme: "standard", secret: inStandard, id: "msg_std_2", body: standardBody, at: now.Add(3 * time.Minute), status: 400, answer: "in the future, outside the 2m0s tolerance"},
		{name: "standard, wrong secret", path: "/standard", scheme: "standard", secret: appStandard, id: "msg_std_3", body: standardBody, at: now, status: 401, answer: `"invalid signature"`},
		{name: "shopify", path: "/shopify", scheme: "shopify", secret: inSecret, id: "shop-wh-1", typ: "orders/create", body: shopifyBody, at: now, status: 202, answer: `"id":"shop-wh-1"`,
			delivered: map[string]string{"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "shop-wh-1", "X-Shopify-Shop-Domain": "shop.myshopify.com"}},
		{name: "shopify, wrong secret", path: "/shopify", scheme: "shopify", secret: "nope", id: "shop-wh-2", body: shopifyBody, at: now, status: 401, answer: `"invalid signature"`},
		{name: "slack event", path: "/slack", scheme: "slack", secret: inSecret, body: slackBody, at: now, status: 202, answer: `"id":"Ev_slack_1"`, delivered: map[string]string{"X-Unicraft-Event": "app_mention"}},
		{name: "slack url_verification", path: "/slack", scheme: "slack", secret: inOldSecret, body: []byte(`{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`), at: now, status: 200, answer: `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`},
		{name: "slack url_verification unsigned", path: "/slack", scheme: "slack", secret: "nope", body: []byte(`{"challenge":"x","type":"url_verification"}`), at: now, status: 401, answer: `"invalid signature"`},
		{name: "slack, 10 minutes old", path: "/slack", scheme: "slack", secret: inSecret, body: slackBody, at: now.Add(-10 * time.Minute), status: 400, answer: "old, outside"},
		{name: "hmac", path: "/hmac", scheme: "hmac", secret: inSecret, body: hmacBody, at: now, status: 202, answer: `"id":"partner_1"`, delivered: map[string]string{}},
		{name: "hmac, wrong secret", path: "/hmac", scheme: "hmac", secret: "nope", body: hmacBody, at: now, status: 401, answer: `"invalid signature"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := post(t, in.URL(tt.path), tt.body, signedAs(t, tt.scheme, tt.secret, tt.id, tt.typ, tt.body, tt.at))
			if got.status != tt.status || !strings.Contains(got.body, tt.answer) {
				t.Fatalf("answer %d %s, want %d containing %s", got.status, got.body, tt.status, tt.answer)
			}
		})
	}
	for _, tt := range tests {
		if tt.delivered == nil {
			continue
		}
		id := tt.id
		if tt.stored != "" {
			id = tt.stored
		} else if id == "" {
			id = strings.TrimSuffix(strings.SplitN(tt.answer, `"id":"`, 2)[1], `"`)
		}
		waitUntil(t, "delivery of "+id, func() bool { _, ok := rv.header(id); return ok })
		h, _ := rv.header(id)
		for k, v := range tt.delivered {
			if h.Get(k) != v {
				t.Errorf("%s: delivered %s = %q, want %q", tt.name, k, h.Get(k), v)
			}
		}
		if h.Get("X-Webhook-Attempt") != "1" {
			t.Errorf("%s: X-Webhook-Attempt = %q", tt.name, h.Get("X-Webhook-Attempt"))
		}
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if len(rv.bad) > 0 {
		t.Errorf("the apps rejected deliveries: %v", rv.bad)
	}
	if rv.hits["slack"] != 1 || rv.hits["github"] != 2 {
		t.Errorf("deliveries per app %v: the challenge and the unrouted ping must not be delivered", rv.hits)
	}
}
