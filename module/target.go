package module

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/webhookinbox/caddy-webhook-inbox/relay"
	"github.com/webhookinbox/caddy-webhook-inbox/rules"
)

// Target is a named downstream endpoint that events are delivered to.
type Target struct {
	// URL is the http or https endpoint that receives a POST per event.
	URL string `json:"url"`

	// Secret re-signs relayed bodies in the Sign scheme (by default the
	// source's: X-UniCraft-Signature for UniCraft) so the app's existing
	// verification keeps working. Use a placeholder such as
	// {env.APP_WEBHOOK_SECRET} or {file./run/secrets/app}; it is resolved
	// once at load and never written to logs or admin output.
	Secret string `json:"secret,omitempty"`

	// Timeout bounds one delivery attempt. The default is 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// Concurrency is the number of deliveries in flight to this target at
	// once. The default is 8.
	Concurrency int `json:"concurrency,omitempty"`

	// Retry says how failed deliveries are retried before they are
	// dead-lettered.
	Retry *RetryPolicy `json:"retry,omitempty"`

	// Headers are extra request headers sent with every delivery.
	Headers http.Header `json:"headers,omitempty"`

	// BodyEncoding is how the event body is relayed and signed: "raw"
	// (the default) sends the bytes the sender signed; "node" sends
	// JSON.stringify(JSON.parse(body)) and "python" sends
	// json.dumps(json.loads(body)), for an app that verifies the
	// signature over its own re-serialisation of the parsed body, as
	// UniCraft's Express and Flask examples do. The app then sees
	// different bytes than the sender signed.
	BodyEncoding string `json:"body_encoding,omitempty"`

	// Sign is the scheme relayed bodies are signed in with Secret:
	// "source" (the default: the scheme of the handler that received the
	// event, so UniCraft events get X-UniCraft-Signature as before),
	// unicraft, standard, stripe, github, shopify, slack, or none.
	// Timestamped schemes are signed at each attempt.
	Sign string `json:"sign,omitempty"`

	// Transform is a CEL expression over the rule variables whose value (a
	// map or list, sent as JSON, or a string) replaces the body this target
	// gets; it is evaluated at each attempt and signed like any body. A
	// transform that fails dead-letters the delivery at once.
	Transform string `json:"transform,omitempty"`

	// RateLimit paces the attempts to this target: at most Attempts in
	// any Window-long interval (a sliding window shared by its workers,
	// circuit probes and replays; per gateway). Unset means no limit;
	// Concurrency still caps the attempts in flight.
	RateLimit *TargetRateLimit `json:"rate_limit,omitempty"`

	// OrderBy is a CEL expression over the rule variables (event,
	// headers, source_ip, source) that gives each event its order key
	// for this target, computed when the event is accepted: deliveries
	// with equal keys are attempted one at a time, in the order they were
	// received; a delivery waiting for a retry holds back the later ones
	// of its key until it is delivered or dead-lettered. Other keys are
	// not held back. An empty key, or an expression that fails on an
	// event, delivers that event unordered.
	OrderBy string `json:"order_by,omitempty"`

	secret   []byte
	orderKey *rules.OrderKeyExpr
}

// TargetRateLimit is a target's pace: Attempts per Window.
type TargetRateLimit struct {
	// Attempts is the most attempts that start in any Window-long
	// interval.
	Attempts int `json:"attempts"`

	// Window is the length of the sliding window.
	Window caddy.Duration `json:"window"`
}

// RetryPolicy says how often and for how long a delivery is retried.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts before an event is
	// dead-lettered. The default is 20.
	MaxAttempts int `json:"max_attempts,omitempty"`

	// BackoffFirst is the first retry delay; delays grow exponentially
	// with full jitter. The default is 1s.
	BackoffFirst caddy.Duration `json:"backoff_first,omitempty"`

	// BackoffCap is the largest retry delay, also the cap on a honoured
	// Retry-After. The default is 1h.
	BackoffCap caddy.Duration `json:"backoff_cap,omitempty"`

	// MaxAge is how long after receipt an event is retried before it is
	// dead-lettered. The default is 72h.
	MaxAge caddy.Duration `json:"max_age,omitempty"`
}

