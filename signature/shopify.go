package signature

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// shopify is Shopify's scheme: the base64 HMAC-SHA256 of the body in
// X-Shopify-Hmac-Sha256; no signed timestamp.
type shopify struct {
	keys *keyring
}

func newShopify(secrets [][]byte) (Scheme, error) {
	return &shopify{keys: newKeyring(sha256.New, secrets)}, nil
}

func (*shopify) Name() string { return Shopify }

func (s *shopify) Verify(h http.Header, body []byte, _ time.Time) error {
	want, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h.Get(ShopifyHMAC)))
	if err != nil || len(want) != sha256.Size || !s.keys.match1(want, body) {
		return ErrBadSignature
	}
	return nil
}

// shopifyPassed are the sender headers an app reads, passed on as kept.
var shopifyPassed = []string{ShopifyShopDomain, ShopifyEventID, ShopifyAPIVersion}

func (s *shopify) Sign(dst http.Header, m *Message, _ time.Time) {
	dst.Set(ShopifyHMAC, base64.StdEncoding.EncodeToString(s.keys.sign(m.Body)))
	setNonEmpty(dst, ShopifyTopic, headerOr(m, ShopifyTopic, m.Type))
	setNonEmpty(dst, ShopifyWebhookID, headerOr(m, ShopifyWebhookID, m.ID))
	for _, name := range shopifyPassed {
		if v := m.Headers[name]; v != "" {
			dst.Set(name, v)
		}
	}
}

func (*shopify) Event(h http.Header, _ map[string]any) (string, string) {
	id := h.Get(ShopifyEventID)
	if id == "" {
		id = h.Get(ShopifyWebhookID)
	}
	return id, h.Get(ShopifyTopic)
}
