package ingress

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHeaderKeeperKeep(t *testing.T) {
	k, err := NewHeaderKeeper([]string{"x-partner-trace", "X-PARTNER-REGION"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		header string
		value  string
		want   string // "" means not kept
	}{
		{name: "content type", header: "Content-Type", value: "application/json", want: "application/json"},
		{name: "user agent", header: "User-Agent", value: "unicraft/1.0", want: "unicraft/1.0"},
		{name: "request id", header: "X-Request-Id", value: "req_1", want: "req_1"},
		{name: "traceparent", header: "traceparent", value: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", want: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{name: "tracestate", header: "tracestate", value: "congo=t61rcWkgMzE", want: "congo=t61rcWkgMzE"},
		{name: "unicraft event id", header: "X-UniCraft-Event-Id", value: "evt_1", want: "evt_1"},
		{name: "unicraft event", header: "X-UniCraft-Event", value: "request.completed", want: "request.completed"},
		{name: "standard webhooks id", header: "webhook-id", value: "msg_1", want: "msg_1"},
		{name: "standard webhooks timestamp", header: "webhook-timestamp", value: "1705746600", want: "1705746600"},
		{name: "github event", header: "X-GitHub-Event", value: "push", want: "push"},
		{name: "github delivery", header: "X-GitHub-Delivery", value: "72d3162e", want: "72d3162e"},
		{name: "github hook id", header: "X-GitHub-Hook-ID", value: "292430182", want: "292430182"},
		{name: "shopify topic", header: "X-Shopify-Topic", value: "orders/create", want: "orders/create"},
		{name: "shopify shop", header: "X-Shopify-Shop-Domain", value: "shop.myshopify.com", want: "shop.myshopify.com"},
		{name: "shopify webhook id", header: "X-Shopify-Webhook-Id", value: "b54557e4", want: "b54557e4"},
		{name: "shopify event id", header: "X-Shopify-Event-Id", value: "98880550", want: "98880550"},
		{name: "shopify api version", header: "X-Shopify-API-Version", value: "2024-01", want: "2024-01"},
		{name: "slack timestamp", header: "X-Slack-Request-Timestamp", value: "1531420618", want: "1531420618"},
		{name: "slack retry", header: "X-Slack-Retry-Num", value: "1", want: "1"},
		{name: "operator's name, any case", header: "X-Partner-Trace", value: "t1", want: "t1"},
		{name: "operator's upper-case name", header: "x-partner-region", value: "eu", want: "eu"},
		{name: "empty value kept empty", header: "X-Request-Id", value: "", want: ""},
		// Credentials the old deny-list let through.
		{name: "x-apikey", header: "X-Apikey", value: "secret"},
		{name: "x-api-key", header: "X-Api-Key", value: "secret"},
		{name: "client secret", header: "X-Client-Secret", value: "secret"},
		{name: "password", header: "X-Password", value: "secret"},
		{name: "access token", header: "X-Accesstoken", value: "secret"},
		{name: "csrf token", header: "X-Csrftoken", value: "secret"},
		{name: "session id", header: "X-Session-Id", value: "secret"},
		{name: "shopify hmac", header: "X-Shopify-Hmac-Sha256", value: "secret"},
		{name: "unicraft signature", header: "X-UniCraft-Signature", value: "secret"},
		{name: "github signature", header: "X-Hub-Signature-256", value: "sha256=secret"},
		{name: "stripe signature", header: "Stripe-Signature", value: "t=1,v1=secret"},
		{name: "standard webhooks signature", header: "webhook-signature", value: "v1,secret"},
		{name: "slack signature", header: "X-Slack-Signature", value: "v0=secret"},
		{name: "authorization", header: "Authorization", value: "Bearer secret"},
		{name: "cookie", header: "Cookie", value: "session=secret"},
		{name: "forwarded for", header: "X-Forwarded-For", value: "203.0.113.9"},
		{name: "unknown sender header", header: "X-Anything", value: "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{}
			hdr.Set(tt.header, tt.value)
			got := k.Keep(hdr)
			v, ok := got[http.CanonicalHeaderKey(tt.header)]
			wantKept := tt.want != "" || tt.value == ""
			if ok != wantKept || v != tt.want {
				t.Fatalf("Keep(%s: %q) = %q (kept %v), want %q (kept %v)", tt.header, tt.value, v, ok, tt.want, wantKept)
			}
			if len(got) > 1 {
				t.Fatalf("Keep kept %v, want one header at most", got)
			}
		})
	}
}

func TestHeaderKeeperFirstValue(t *testing.T) {
	k, err := NewHeaderKeeper(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := k.Keep(http.Header{"User-Agent": {"first", "second"}, "X-Request-Id": {}})
	if len(got) != 1 || got["User-Agent"] != "first" {
		t.Fatalf("Keep = %v, want only User-Agent: first", got)
	}
}

func TestCutUTF8(t *testing.T) {
	const max = MaxKeptHeaderValue
	a := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "short", in: "abc", want: "abc"},
		{name: "exactly max", in: a(max), want: a(max)},
		{name: "one byte over", in: a(max + 1), want: a(max)},
		{name: "two-byte rune straddling the limit", in: a(max-1) + "é", want: a(max - 1)},
		{name: "two-byte rune ending at the limit", in: a(max-2) + "é" + "b", want: a(max-2) + "é"},
		{name: "three-byte rune straddling by one", in: a(max-1) + "€", want: a(max - 1)},
		{name: "three-byte rune straddling by two", in: a(max-2) + "€", want: a(max - 2)},
		{name: "four-byte rune straddling", in: a(max-3) + "🎉", want: a(max - 3)},
		{name: "only two-byte runes", in: strings.Repeat("é", max), want: strings.Repeat("é", max/2)},
		{name: "stray continuation bytes", in: a(max-4) + strings.Repeat("\x80", 10), want: a(max-4) + "\x80\x80\x80\x80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cutUTF8(tt.in, max)
			if got != tt.want {
				t.Fatalf("cutUTF8 = %.40q… (%d bytes), want %.40q… (%d bytes)", got, len(got), tt.want, len(tt.want))
			}
			if utf8.ValidString(tt.in) && !utf8.ValidString(got) {
				t.Fatalf("cutting valid UTF-8 gave invalid UTF-8")
			}
		})
	}
}

