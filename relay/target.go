package relay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/relay/reencode"
	"github.com/webhookinbox/caddy-webhook-inbox/rules"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// Defaults applied to a TargetConfig field left at zero.
const (
	// DefaultTimeout is the per-attempt timeout.
	DefaultTimeout = 10 * time.Second
	// DefaultConcurrency is the number of workers per target.
	DefaultConcurrency = 8
	// DefaultMaxAttempts is the number of attempts per delivery run.
	DefaultMaxAttempts = 20
	// DefaultBackoffFirst is the backoff ceiling after the first failure.
	DefaultBackoffFirst = time.Second
	// DefaultBackoffCap is the largest backoff, and the cap on Retry-After.
	DefaultBackoffCap = time.Hour
	// DefaultMaxAge is how long after a run starts its delivery may go on.
	DefaultMaxAge = 72 * time.Hour
	// DefaultBreakerThreshold is the number of consecutive failures that
	// open a target's circuit.
	DefaultBreakerThreshold = 5
	// MaxConcurrency is the most workers a target may have.
	MaxConcurrency = 1024
)

// maxDialTimeout bounds connecting and the TLS handshake even when the
// attempt timeout is longer: a target that cannot be reached in this time
// is down, and the remaining budget is better spent on the next retry.
const maxDialTimeout = 10 * time.Second

// TargetConfig is one delivery target's settings; the Caddy app fills it
// from the Caddyfile. Zero fields take the Default* values.
type TargetConfig struct {
	// Name identifies the target; routes and queue entries refer to it.
	Name string
	// URL is the absolute http or https URL events are POSTed to.
	URL string
	// Secret, when set, signs each relayed body in the Sign scheme: by
	// default X-UniCraft-Signature (lowercase hex HMAC-SHA256) for UniCraft
	// events, so the target verifies it as it would verify UniCraft itself
	// (relay/sign.go).
	Secret []byte
	// Headers are sent with every delivery. They cannot replace the
	// delivery headers (Content-Type, X-UniCraft-*, X-Webhook-Attempt); a
	// Host header sets the request's host.
	Headers http.Header
	// Timeout bounds one attempt, from dialling to reading the response.
	Timeout time.Duration
	// Concurrency is the number of attempts the target gets at once.
	Concurrency int
	// MaxAttempts is how many attempts a delivery run gets before it goes
	// dead.
	MaxAttempts int
	// BackoffFirst is the backoff ceiling after the first failure; it
	// doubles with every further failure up to BackoffCap.
	BackoffFirst time.Duration
	// BackoffCap is the largest backoff ceiling, and also caps a target's
	// Retry-After and the circuit breaker's probe interval.
	BackoffCap time.Duration
	// MaxAge is how long after receipt (or replay) a delivery may still be
	// retried; a retry that would fall later goes dead instead.
	MaxAge time.Duration
	// BreakerThreshold is the number of consecutive retryable failures
	// that open the target's circuit.
	BreakerThreshold int
	// BodyEncoding is how the body is relayed, and so signed: reencode.Raw
	// (or empty) sends the bytes the sender signed; reencode.Node and
	// reencode.Python send them re-serialised as a receiver in that language
	// does before it verifies (see ReencodeBody).
	BodyEncoding string
	// Sign is the scheme deliveries are signed in with Secret: SignSource
	// (or empty), a scheme name (signature.Names), or SignNone.
	Sign string
	// SourceSchemes maps source names to their schemes, for SignSource; a
	// source missing from it is UniCraft.
	SourceSchemes map[string]signature.Spec
	// Transform, when set, is a CEL expression evaluated at each attempt
	// whose value is the body sent (see rules.Transform).
	Transform string
	// RateLimit, with RateWindow, paces attempts to the target: at most
	// RateLimit attempts start in any RateWindow-long interval (a sliding
	// window shared by the workers, probes and replays). Zero means no
	// limit; Concurrency still caps the attempts in flight.
	RateLimit int
	// RateWindow is the window of RateLimit.
	RateWindow time.Duration
}

// withDefaults fills zero fields with their defaults.
func (c TargetConfig) withDefaults() TargetConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	c.Concurrency = min(c.Concurrency, MaxConcurrency)
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.BackoffFirst <= 0 {
		c.BackoffFirst = DefaultBackoffFirst
	}
	if c.BackoffCap <= 0 {
		c.BackoffCap = max(DefaultBackoffCap, c.BackoffFirst)
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.BreakerThreshold <= 0 {
		c.BreakerThreshold = DefaultBreakerThreshold
	}
	return c
}