// provision validates the target and resolves its secret.
func (t *Target) provision(name string, repl *caddy.Replacer) error {
	if t == nil {
		return fmt.Errorf("target %s: empty definition", name)
	}
	if err := validateName(name); err != nil {
		return fmt.Errorf("target %w", err)
	}
	if t.Secret != "" {
		secret, err := repl.ReplaceOrErr(t.Secret, true, true)
		if err != nil {
			return fmt.Errorf("target %s: secret: %w", name, err)
		}
		t.secret = []byte(secret)
	}
	if t.Timeout == 0 {
		t.Timeout = caddy.Duration(relay.DefaultTimeout)
	}
	if t.Timeout < 0 {
		return fmt.Errorf("target %s: timeout must be positive", name)
	}
	if t.Concurrency == 0 {
		t.Concurrency = relay.DefaultConcurrency
	}
	if t.Concurrency < 0 || t.Concurrency > relay.MaxConcurrency {
		return fmt.Errorf("target %s: concurrency must be between 1 and %d, got %d", name, relay.MaxConcurrency, t.Concurrency)
	}
	if t.Retry == nil {
		t.Retry = new(RetryPolicy)
	}
	if err := t.Retry.provision(name); err != nil {
		return err
	}
	if t.OrderBy != "" {
		expr, err := rules.CompileOrderKey(t.OrderBy)
		if err != nil {
			return fmt.Errorf("target %s: order_by: %w", name, err)
		}
		t.orderKey = expr
	}
	if rl := t.RateLimit; rl != nil && (rl.Attempts < 1 || rl.Window <= 0) {
		return fmt.Errorf("target %s: rate_limit needs a positive number of attempts and window, got %d per %s",
			name, rl.Attempts, time.Duration(rl.Window))
	}
	return t.config(name).Validate()
}

func (r *RetryPolicy) provision(name string) error {
	if r.MaxAttempts == 0 {
		r.MaxAttempts = relay.DefaultMaxAttempts
	}
	if r.BackoffFirst == 0 {
		r.BackoffFirst = caddy.Duration(relay.DefaultBackoffFirst)
	}
	if r.BackoffCap == 0 {
		r.BackoffCap = caddy.Duration(relay.DefaultBackoffCap)
	}
	if r.MaxAge == 0 {
		r.MaxAge = caddy.Duration(relay.DefaultMaxAge)
	}
	switch {
	case r.MaxAttempts < 1:
		return fmt.Errorf("target %s: retry max_attempts must be at least 1, got %d", name, r.MaxAttempts)
	case r.BackoffFirst < 0 || r.BackoffCap < 0 || r.MaxAge < 0:
		return fmt.Errorf("target %s: retry durations must be positive", name)
	case r.BackoffCap < r.BackoffFirst:
		return fmt.Errorf("target %s: retry backoff cap %s is below the first delay %s",
			name, time.Duration(r.BackoffCap), time.Duration(r.BackoffFirst))
	}
	return nil
}

// validateName checks a target or source name: it becomes a metric label
// and a key prefix, so it stays short and plain.
func validateName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("name %q must be 1 to 64 characters", name)
	}
	for _, c := range name {
		ok := c == '-' || c == '_' || c == '.' ||
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok {
			return fmt.Errorf("name %q may contain only letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

// config returns the dispatcher's view of the target.
func (t *Target) config(name string) relay.TargetConfig {
	cfg := relay.TargetConfig{
		Name:         name,
		URL:          t.URL,
		Secret:       t.secret,
		Headers:      t.Headers,
		Timeout:      time.Duration(t.Timeout),
		Concurrency:  t.Concurrency,
		MaxAttempts:  t.Retry.MaxAttempts,
		BackoffFirst: time.Duration(t.Retry.BackoffFirst),
		BackoffCap:   time.Duration(t.Retry.BackoffCap),
		MaxAge:       time.Duration(t.Retry.MaxAge),
		BodyEncoding: t.BodyEncoding,
		Sign:         t.Sign,
		Transform:    t.Transform,
	}
	if t.RateLimit != nil {
		cfg.RateLimit, cfg.RateWindow = t.RateLimit.Attempts, time.Duration(t.RateLimit.Window)
	}
	return cfg
}

// targetConfigs returns the delivery settings of every target, in name
// order, for the dispatcher.
func (a *App) targetConfigs() []relay.TargetConfig {
	names := make([]string, 0, len(a.Targets))
	for name := range a.Targets {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make([]relay.TargetConfig, 0, len(names))
	schemes := a.sourceSchemeMap()
	for _, name := range names {
		c := a.Targets[name].config(name)
		c.SourceSchemes = schemes
		out = append(out, c)
	}
	return out
}
