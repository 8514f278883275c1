package ingress

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"

	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// SignatureHeader carries the sender's HMAC of the raw body.
const SignatureHeader = signature.UniCraftSignature

// signaturePrefix is the optional scheme prefix some senders put before the
// hex digest, matched case-insensitively.
const signaturePrefix = "sha256="

// signatureHexLen is the length of a hex-encoded HMAC-SHA256.
const signatureHexLen = 2 * sha256.Size

// Verifier checks X-UniCraft-Signature headers against one or more secrets, so
// a secret can be rotated by configuring the new and the old one together.
// A Verifier is safe for concurrent use.
type Verifier struct {
	keys []verifierKey
}

// verifierKey pools keyed HMAC states for one secret: hmac.New does several
// allocations and hashes the key, and Reset brings a used state back to the
// keyed starting point for free.
type verifierKey struct {
	pool *sync.Pool // of *macState
}

// macState is a pooled HMAC with its own output buffer, so Sum does not
// allocate on every call.
type macState struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

// NewVerifier returns a Verifier that accepts a signature made with any of
// secrets. It copies the secrets and returns an error if there are none or one
// is empty, because an empty HMAC key would let anyone sign.
func NewVerifier(secrets [][]byte) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, errors.New("no signature secrets configured")
	}
	v := &Verifier{keys: make([]verifierKey, len(secrets))}
	for i, s := range secrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("signature secret %d of %d is empty", i+1, len(secrets))
		}
		key := append([]byte(nil), s...)
		v.keys[i] = verifierKey{pool: &sync.Pool{New: func() any {
			return &macState{mac: hmac.New(sha256.New, key)}
		}}}
	}
	return v, nil
}

// Verify reports whether header is a valid signature of body under any of the
// Verifier's secrets. A valid header is the hex HMAC-SHA256 of the raw body
// (lowercase or uppercase), optionally prefixed once by "sha256=" in any case,
// with surrounding whitespace ignored. Anything else — missing, empty, not
// exactly 64 hex digits, a doubled prefix — is false. The digest is compared
// in constant time and every secret is always checked, so timing reveals
// neither how much of a guess was right nor which secret matched.
func (v *Verifier) Verify(header string, body []byte) bool {
	header = strings.TrimSpace(header)
	if len(header) >= len(signaturePrefix) && strings.EqualFold(header[:len(signaturePrefix)], signaturePrefix) {
		header = header[len(signaturePrefix):]
	}
	// The length is public (it is the sender's header), so rejecting early on
	// it leaks nothing and keeps oversized headers cheap.
	if len(header) != signatureHexLen {
		return false
	}
	var want [sha256.Size]byte
	if !decodeHex(want[:], header) {
		return false
	}

	match := false
	for i := range v.keys {
		st := v.keys[i].pool.Get().(*macState)
		st.mac.Reset()
		st.mac.Write(body)
		if hmac.Equal(st.mac.Sum(st.sum[:0]), want[:]) {
			match = true
		}
		v.keys[i].pool.Put(st)
	}
	return match
}

// Sign returns the lowercase hex HMAC-SHA256 of body under secret: the value
// senders put in X-UniCraft-Signature and the relay puts on re-signed
// deliveries.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	var sum [sha256.Size]byte
	return hex.EncodeToString(mac.Sum(sum[:0]))
}

// decodeHex decodes the hex string src (either case) into dst, which must be
// exactly half as long, and reports whether src was valid hex. It works on the
// string directly because converting a 64-byte header to []byte for
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
