package signature

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// stripe is Stripe's scheme: "t=<unix>,v1=<hex>[,v1=…]" in
// Stripe-Signature, HMAC-SHA256 over "{t}.{body}" keyed with the whole
// secret string (whsec_… included); several v1 entries while a secret
// rolls.
type stripe struct {
	keys *keyring
	tol  time.Duration
}

func newStripe(secrets [][]byte, tol time.Duration) (Scheme, error) {
	return &stripe{keys: newKeyring(sha256.New, secrets), tol: tol}, nil
}

func (*stripe) Name() string { return Stripe }

func (s *stripe) Verify(h http.Header, body []byte, now time.Time) error {
	var (
		ts    string
		wants [][]byte
	)
	for _, pair := range strings.Split(h.Get(StripeSignature), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				wants = append(wants, b)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(wants) == 0 || !s.keys.match(wants, []byte(ts), dot, body) {
		return ErrBadSignature
	}
	return checkTimestamp(time.Unix(unix, 0), now, s.tol)
}

func (s *stripe) Sign(dst http.Header, m *Message, now time.Time) {
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := s.keys.sign([]byte(ts), dot, m.Body)
	dst.Set(StripeSignature, "t="+ts+",v1="+hex.EncodeToString(sig))
}

func (*stripe) Event(_ http.Header, body map[string]any) (string, string) {
	return bodyString(body, "id"), bodyString(body, "type")
}
