package signature

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	newSecretStandard = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	oldSecretStandard = "whsec_c2VjcmV0LW9sZC0wMTIzNDU2Nzg5"
)

// secretsFor returns a current and an old secret as the scheme reads them.
func secretsFor(scheme string) (cur, old string) {
	if scheme == Standard {
		return newSecretStandard, oldSecretStandard
	}
	return "whsec_current_0123456789", "whsec_previous_9876543210"
}

// wrongSecret returns a valid secret that is neither of secretsFor's.
func wrongSecret(scheme string) string {
	if scheme == Standard {
		return "whsec_d3Jvbmctc2VjcmV0"
	}
	return "whsec_wrong"
}

var partner = HMACOptions{Header: "X-Partner-Signature", Algorithm: "sha1", Encoding: "base64", Prefix: "sha1="}

func allSchemes() []string { return append(append([]string(nil), Names...), HMAC) }

func signed(t *testing.T, scheme, secret string, m *Message, at time.Time) http.Header {
	t.Helper()
	s, err := New(scheme, []string{secret}, Options{HMAC: partner})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	s.Sign(h, m, at)
	return h
}

// TestVerifyEveryScheme runs every scheme through the same cases: what it signs it
// verifies under the current and the old secret, and it rejects a wrong
// secret, a changed body, a missing or mangled header and, for the
// timestamped schemes, a valid signature outside the tolerance.
func TestVerifyEveryScheme(t *testing.T) {
	now := time.Unix(1_760_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"invoice.paid","event":"request.completed"}`)
	m := &Message{ID: "msg_1", Type: "invoice.paid", Body: body}
	timestamped := map[string]bool{Standard: true, Stripe: true, Slack: true}
	for _, scheme := range allSchemes() {
		cur, old := secretsFor(scheme)
		v, err := New(scheme, []string{cur, old}, Options{Tolerance: 5 * time.Minute, HMAC: partner})
		if err != nil {
			t.Fatal(err)
		}
		sigHeaders := signed(t, scheme, cur, m, now)
		tests := []struct {
			name   string
			header http.Header
			body   []byte
			at     time.Time
			want   error // nil, ErrBadSignature, or *StaleError (any)
			stale  bool
		}{
			{name: "current secret", header: sigHeaders, body: body, at: now},
			{name: "old secret", header: signed(t, scheme, old, m, now), body: body, at: now},
			{name: "wrong secret", header: signed(t, scheme, wrongSecret(scheme), m, now), body: body, at: now, want: ErrBadSignature},
			{name: "changed body", header: sigHeaders, body: append([]byte(" "), body...), at: now, want: ErrBadSignature},
			{name: "no headers", header: http.Header{}, body: body, at: now, want: ErrBadSignature},
			{name: "within tolerance", header: sigHeaders, body: body, at: now.Add(5 * time.Minute)},
			{name: "old beyond tolerance", header: sigHeaders, body: body, at: now.Add(6 * time.Minute), stale: timestamped[scheme]},
			{name: "future beyond tolerance", header: sigHeaders, body: body, at: now.Add(-6 * time.Minute), stale: timestamped[scheme]},
		}
		for _, tt := range tests {
			t.Run(scheme+"/"+tt.name, func(t *testing.T) {
				err := v.Verify(tt.header, tt.body, tt.at)
				var se *StaleError
				switch {
				case tt.stale:
					if !errors.As(err, &se) {
						t.Fatalf("Verify = %v, want a StaleError", err)
					}
				case !errors.Is(err, tt.want):
					t.Fatalf("Verify = %v, want %v", err, tt.want)
				}
			})
		}
	}
}

// TestSeveralEntries checks that one valid entry among several passes, as
// Stripe and Standard Webhooks send while a secret rolls.
func TestSeveralEntries(t *testing.T) {
	now := time.Unix(1_760_000_000, 0)
	body := []byte(`{"id":"evt_1"}`)
	m := &Message{ID: "msg_1", Body: body}
	tests := []struct {
		name, scheme, header string
		join                 func(valid string) string
	}{
		{name: "stripe", scheme: Stripe, header: StripeSignature, join: func(valid string) string {
			ts, sig, _ := strings.Cut(valid, ",")
			return ts + ",v1=" + strings.Repeat("00", 32) + ",v0=abc," + sig
		}},
		{name: "standard", scheme: Standard, header: StandardSignature, join: func(valid string) string {
			return "v1,bm90IGl0 v2,xyz " + valid
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur, _ := secretsFor(tt.scheme)
			h := signed(t, tt.scheme, cur, m, now)
			h.Set(tt.header, tt.join(h.Get(tt.header)))
			s, _ := New(tt.scheme, []string{cur}, Options{})
			if err := s.Verify(h, body, now); err != nil {
				t.Fatalf("Verify(%q) = %v", h.Get(tt.header), err)
			}
		})
	}
}

// TestSignPassesSenderHeaders checks the headers each scheme rebuilds from
// the event and the kept sender headers.
func TestSignPassesSenderHeaders(t *testing.T) {
	now := time.Unix(1_760_000_000, 0)
	kept := map[string]string{
		GitHubEvent: "push", GitHubDelivery: "d-1", GitHubHookID: "42",
		ShopifyTopic: "orders/create", ShopifyShopDomain: "shop.myshopify.com", ShopifyWebhookID: "w-1", ShopifyEventID: "e-1", ShopifyAPIVersion: "2025-07",
		StandardID: "msg_kept",
	}
	tests := []struct {
		scheme string
		kept   map[string]string
		want   map[string]string
	}{
		{scheme: GitHub, kept: kept, want: map[string]string{GitHubEvent: "push", GitHubDelivery: "d-1", GitHubHookID: "42"}},
		{scheme: GitHub, want: map[string]string{GitHubEvent: "invoice.paid", GitHubDelivery: "evt_9"}},
		{scheme: Shopify, kept: kept, want: map[string]string{ShopifyTopic: "orders/create", ShopifyShopDomain: "shop.myshopify.com", ShopifyWebhookID: "w-1", ShopifyEventID: "e-1", ShopifyAPIVersion: "2025-07"}},
		{scheme: Shopify, want: map[string]string{ShopifyTopic: "invoice.paid", ShopifyWebhookID: "evt_9"}},
		{scheme: Standard, kept: kept, want: map[string]string{StandardID: "msg_kept", StandardTimestamp: "1760000000"}},
		{scheme: Standard, want: map[string]string{StandardID: "evt_9"}},
		{scheme: Slack, want: map[string]string{SlackTimestamp: "1760000000"}},
	}
	for _, tt := range tests {
		t.Run(tt.scheme, func(t *testing.T) {
			cur, _ := secretsFor(tt.scheme)
			h := signed(t, tt.scheme, cur, &Message{ID: "evt_9", Type: "invoice.paid", Body: []byte("{}"), Headers: tt.kept}, now)
			for k, v := range tt.want {
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestEvent checks where each scheme reads the event ID and type.
func TestEvent(t *testing.T) {
	body := map[string]any{"id": "evt_1", "type": "invoice.paid", "event": "request.completed", "event_id": "Ev1",
		"event_inner": nil}
	slackBody := map[string]any{"type": "event_callback", "event_id": "Ev1", "event": map[string]any{"type": "app_mention"}}
	h := http.Header{}
	h.Set(StandardID, "msg_1")
	h.Set(GitHubDelivery, "d-1")
	h.Set(GitHubEvent, "push")
	h.Set(ShopifyWebhookID, "w-1")
	h.Set(ShopifyTopic, "orders/create")
	h.Set(UniCraftEventID, "u-1")
	shopifyWithEvent := h.Clone()
	shopifyWithEvent.Set(ShopifyEventID, "e-1")
	tests := []struct {
		scheme  string
		h       http.Header
		body    map[string]any
		id, typ string
	}{
		{UniCraft, h, body, "u-1", "request.completed"},
		{Standard, h, body, "msg_1", "invoice.paid"},
		{Stripe, h, body, "evt_1", "invoice.paid"},
		{GitHub, h, body, "d-1", "push"},
		{Shopify, h, body, "w-1", "orders/create"},
		{Shopify, shopifyWithEvent, body, "e-1", "orders/create"},
		{Slack, h, slackBody, "Ev1", "app_mention"},
		{Slack, h, map[string]any{"type": "url_verification"}, "", "url_verification"},
		{HMAC, h, body, "evt_1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.scheme, func(t *testing.T) {
			cur, _ := secretsFor(tt.scheme)
			s, err := New(tt.scheme, []string{cur}, Options{HMAC: partner})
			if err != nil {
				t.Fatal(err)
			}
			id, typ := s.Event(tt.h, tt.body)
			if id != tt.id || typ != tt.typ {
				t.Fatalf("Event = %q, %q; want %q, %q", id, typ, tt.id, tt.typ)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name, scheme string
		secrets      []string
		opts         Options
		wantErr      string
	}{
		{name: "unknown scheme", scheme: "paypal", secrets: []string{"s"}, wantErr: "unknown signature scheme"},
		{name: "no secret", scheme: Stripe, wantErr: "no signature secrets"},
		{name: "empty secret", scheme: GitHub, secrets: []string{"a", ""}, wantErr: "secret 2 of 2 is empty"},
		{name: "standard not base64", scheme: Standard, secrets: []string{"whsec_not base64!"}, wantErr: "base64"},
		{name: "hmac without header", scheme: HMAC, secrets: []string{"s"}, wantErr: "needs a header"},
		{name: "hmac md5", scheme: HMAC, secrets: []string{"s"}, opts: Options{HMAC: HMACOptions{Header: "X", Algorithm: "md5"}}, wantErr: "algorithm"},
		{name: "hmac base32", scheme: HMAC, secrets: []string{"s"}, opts: Options{HMAC: HMACOptions{Header: "X", Encoding: "base32"}}, wantErr: "encoding"},
		{name: "negative tolerance", scheme: Slack, secrets: []string{"s"}, opts: Options{Tolerance: -time.Second}, wantErr: "tolerance"},
		{name: "standard without prefix", scheme: Standard, secrets: []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.scheme, tt.secrets, tt.opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.wantErr)
			}
			for _, s := range tt.secrets {
				if len(s) > 1 && strings.Contains(err.Error(), s) {
					t.Fatalf("error %q quotes the secret", err)
				}
			}
		})
	}
}
