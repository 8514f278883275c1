package module

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/ingress"
	"github.com/webhookinbox/caddy-webhook-inbox/rules"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults of the handler's settings.
const (
	DefaultMaxBody = 1 << 20
	DefaultSource  = "webhook"
	// signatureHeader carries the sender's HMAC of the raw body.
	signatureHeader = signature.UniCraftSignature
	// eventIDHeader is the sender's event ID header, first in the default ID chain.
	eventIDHeader = signature.UniCraftEventID
	// storeRetryAfter is the Retry-After, in seconds, of a 503.
	storeRetryAfter = "5"
)

// Handler is the webhook_inbox HTTP handler: it checks who is calling,
// verifies the signature, parses and routes the event and stores it
// durably before it answers 202. It never passes a request on.
type Handler struct {
	// Source names this inbox (e.g. "unicraft"). It is visible to rules as
	// `source`, labels metrics, and scopes event-ID deduplication.
	Source string `json:"source,omitempty"`

	// Secrets are the secrets a signature may be made with, read as the
	// Verify scheme reads them (whsec_ and base64 for standard, the
	// string's bytes for the others); more than one allows rotation. Use placeholders such as
	// {env.UNICRAFT_WEBHOOK_SECRET}; they are resolved once at load.
	Secrets []string `json:"secrets,omitempty"`

	// AllowIPs are the client IPs or CIDR ranges allowed to post. Empty
	// allows every client. Caddy's client IP is used, so trusted_proxies
	// decides whether X-Forwarded-For is believed.
	AllowIPs []string `json:"allow_ips,omitempty"`

	// MaxBody is the largest accepted body in bytes. The default is 1 MiB.
	MaxBody int64 `json:"max_body,omitempty"`

	// MaxAge rejects UniCraft payloads whose "timestamp" is older than this. The
	// default is the app's dedup_window, and it may not exceed it, so a
	// replayed event is either a detected duplicate or too old.
	MaxAge caddy.Duration `json:"max_age,omitempty"`

	// RateLimit limits events per client IP.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`

	// ID is a CEL expression yielding the event ID. The default is the
	// X-UniCraft-Event-Id header, else the body's string "id", else the
	// hex SHA-256 of the raw body.
	ID string `json:"id,omitempty"`

	// Routes are CEL rules with the targets of matching events. Every
	// matching route delivers to its targets (each target once).
	Routes []RouteConfig `json:"routes,omitempty"`

	// Default are the targets of events that match no route. With no match
	// and no default, the event is stored as unrouted.
	Default []string `json:"default,omitempty"`

	// KeepHeaders names request headers to store with each event, and so
	// to show in the admin API, the console and the CLI, on top of the
	// built-in allow-list (content type, user agent, request ID, trace
	// context and each sender scheme's event headers). Every other header
	// is dropped. Names are case-insensitive; at most 32 may be given, and a
	// signature or credential header (such as Authorization or
	// X-Hub-Signature-256) is refused.
	KeepHeaders []string `json:"keep_headers,omitempty"`

	// Verify names the sender's signature scheme: unicraft (the default),
	// standard, stripe, github, shopify, slack or hmac (with VerifyHMAC).
	// It also decides where the event ID, the event type and a signed
	// timestamp are read (README, "Senders").
	Verify string `json:"verify,omitempty"`

	// VerifyHMAC configures verify hmac: the header, algorithm, encoding
	// and prefix of a sender that signs the raw body.
	VerifyHMAC *signature.HMACOptions `json:"verify_hmac,omitempty"`

	// Tolerance is how far a signed timestamp (Standard Webhooks, Stripe,
	// Slack) may be from the inbox's clock. The default is 5m.
	Tolerance caddy.Duration `json:"tolerance,omitempty"`

	app       *App
	scheme    signature.Scheme // nil for UniCraft, which uses verifier
	tolerance time.Duration
	verifier  *signature.UniCraftVerifier
	allow     []netip.Prefix
	limiter   *ingress.RateLimiter
	keeper    *ingress.HeaderKeeper
	idExpr    *rules.IDExpr
	router    *rules.Router
	// evaluates is set when a route rule or the ID expression runs on
	// each event; only then is the body decoded into a map and the
	// headers gathered for CEL.
	evaluates bool
	maxAge    time.Duration
	logger    *zap.Logger
	received  outcomeCounters
	// ruleErrLogged remembers rules whose runtime error was logged, so a
	// rule failing on many events is logged once, not per event.
	ruleErrLogged *sync.Map
	// facts, set by the Caddyfile adapter, are what the directive is
	// checked against while parsing (caddyfile_checks.go).
	facts *globalFacts
}

// RateLimit allows Events per Window per client IP (token bucket).
type RateLimit struct {
	// Events is the number of events allowed per window, also the burst.
	Events int `json:"events"`
	// Window is the refill period of Events tokens.
	Window caddy.Duration `json:"window"`
}

