package signature

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// slackVersion is the version prefix of Slack's signature and base string.
const slackVersion = "v0"

// slack is Slack's scheme: "v0=<hex HMAC-SHA256>" in X-Slack-Signature
// over "v0:{X-Slack-Request-Timestamp}:{body}".
type slack struct {
	keys *keyring
	tol  time.Duration
}

func newSlack(secrets [][]byte, tol time.Duration) (Scheme, error) {
	return &slack{keys: newKeyring(sha256.New, secrets), tol: tol}, nil
}

func (*slack) Name() string { return Slack }

var (
	slackBase = []byte(slackVersion + ":")
	colon     = []byte{':'}
)

func (s *slack) Verify(h http.Header, body []byte, now time.Time) error {
	ts := h.Get(SlackTimestamp)
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	sig, ok := strings.CutPrefix(strings.TrimSpace(h.Get(SlackSignature)), slackVersion+"=")
	var want [sha256.Size]byte
	if !ok || !decodeHex(want[:], sig) || !s.keys.match([][]byte{want[:]}, slackBase, []byte(ts), colon, body) {
		return ErrBadSignature
	}
	return checkTimestamp(time.Unix(unix, 0), now, s.tol)
}

func (s *slack) Sign(dst http.Header, m *Message, now time.Time) {
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := s.keys.sign(slackBase, []byte(ts), colon, m.Body)
	dst.Set(SlackTimestamp, ts)
	dst.Set(SlackSignature, slackVersion+"="+hex.EncodeToString(sig))
}

// Event reads the Events API's event_id, and the inner event's type
// (message, app_mention, …) before the envelope's (event_callback).
func (*slack) Event(_ http.Header, body map[string]any) (string, string) {
	typ := ""
	if inner, ok := body["event"].(map[string]any); ok {
		typ = bodyString(inner, "type")
	}
	if typ == "" {
		typ = bodyString(body, "type")
	}
	return bodyString(body, "event_id"), typ
}

// SlackChallenge returns the challenge of Slack's url_verification
// request, which the endpoint must echo (signed, like every Slack request).
func SlackChallenge(body map[string]any) (string, bool) {
	if bodyString(body, "type") != "url_verification" {
		return "", false
	}
	c, ok := body["challenge"].(string)
	return c, ok
}
