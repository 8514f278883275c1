package signature

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// gitHubPrefix starts X-Hub-Signature-256.
const gitHubPrefix = "sha256="

// gitHub is GitHub's scheme: "sha256=<hex HMAC-SHA256 of the body>" in
// X-Hub-Signature-256; no signed timestamp, so replays are stopped by
// deduplication on X-GitHub-Delivery only.
type gitHub struct {
	keys *keyring
}

func newGitHub(secrets [][]byte) (Scheme, error) {
	return &gitHub{keys: newKeyring(sha256.New, secrets)}, nil
}

func (*gitHub) Name() string { return GitHub }

func (s *gitHub) Verify(h http.Header, body []byte, _ time.Time) error {
	v := strings.TrimSpace(h.Get(GitHubSignature256))
	if len(v) < len(gitHubPrefix) || !strings.EqualFold(v[:len(gitHubPrefix)], gitHubPrefix) {
		return ErrBadSignature
	}
	var want [sha256.Size]byte
	if !decodeHex(want[:], v[len(gitHubPrefix):]) || !s.keys.match1(want[:], body) {
		return ErrBadSignature
	}
	return nil
}

func (s *gitHub) Sign(dst http.Header, m *Message, _ time.Time) {
	dst.Set(GitHubSignature256, gitHubPrefix+hex.EncodeToString(s.keys.sign(m.Body)))
	setNonEmpty(dst, GitHubEvent, headerOr(m, GitHubEvent, m.Type))
	setNonEmpty(dst, GitHubDelivery, headerOr(m, GitHubDelivery, m.ID))
	if v := m.Headers[GitHubHookID]; v != "" {
		dst.Set(GitHubHookID, v)
	}
}

func (*gitHub) Event(h http.Header, _ map[string]any) (string, string) {
	return h.Get(GitHubDelivery), h.Get(GitHubEvent)
}