// RouteConfig is one routing rule.
type RouteConfig struct {
	// Rule is a CEL expression over event, headers, source_ip and source
	// that must evaluate to a bool.
	Rule string `json:"rule"`
	// Targets are the names of the app's targets that receive matching events.
	Targets []string `json:"targets"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.webhook_inbox",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision resolves secrets, compiles rules and checks that every routed
// target exists. Its errors name the source, since a config may hold many
// webhook_inbox handlers.
func (h *Handler) Provision(ctx caddy.Context) error {
	if err := h.provision(ctx); err != nil {
		return fmt.Errorf("webhook_inbox %s: %w", cmp.Or(h.Source, DefaultSource), err)
	}
	return nil
}

func (h *Handler) provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.ruleErrLogged = new(sync.Map)
	if h.Source == "" {
		h.Source = DefaultSource
	}
	if err := validateName(h.Source); err != nil {
		return fmt.Errorf("source %w", err)
	}
	h.received = sourceCounters(h.Source)
	appIface, err := ctx.App("webhook_inbox")
	if err != nil {
		return fmt.Errorf("loading webhook_inbox app: %w", err)
	}
	h.app = appIface.(*App)

	if len(h.Secrets) == 0 {
		return errors.New("at least one secret is required")
	}
	repl := caddy.NewReplacer()
	secrets := make([][]byte, 0, len(h.Secrets))
	for i, s := range h.Secrets {
		v, err := repl.ReplaceOrErr(s, true, true)
		if err != nil {
			return fmt.Errorf("secret %d: %w", i+1, err)
		}
		secrets = append(secrets, []byte(v))
	}
	if err := h.provisionScheme(secrets); err != nil {
		return err
	}

	for _, s := range h.AllowIPs {
		p, err := parsePrefix(s)
		if err != nil {
			return err
		}
		h.allow = append(h.allow, p)
	}

	if h.MaxBody == 0 {
		h.MaxBody = DefaultMaxBody
	}
	if h.MaxBody < 0 {
		return fmt.Errorf("max_body must be positive, got %d", h.MaxBody)
	}

	h.maxAge = time.Duration(h.MaxAge)
	dedup := time.Duration(h.app.DedupWindow)
	if h.maxAge == 0 {
		h.maxAge = dedup
	}
	if h.maxAge < 0 || h.maxAge > dedup {
		return fmt.Errorf("max_age %s must be positive and at most dedup_window %s, or a replayed event older than the dedup window would be accepted again", h.maxAge, dedup)
	}

	if rl := h.RateLimit; rl != nil {
		if rl.Events < 1 || rl.Window <= 0 {
			return fmt.Errorf("rate_limit needs a positive event count and window, got %d per %s", rl.Events, time.Duration(rl.Window))
		}
		h.limiter = ingress.NewRateLimiter(rl.Events, time.Duration(rl.Window), ingress.DefaultRateLimitKeys)
	}

	if h.keeper, err = ingress.NewHeaderKeeper(h.KeepHeaders); err != nil {
		return err
	}

	if h.ID != "" {
		if h.idExpr, err = rules.CompileID(h.ID); err != nil {
			return fmt.Errorf("id: %w", err)
		}
	}
	h.router = &rules.Router{}
	for _, rc := range h.Routes {
		rule, err := rules.CompileRule(rc.Rule)
		if err != nil {
			return fmt.Errorf("route: %w", err)
		}
		if len(rc.Targets) == 0 {
			return fmt.Errorf("route %q: no targets", rc.Rule)
		}
		if err := h.checkTargets(rc.Targets); err != nil {
			return fmt.Errorf("route %q: %w", rc.Rule, err)
		}
		h.router.Routes = append(h.router.Routes, rules.Route{Rule: rule, Targets: rc.Targets})
	}
	if err := h.checkTargets(h.Default); err != nil {
		return fmt.Errorf("default: %w", err)
	}
	h.router.Default = h.Default
	if err := h.checkSignSource(h.app.sourceSchemeMap()[h.Source]); err != nil {
		return err
	}
	h.evaluates = h.idExpr != nil || len(h.router.Routes) > 0 || h.app.ordersAny()
	return nil
}

func (h *Handler) checkTargets(names []string) error {
	for _, n := range names {
		if _, ok := h.app.Targets[n]; !ok {
			return fmt.Errorf("unknown target %q (define it in the global webhook_inbox block)", n)
		}
	}
	return nil
}

// parsePrefix accepts a CIDR range or a single IP.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("allow_ips: invalid CIDR %q: %w", s, err)
		}
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("allow_ips: invalid IP %q: %w", s, err)
	}
	ip = ip.Unmap()
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// ServeHTTP runs the checks in order, each before any further work, and
// answers 2xx only once the event is durably stored.
//
// It writes its answers itself rather than returning caddyhttp.Error, so
// senders always get the small JSON bodies the contract promises.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	start := time.Now()
	clientIP, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return h.reject(w, http.StatusMethodNotAllowed, "method not allowed", "method", clientIP)
	}
	if len(h.allow) > 0 && !h.allowed(clientIP) {
		return h.reject(w, http.StatusForbidden, "forbidden", "ip_not_allowed", clientIP)
	}
	if h.limiter != nil {
		if ok, wait := h.limiter.Allow(clientIP, start); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
			return h.reject(w, http.StatusTooManyRequests, "rate limited", "rate_limited", clientIP)
		}
	}
	body, err := ingress.ReadBody(r.Body, r.ContentLength, h.MaxBody)
	if err != nil {
		var maxBytes *http.MaxBytesError
		if errors.Is(err, ingress.ErrBodyTooLarge) || errors.As(err, &maxBytes) {
			// the rest of the body is not read; close the connection
			// rather than drain an arbitrarily large upload
			w.Header().Set("Connection", "close")
			return h.reject(w, http.StatusRequestEntityTooLarge, "body too large", "body_too_large", clientIP)
		}
		return h.reject(w, http.StatusBadRequest, "could not read body", "read_error", clientIP)
	}
	var payload *ingress.Payload
	if h.scheme != nil {
		if answered, err := h.checkScheme(w, r, body, start, clientIP); answered {
			return err
		}
		payload, err = h.parseSchemePayload(r, body)
	} else {
		if !h.verifier.Verify(r.Header.Get(signatureHeader), body) {
			return h.reject(w, http.StatusUnauthorized, "invalid signature", "bad_signature", clientIP)
		}
		parse := ingress.ScanPayload
		if h.evaluates {
			parse = ingress.ParsePayload
		}
		payload, err = parse(body, ingress.DefaultMaxDepth)
	}
	if err != nil {
		return h.reject(w, http.StatusBadRequest, err.Error(), "bad_payload", clientIP)
	}
	if answered, err := h.slackChallenge(w, payload, clientIP); answered {
		return err
	}
	if err := ingress.CheckFreshness(payload, start, h.maxAge, ingress.DefaultMaxFuture); err != nil {
		return h.reject(w, http.StatusBadRequest, err.Error(), "stale", clientIP)
	}

	vars := &rules.Vars{SourceIP: clientIP, Source: h.Source, Type: payload.Type}
	if h.evaluates {
		vars.Event, vars.Headers = payload.Object, firstValues(r.Header)
	}
	id, err := h.eventID(r, vars, payload, body)
	if err != nil {
		return h.reject(w, http.StatusBadRequest, err.Error(), "bad_id", clientIP)
	}
	vars.ID = id
	targets := h.router.Targets(vars, h.ruleFailed)

	st, err := h.app.waitStore(r.Context())
	if err != nil {
		return h.unavailable(w, err, clientIP)
	}
	ev := &store.Event{
		ID:         id,
		Source:     h.Source,
		Type:       ingress.EventType(payload.Type),
		ReceivedAt: start,
		ClientIP:   clientIP,
		Headers:    h.keeper.Keep(r.Header),
		Body:       body,
		Targets:    targets,
		OrderKeys:  h.orderKeys(targets, vars),
		// A payload timestamped ahead of our clock stays fresh past the
		// dedup window; its ID must be remembered as long (README, "No
		// replay gap").
		DedupUntil: h.dedupUntil(payload, start),
	}
	receipt, err := st.Accept(r.Context(), ev)
	if err != nil {
		return h.unavailable(w, err, clientIP)
	}
	if receipt.Duplicate {
		h.received.inc(outcomeDuplicate)
		h.logDecision("duplicate", id, clientIP, start)
		return writeJSON(w, http.StatusOK, answer{Status: "duplicate", ID: id})
	}
	h.received.inc(outcomeAccepted)
	h.logDecision("accepted", id, clientIP, start)
	if targets == nil {
		targets = []string{}
	}
	return writeJSON(w, http.StatusAccepted, acceptedAnswer{Status: "accepted", ID: id, Targets: targets})
}

func (h *Handler) eventID(r *http.Request, vars *rules.Vars, p *ingress.Payload, body []byte) (string, error) {
	var id string
	if h.idExpr != nil {
		vars.ID = ingress.DefaultEventID(h.idHeader(r), p, body)
		v, err := h.idExpr.Eval(vars)
		if err != nil {
			return "", errors.New("event id expression failed on this event")
		}
		id = v
	} else {
		id = ingress.DefaultEventID(h.idHeader(r), p, body)
	}
	if err := ingress.ValidateEventID(id); err != nil {
		return "", err
	}
	return id, nil
}

func (h *Handler) allowed(clientIP string) bool {
	ip, err := netip.ParseAddr(clientIP)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range h.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ruleFailed logs a rule's runtime error the first time that rule fails.
func (h *Handler) ruleFailed(rule *rules.Rule, err error) {
	if _, seen := h.ruleErrLogged.LoadOrStore(rule, struct{}{}); seen {
		return
	}
	h.logger.Warn("route rule failed on an event and did not match; further failures of this rule are not logged",
		zap.String("source", h.Source), zap.String("rule", rule.String()), zap.Error(err))
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