func TestNewHeaderKeeperRefuses(t *testing.T) {
	tests := []struct {
		name    string
		extra   []string
		wantErr string
	}{
		{name: "signature header", extra: []string{"x-unicraft-signature"}, wantErr: "X-Unicraft-Signature carries a signature or a credential"},
		{name: "github signature", extra: []string{"X-Hub-Signature-256"}, wantErr: "carries a signature"},
		{name: "shopify hmac", extra: []string{"X-Shopify-Hmac-Sha256"}, wantErr: "carries a signature"},
		{name: "authorization", extra: []string{"authorization"}, wantErr: "carries a signature"},
		{name: "cookie", extra: []string{"Cookie"}, wantErr: "carries a signature"},
		{name: "empty name", extra: []string{""}, wantErr: "not a valid header name"},
		{name: "space in the name", extra: []string{"X Partner"}, wantErr: "not a valid header name"},
		{name: "colon in the name", extra: []string{"X-Partner:"}, wantErr: "not a valid header name"},
		{name: "non-ASCII name", extra: []string{"X-Partnér"}, wantErr: "not a valid header name"},
		{name: "too many names", extra: strings.Split(strings.Repeat("X-A,", MaxKeepHeaders+1), ",")[:MaxKeepHeaders+1], wantErr: "at most 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHeaderKeeper(tt.extra)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewHeaderKeeper(%q) = %v, want an error containing %q", tt.extra, err, tt.wantErr)
			}
		})
	}
}

func BenchmarkHeaderKeeperKeep(b *testing.B) {
	k, err := NewHeaderKeeper(nil)
	if err != nil {
		b.Fatal(err)
	}
	hdr := http.Header{
		"Content-Type": {"application/json"}, "User-Agent": {"unicraft/1.0"}, "Accept-Encoding": {"gzip"},
		"Content-Length": {"512"}, "X-Unicraft-Signature": {strings.Repeat("a", 64)}, "X-Unicraft-Event-Id": {"evt_1"},
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = k.Keep(hdr)
	}
}

// TestKeptHeadersDocumented keeps the README's list of kept headers in step
// with the allow-list.
func TestKeptHeadersDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.ToLower(string(readme))
	for _, name := range keptHeaders {
		if !strings.Contains(doc, "`"+strings.ToLower(name)+"`") {
			t.Errorf("README does not list the kept header %s", name)
		}
	}
}
