package signature

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Scheme names, as `verify` and a target's `sign` take them.
const (
	UniCraft = "unicraft"
	Standard = "standard"
	Stripe   = "stripe"
	GitHub   = "github"
	Shopify  = "shopify"
	Slack    = "slack"
	HMAC     = "hmac"
)

// Names lists the preset schemes, the ones that need no settings; HMAC
// needs HMACOptions.
var Names = []string{UniCraft, Standard, Stripe, GitHub, Shopify, Slack}

// Timestamped reports whether the named scheme signs a timestamp, which
// Verify holds to the tolerance.
func Timestamped(name string) bool {
	return name == Standard || name == Stripe || name == Slack
}

// DefaultTolerance is how far a signed timestamp may be from now, either
// way, when no tolerance is configured: five minutes, what Stripe, Slack
// and Standard Webhooks recommend.
const DefaultTolerance = 5 * time.Minute

// ErrBadSignature is a missing, malformed or wrong signature. Callers
// answer it with one generic message, whichever of those it was.
var ErrBadSignature = errors.New("invalid signature")

// StaleError is a validly signed request whose signed timestamp lies
// outside the tolerance: a replay of a captured request, or a clock far
// off. Its message is safe to show the sender.
type StaleError struct {
	// Timestamp is the signed time.
	Timestamp time.Time
	// Skew is now minus Timestamp: positive when the request is old.
	Skew time.Duration
	// Tolerance is the allowed distance.
	Tolerance time.Duration
}

func (e *StaleError) Error() string {
	if e.Skew < 0 {
		return fmt.Sprintf("signed timestamp is %s in the future, outside the %s tolerance", (-e.Skew).Round(time.Second), e.Tolerance)
	}
	return fmt.Sprintf("signed timestamp is %s old, outside the %s tolerance", e.Skew.Round(time.Second), e.Tolerance)
}

// Message is what a Scheme signs on delivery: the body and what the
// sender's headers are rebuilt from.
type Message struct {
	// ID is the event's ID as its source's scheme read it.
	ID string
	// Type is the event's type, already a valid header value.
	Type string
	// Body is the exact bytes sent.
	Body []byte
	// Headers are the sender's headers kept with the event (canonical
	// name to value); a scheme passes on those its receivers read.
	Headers map[string]string
}

// Scheme is one sender's way of signing webhooks, with its keys: it
// verifies incoming requests against every key (rotation) and signs
// outgoing ones with the first. A Scheme is safe for concurrent use.
type Scheme interface {
	// Name is the scheme's name, one of the constants above.
	Name() string
	// Verify checks the request's signature. It returns nil,
	// ErrBadSignature, or a *StaleError for a valid signature whose signed
	// timestamp is more than the tolerance away from now. Signatures are
	// compared in constant time and every key is tried.
	Verify(h http.Header, body []byte, now time.Time) error
	// Sign sets on dst the headers the scheme's sender sends with body:
	// its signature, made at now for a timestamped scheme, and the
	// sender's own headers its receivers read.
	Sign(dst http.Header, m *Message, now time.Time)
	// Event reads the event ID and type where the scheme's sender puts
	// them, from the headers or the decoded top-level body object; either
	// may be empty.
	Event(h http.Header, body map[string]any) (id, typ string)
}

// Options are a scheme's settings besides its secrets.
type Options struct {
	// Tolerance is how far a signed timestamp may be from now, either
	// way. Zero means DefaultTolerance.
	Tolerance time.Duration
	// HMAC configures the hmac scheme; other schemes ignore it.
	HMAC HMACOptions
}

// New returns the named scheme keyed with secrets, each read as the
// scheme reads secrets (base64 after "whsec_" for Standard Webhooks, the
// string's bytes for the others). It fails on an unknown name, no
// secret, an empty secret or one the scheme cannot decode; the error
// never quotes a secret.
func New(name string, secrets []string, opts Options) (Scheme, error) {
	if len(secrets) == 0 {
		return nil, errors.New("no signature secrets configured")
	}
	tol := opts.Tolerance
	if tol == 0 {
		tol = DefaultTolerance
	}
	if tol < 0 {
		return nil, fmt.Errorf("tolerance must be positive, got %s", tol)
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		if s == "" {
			return nil, fmt.Errorf("signature secret %d of %d is empty", i+1, len(secrets))
		}
		keys[i] = []byte(s)
	}
	switch name {
	case UniCraft, "":
		return newUniCraftScheme(keys)
	case Standard:
		return newStandard(keys, tol)
	case Stripe:
		return newStripe(keys, tol)
	case GitHub:
		return newGitHub(keys)
	case Shopify:
		return newShopify(keys)
	case Slack:
		return newSlack(keys, tol)
	case HMAC:
		return newHMAC(keys, opts.HMAC)
	}
	return nil, fmt.Errorf("unknown signature scheme %q", name)
}

// checkTimestamp returns a *StaleError when ts is more than tol from now.
func checkTimestamp(ts, now time.Time, tol time.Duration) error {
	skew := now.Sub(ts)
	if skew > tol || -skew > tol {
		return &StaleError{Timestamp: ts, Skew: skew, Tolerance: tol}
	}
	return nil
}

// bodyString returns the top-level string field name of body, or "".
func bodyString(body map[string]any, name string) string {
	s, _ := body[name].(string)
	return s
}

// headerOr returns the kept sender header name, else fallback.
func headerOr(m *Message, name, fallback string) string {
	if v := m.Headers[name]; v != "" {
		return v
	}
	return fallback
}

// Spec names a scheme with its settings but no secrets, so the relay can
// build it again with a target's secret to sign in a source's scheme.
type Spec struct {
	// Name is the scheme's name.
	Name string `json:"name"`
	// HMAC holds the hmac scheme's settings.
	HMAC HMACOptions `json:"hmac,omitzero"`
}

// New returns the scheme of the spec keyed with secrets; see New.
func (s Spec) New(secrets []string, tolerance time.Duration) (Scheme, error) {
	return New(s.Name, secrets, Options{Tolerance: tolerance, HMAC: s.HMAC})
}

// SignatureHeaders are the headers every scheme puts its signature in (an
// hmac scheme's own header aside): a delivery signed in one scheme drops
// the others, so a relayed request never carries a stale signature.
var SignatureHeaders = []string{UniCraftSignature, StandardSignature, StripeSignature, GitHubSignature256, ShopifyHMAC, SlackSignature}

// setNonEmpty sets a header unless its value is empty.
func setNonEmpty(dst http.Header, name, value string) {
	if value != "" {
		dst.Set(name, value)
	}
}