// Validate checks the settings the way SetTargets needs them; the Caddy app
// calls it while provisioning so a bad target fails the config load instead
// of being skipped at run time.
func (c TargetConfig) Validate() error {
	if c.Name == "" {
		return errors.New("target has no name")
	}
	if _, err := parseTargetURL(c.URL); err != nil {
		return fmt.Errorf("target %s: %w", c.Name, err)
	}
	switch {
	case c.Timeout < 0, c.BackoffFirst < 0, c.BackoffCap < 0, c.MaxAge < 0:
		return fmt.Errorf("target %s: durations must not be negative", c.Name)
	case c.Concurrency < 0 || c.Concurrency > MaxConcurrency:
		return fmt.Errorf("target %s: concurrency %d is outside 1..%d", c.Name, c.Concurrency, MaxConcurrency)
	case c.MaxAttempts < 0:
		return fmt.Errorf("target %s: max attempts must not be negative", c.Name)
	case c.BreakerThreshold < 0:
		return fmt.Errorf("target %s: breaker threshold must not be negative", c.Name)
	case !reencode.Valid(c.BodyEncoding):
		return fmt.Errorf("target %s: body encoding %q is not %s, %s or %s", c.Name, c.BodyEncoding, reencode.Raw, reencode.Node, reencode.Python)
	}
	if err := c.checkSign(); err != nil {
		return err
	}
	if err := validRate(c.RateLimit, c.RateWindow); err != nil {
		return fmt.Errorf("target %s: %w", c.Name, err)
	}
	if d := c.withDefaults(); d.BackoffFirst > d.BackoffCap {
		return fmt.Errorf("target %s: backoff %s is above its cap %s", c.Name, d.BackoffFirst, d.BackoffCap)
	}
	// An attempt checks every header it sends and dead-letters the event
	// when one is invalid, which a configured header must never cause.
	if err := checkHeader(c.Headers); err != nil {
		return fmt.Errorf("target %s: %w", c.Name, err)
	}
	return nil
}

func parseTargetURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, which may carry a token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("invalid url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("url has no host")
	}
	return u, nil
}

// settings is a target's configuration compiled for delivery. It is
// immutable once built; a reload builds a new one and swaps it in.
type settings struct {
	TargetConfig
	url       string
	host      string // from a Host header
	header    http.Header
	transport *http.Transport
	client    *http.Client
	// macs reuses keyed HMACs: Reset on a keyed hash is about half the
	// cost of hmac.New (~320 ns against ~570 ns for a 400-byte body,
	// BENCHMARKS.md).
	macs *sync.Pool
	// signers and transform: relay/sign.go.
	signers   signers
	transform *rules.Transform
}

// compile checks cfg and builds its settings, reusing prev's transport
// when nothing that shapes it changed, so a reload keeps the idle
// connections.
func compile(cfg TargetConfig, prev *settings) (*settings, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	u, _ := parseTargetURL(cfg.URL)
	s := &settings{TargetConfig: cfg, url: u.String(), header: make(http.Header, len(cfg.Headers))}
	for k, vs := range cfg.Headers {
		k = http.CanonicalHeaderKey(k)
		if k == "Host" {
			if len(vs) > 0 {
				s.host = vs[0]
			}
			continue
		}
		s.header[k] = append([]string(nil), vs...)
	}
	if len(cfg.Secret) > 0 {
		key := append([]byte(nil), cfg.Secret...)
		s.macs = &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
	}
	s.compileSigning(cfg)
	if prev != nil && prev.Timeout == cfg.Timeout && prev.Concurrency == cfg.Concurrency {
		s.transport, s.client = prev.transport, prev.client
		return s, nil
	}
	s.transport = newTransport(cfg)
	s.client = &http.Client{
		Transport: s.transport,
		// A redirect is a permanent failure: following it would POST the
		// event somewhere the operator never configured.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s, nil
}

// newTransport gives each target its own connection pool, big enough to
// keep one idle connection per worker: with fewer, a busy target opens and
// closes connections all the time (Caddy's reverse_proxy measured 20%
// more throughput with 128 idle connections than with its default 32,
// BENCHMARKS.md).
func newTransport(cfg TargetConfig) *http.Transport {
	dial := min(cfg.Timeout, maxDialTimeout)
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   dial,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSHandshakeTimeout:   dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2 * cfg.Concurrency,
		MaxIdleConnsPerHost:   cfg.Concurrency,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// sign returns the lowercase hex HMAC-SHA256 of body with the target's
// secret, or "" when the target has none.
func (s *settings) sign(body []byte) string {
	if s.macs == nil {
		return ""
	}
	mac := s.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(body)
	var sum [sha256.Size]byte
	sig := hex.EncodeToString(mac.Sum(sum[:0]))
	s.macs.Put(mac)
	return sig
}
