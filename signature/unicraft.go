package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// uniCraftPrefix is the optional scheme prefix some senders put before the
// hex digest, matched case-insensitively.
const uniCraftPrefix = "sha256="

// uniCraftHexLen is the length of a hex-encoded HMAC-SHA256.
const uniCraftHexLen = 2 * sha256.Size

// UniCraftVerifier checks X-UniCraft-Signature headers against one or more
// secrets, so a secret can be rotated by configuring the new and the old
// one together. It is safe for concurrent use.
type UniCraftVerifier struct {
	keys *keyring
}

// NewUniCraftVerifier returns a verifier that accepts a signature made with
// any of secrets. It copies the secrets and returns an error if there are
// none or one is empty, because an empty HMAC key would let anyone sign.
func NewUniCraftVerifier(secrets [][]byte) (*UniCraftVerifier, error) {
	if len(secrets) == 0 {
		return nil, errors.New("no signature secrets configured")
	}
	for i, s := range secrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("signature secret %d of %d is empty", i+1, len(secrets))
		}
	}
	return &UniCraftVerifier{keys: newKeyring(sha256.New, secrets)}, nil
}

// Verify reports whether header is a valid signature of body under any of
// the secrets. A valid header is the hex HMAC-SHA256 of the raw body
// (lowercase or uppercase), optionally prefixed once by "sha256=" in any
// case, with surrounding whitespace ignored. Anything else — missing,
// empty, not exactly 64 hex digits, a doubled prefix — is false. The
// digest is compared in constant time and every secret is always checked.
func (v *UniCraftVerifier) Verify(header string, body []byte) bool {
	header = strings.TrimSpace(header)
	if len(header) >= len(uniCraftPrefix) && strings.EqualFold(header[:len(uniCraftPrefix)], uniCraftPrefix) {
		header = header[len(uniCraftPrefix):]
	}
	// The length is public (it is the sender's header), so rejecting early
	// on it leaks nothing and keeps oversized headers cheap.
	if len(header) != uniCraftHexLen {
		return false
	}
	var want [sha256.Size]byte
	if !decodeHex(want[:], header) {
		return false
	}
	return v.keys.match1(want[:], body)
}

// SignUniCraft returns the lowercase hex HMAC-SHA256 of body under secret:
// the value senders put in X-UniCraft-Signature and the relay puts on
// re-signed deliveries.
func SignUniCraft(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	var sum [sha256.Size]byte
	return hex.EncodeToString(mac.Sum(sum[:0]))
}

// uniCraftScheme is the UniCraftVerifier as a Scheme.
type uniCraftScheme struct {
	v *UniCraftVerifier
}

func newUniCraftScheme(keys [][]byte) (Scheme, error) {
	v, err := NewUniCraftVerifier(keys)
	if err != nil {
		return nil, err
	}
	return &uniCraftScheme{v: v}, nil
}

func (*uniCraftScheme) Name() string { return UniCraft }

func (s *uniCraftScheme) Verify(h http.Header, body []byte, _ time.Time) error {
	if !s.v.Verify(h.Get(UniCraftSignature), body) {
		return ErrBadSignature
	}
	return nil
}

func (s *uniCraftScheme) Sign(dst http.Header, m *Message, _ time.Time) {
	dst.Set(UniCraftSignature, hex.EncodeToString(s.v.keys.sign(m.Body)))
}

// Event reads the header, else the body's "id"; the type is the body's
// "event". The handler keeps its own UniCraft chain (ingress.DefaultEventID),
// which ends in the body's SHA-256.
func (*uniCraftScheme) Event(h http.Header, body map[string]any) (string, string) {
	id := h.Get(UniCraftEventID)
	if id == "" {
		id = bodyString(body, "id")
	}
	return id, bodyString(body, "event")
}

// decodeHex decodes the hex string src (either case) into dst, which must
// be exactly half as long, and reports whether src was valid hex. It works
// on the string directly because converting a header to []byte for
// hex.Decode would allocate on every request.
func decodeHex(dst []byte, src string) bool {
	if len(src) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := hexValue(src[2*i])
		lo, ok2 := hexValue(src[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

// hexValue returns the value of one hex digit.
func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
