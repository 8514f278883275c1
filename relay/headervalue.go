package relay

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// maxHeaderValue is the most bytes a value copied from a payload may take
// in a delivery header. Event types are short names; a sender's 20,000
// characters would otherwise pass an HTTP/2 peer's header list limit or
// Node.js's 16 KiB (answered 431) and make the event undeliverable.
const maxHeaderValue = 256

// headerReplacement stands in for what a header value cannot carry.
const headerReplacement = '?'

// headerValue makes s, a value taken from a payload, a valid and bounded
// header value: control characters (C0, tab included, DEL and C1, which
// are invalid on the wire or reach terminals) and bytes that are not
// UTF-8 become headerReplacement, and the value is cut to maxHeaderValue
// bytes on a character boundary. Anything else, non-ASCII letters
// included, is kept, so the receiver reads what the sender wrote.
func headerValue(s string) string {
	if len(s) <= maxHeaderValue && isPlainASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), maxHeaderValue))
	for i, r := range s {
		size := utf8.RuneLen(r)
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], string(utf8.RuneError)):
			r, size = headerReplacement, 1
		case isControl(r):
			r, size = headerReplacement, 1
		}
		if b.Len()+size > maxHeaderValue {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isPlainASCII reports whether s is printable ASCII only, the common case
// that needs no copy.
func isPlainASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// isControl reports whether r is a C0 or C1 control character or DEL.
func isControl(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f)
}

// checkHeader returns an error naming the first header whose name or
// value may not be sent (RFC 9110, section 5): a control character other
// than tab in a value, or a name that is not a token. It quotes neither
// values nor names' neighbours: a configured value may be a credential.
func checkHeader(h http.Header) error {
	for k, vs := range h {
		if !validHeaderName(k) {
			return fmt.Errorf("header name %q is not a token", k)
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return fmt.Errorf("header %s has a control character in its value", k)
			}
		}
	}
	return nil
}

func validHeaderValue(v string) bool {
	for i := range len(v) {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validHeaderName reports whether k is an RFC 9110 token.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := range len(k) {
		c := k[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
