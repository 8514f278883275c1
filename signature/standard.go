package signature

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// standardSecretPrefix starts a Standard Webhooks secret; the rest is the
// base64 of the key.
const standardSecretPrefix = "whsec_"

// standard is Standard Webhooks (standardwebhooks.com), which Svix, Clerk,
// Resend, OpenAI and others send: "v1,<base64 HMAC-SHA256>" entries,
// space-separated, over "{webhook-id}.{webhook-timestamp}.{body}".
type standard struct {
	keys *keyring
	tol  time.Duration
}

func newStandard(secrets [][]byte, tol time.Duration) (Scheme, error) {
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := DecodeStandardSecret(string(s))
		if err != nil {
			return nil, fmt.Errorf("signature secret %d of %d: %w", i+1, len(secrets), err)
		}
		keys[i] = k
	}
	return &standard{keys: newKeyring(sha256.New, keys), tol: tol}, nil
}

// DecodeStandardSecret returns the key of a Standard Webhooks secret:
// the base64 after an optional "whsec_", as the spec's libraries read it.
func DecodeStandardSecret(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, standardSecretPrefix))
	if err != nil || len(k) == 0 {
		return nil, fmt.Errorf("a Standard Webhooks secret is %s followed by base64", standardSecretPrefix)
	}
	return k, nil
}

func (*standard) Name() string { return Standard }

func (s *standard) Verify(h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get(StandardID), h.Get(StandardTimestamp), h.Get(StandardSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrBadSignature
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	var wants [][]byte
	for _, entry := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(sig); err == nil && len(b) == sha256.Size {
			wants = append(wants, b)
		}
	}
	// The libraries sign the timestamp as they parsed it.
	tsText := strconv.FormatInt(unix, 10)
	if len(wants) == 0 || !s.keys.match(wants, []byte(id), dot, []byte(tsText), dot, body) {
		return ErrBadSignature
	}
	return checkTimestamp(time.Unix(unix, 0), now, s.tol)
}

var dot = []byte{'.'}

// Sign keeps the sender's webhook-id, so it is the same across retries
// and the app's own deduplication still works.
func (s *standard) Sign(dst http.Header, m *Message, now time.Time) {
	id := headerOr(m, StandardID, m.ID)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := s.keys.sign([]byte(id), dot, []byte(ts), dot, m.Body)
	dst.Set(StandardID, id)
	dst.Set(StandardTimestamp, ts)
	dst.Set(StandardSignature, "v1,"+base64.StdEncoding.EncodeToString(sig))
}

func (*standard) Event(h http.Header, body map[string]any) (string, string) {
	return h.Get(StandardID), bodyString(body, "type")
}
