package signature

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"time"
)

// HMACOptions configure the hmac scheme, for a sender that signs the raw
// body with a keyed hash and puts it in one header.
type HMACOptions struct {
	// Header names the signature header. Required.
	Header string `json:"header,omitempty"`
	// Algorithm is sha1, sha256 (the default) or sha512.
	Algorithm string `json:"algorithm,omitempty"`
	// Encoding is hex (the default; either case accepted) or base64.
	Encoding string `json:"encoding,omitempty"`
	// Prefix, when set, is stripped (in any case) from the header before
	// the digest is decoded, and written before it when signing.
	Prefix string `json:"prefix,omitempty"`
}

// Algorithms and encodings of the hmac scheme.
var (
	hmacAlgorithms = map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}
	hmacEncodings  = []string{"hex", "base64"}
)

// Check reports a missing header or an unknown algorithm or encoding.
func (o HMACOptions) Check() error {
	if o.Header == "" {
		return errors.New("hmac needs a header")
	}
	if _, ok := hmacAlgorithms[o.algorithm()]; !ok {
		return fmt.Errorf("hmac algorithm %q is not sha1, sha256 or sha512", o.Algorithm)
	}
	if e := o.encoding(); e != "hex" && e != "base64" {
		return fmt.Errorf("hmac encoding %q is not %s", o.Encoding, strings.Join(hmacEncodings, " or "))
	}
	return nil
}

func (o HMACOptions) algorithm() string {
	if o.Algorithm == "" {
		return "sha256"
	}
	return strings.ToLower(o.Algorithm)
}

func (o HMACOptions) encoding() string {
	if o.Encoding == "" {
		return "hex"
	}
	return strings.ToLower(o.Encoding)
}

// customHMAC is the configurable hmac scheme; no event ID or type header,
// no signed timestamp.
type customHMAC struct {
	opts HMACOptions
	keys *keyring
}

func newHMAC(secrets [][]byte, opts HMACOptions) (Scheme, error) {
	if err := opts.Check(); err != nil {
		return nil, err
	}
	opts.Header = http.CanonicalHeaderKey(opts.Header)
	opts.Algorithm, opts.Encoding = opts.algorithm(), opts.encoding()
	return &customHMAC{opts: opts, keys: newKeyring(hmacAlgorithms[opts.Algorithm], secrets)}, nil
}

func (*customHMAC) Name() string { return HMAC }

func (s *customHMAC) Verify(h http.Header, body []byte, _ time.Time) error {
	v := strings.TrimSpace(h.Get(s.opts.Header))
	if p := s.opts.Prefix; p != "" && len(v) >= len(p) && strings.EqualFold(v[:len(p)], p) {
		v = v[len(p):]
	}
	var (
		want []byte
		err  error
	)
	if s.opts.Encoding == "hex" {
		want, err = hex.DecodeString(v)
	} else {
		want, err = base64.StdEncoding.DecodeString(v)
	}
	if err != nil || len(want) != s.keys.size || !s.keys.match1(want, body) {
		return ErrBadSignature
	}
	return nil
}

func (s *customHMAC) Sign(dst http.Header, m *Message, _ time.Time) {
	sum := s.keys.sign(m.Body)
	var enc string
	if s.opts.Encoding == "hex" {
		enc = hex.EncodeToString(sum)
	} else {
		enc = base64.StdEncoding.EncodeToString(sum)
	}
	dst.Set(s.opts.Header, s.opts.Prefix+enc)
}

func (*customHMAC) Event(_ http.Header, body map[string]any) (string, string) {
	return bodyString(body, "id"), ""
}

// Header returns the scheme's signature header name, for the handler's
// keep-list check.
func (s *customHMAC) Header() string { return s.opts.Header }
