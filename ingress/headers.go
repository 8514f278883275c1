package ingress

import (
	"fmt"
	"net/textproto"
	"slices"
	"unicode/utf8"

	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// Limits of the headers kept with a stored event.
const (
	// MaxKeepHeaders is the most header names an operator may add to the
	// built-in allow-list.
	MaxKeepHeaders = 32
	// MaxKeptHeaderValue is the most bytes kept of one header value; a
	// longer value is cut at a UTF-8 boundary.
	MaxKeptHeaderValue = 1024
)

// keptHeaders is the allow-list of request headers stored with every event
// (and so shown by the admin API, the console and the CLI for the whole
// retention): what describes the request and what each sender scheme names
// the event by. Anything else is dropped, so a credential a sender adds
// under a name nobody foresaw is never stored. Names are canonical.
//
// X-Forwarded-For is left out on purpose: the event's client IP already is
// what Caddy believed of it (trusted_proxies), and the raw chain is either
// redundant or, from an untrusted peer, whatever the client wrote.
var keptHeaders = []string{
	"Content-Type",
	"User-Agent",
	"X-Request-Id",
	// W3C trace context, passed on to targets.
	"Traceparent",
	"Tracestate",
	// UniCraft.
	signature.UniCraftEventID,
	"X-Unicraft-Event",
	// Standard Webhooks.
	"Webhook-Id",
	"Webhook-Timestamp",
	// GitHub.
	"X-Github-Event",
	"X-Github-Delivery",
	"X-Github-Hook-Id",
	// Shopify.
	"X-Shopify-Topic",
	"X-Shopify-Shop-Domain",
	"X-Shopify-Webhook-Id",
	"X-Shopify-Event-Id",
	"X-Shopify-Api-Version",
	// Slack.
	"X-Slack-Request-Timestamp",
	"X-Slack-Retry-Num",
	"X-Slack-Retry-Reason",
}

// secretHeaders are the names an operator may not add to the allow-list:
// every sender scheme's signature header and HTTP's credential headers.
// This only catches a mistake in the config; what is kept is decided by
// the allow-list alone.
var secretHeaders = []string{
	signature.UniCraftSignature,
	"Webhook-Signature",
	"Stripe-Signature",
	"X-Hub-Signature",
	"X-Hub-Signature-256",
	"X-Shopify-Hmac-Sha256",
	"X-Slack-Signature",
	"Authorization",
	"Proxy-Authorization",
	"Cookie",
}

// HeaderKeeper selects the request headers stored with an event: the
// built-in allow-list plus the names an operator added. It is immutable
// and safe for concurrent use.
type HeaderKeeper struct {
	names map[string]struct{}
}

// NewHeaderKeeper returns a keeper of the built-in allow-list and of extra,
// header names in any case. It refuses a name that is not a valid header
// name, that is a signature or credential header, or more than
// MaxKeepHeaders extra names.
func NewHeaderKeeper(extra []string) (*HeaderKeeper, error) {
	if len(extra) > MaxKeepHeaders {
		return nil, fmt.Errorf("keep_headers names %d headers, at most %d are allowed", len(extra), MaxKeepHeaders)
	}
	k := &HeaderKeeper{names: make(map[string]struct{}, len(keptHeaders)+len(extra))}
	for _, n := range keptHeaders {
		k.names[textproto.CanonicalMIMEHeaderKey(n)] = struct{}{}
	}
	for _, n := range extra {
		if !validHeaderName(n) {
			return nil, fmt.Errorf("keep_headers: %q is not a valid header name", n)
		}
		canon := textproto.CanonicalMIMEHeaderKey(n)
		if slices.ContainsFunc(secretHeaders, func(h string) bool { return textproto.CanonicalMIMEHeaderKey(h) == canon }) {
			return nil, fmt.Errorf("keep_headers: %s carries a signature or a credential and is never kept", canon)
		}
		k.names[canon] = struct{}{}
	}
	return k, nil
}

// Keep returns the first value of each allowed header present in hdr,
// which must have canonical keys (as net/http's server gives them), each
// cut to MaxKeptHeaderValue bytes.
func (k *HeaderKeeper) Keep(hdr map[string][]string) map[string]string {
	m := make(map[string]string, 4)
	for name, v := range hdr {
		if len(v) == 0 {
			continue
		}
		if _, ok := k.names[name]; ok {
			m[name] = cutUTF8(v[0], MaxKeptHeaderValue)
		}
	}
	return m
}

// cutUTF8 returns s cut to at most max bytes, never inside a UTF-8
// sequence: a cut that would split a rune ends before it. Bytes that are not
// UTF-8 are cut anywhere.
func cutUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for back := 0; back < utf8.UTFMax-1 && i > 0 && !utf8.RuneStart(s[i]); back++ {
		i--
	}
	if !utf8.RuneStart(s[i]) {
		// Not the middle of a rune but a run of stray continuation bytes.
		i = max
	}
	return s[:i]
}

// validHeaderName reports whether s is an RFC 9110 field name (a token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c < 0x80 && isTokenPunct[c]:
		default:
			return false
		}
	}
	return true
}

// isTokenPunct marks the punctuation RFC 9110's tchar allows.
var isTokenPunct = func() (t [128]bool) {
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
