package module

import (
	"cmp"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/webhookinbox/caddy-webhook-inbox/ingress"
	"github.com/webhookinbox/caddy-webhook-inbox/relay/reencode"
	"github.com/webhookinbox/caddy-webhook-inbox/rules"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("webhook_inbox", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("webhook_inbox", parseHandlerDirective)
	// ordered like other terminal handlers, so it works without a route block
	httpcaddyfile.RegisterDirectiveOrder("webhook_inbox", httpcaddyfile.Before, "respond")
}

// parseGlobalOption sets up the webhook_inbox app from the global options
// block:
//
//	webhook_inbox {
//		storage_dir    <path>
//		storage badger {
//			dir <path>
//		}
//		dedup_window   <duration>
//		retention      <duration>
//		min_free_space <size>|off
//		notify         <target name>
//		target <name> {
//			url         <http(s) url>
//			secret      <secret placeholder>
//			timeout     <duration>
//			concurrency <n>
//			retry {
//				max_attempts <n>
//				backoff      <first> <cap>
//				max_age      <duration>
//			}
//			header <name> <value>
//			body   raw|node|python
//		}
//	}
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	app := new(App)
	if existing != nil {
		return nil, d.Err("webhook_inbox global option may appear only once")
	}
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{
		Name:  "webhook_inbox",
		Value: caddyconfig.JSON(app, nil),
	}, nil
}

// UnmarshalCaddyfile parses the app's global option block; see
// parseGlobalOption for the syntax.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // option name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "storage_dir":
			if !d.AllArgs(&a.StorageDir) {
				return d.ArgErr()
			}
		case "storage":
			if a.StorageRaw != nil {
				return d.Err("storage may be given only once")
			}
			raw, err := parseStorage(d)
			if err != nil {
				return err
			}
			a.StorageRaw = raw
		case "dedup_window":
			if err := parseDuration(d, &a.DedupWindow); err != nil {
				return err
			}
		case "retention":
			if err := parseDuration(d, &a.Retention); err != nil {
				return err
			}
		case "min_free_space":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			if s == "off" {
				a.MinFreeSpace = -1
				continue
			}
			n, err := parseSize(d, s)
			if err != nil {
				return err
			}
			a.MinFreeSpace = n
		case "notify":
			if !d.AllArgs(&a.Notify) {
				return d.ArgErr()
			}
		case "target":
			var name string
			if !d.Args(&name) {
				return d.ArgErr()
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			if err := validateName(name); err != nil {
				return d.Errf("target %v", err)
			}
			if _, dup := a.Targets[name]; dup {
				return d.Errf("target %q defined twice", name)
			}
			t := new(Target)
			if err := t.unmarshalCaddyfile(d); err != nil {
				return err
			}
			if t.URL == "" {
				return d.Errf("target %s: url is required", name)
			}
			if a.Targets == nil {
				a.Targets = make(map[string]*Target)
			}
			a.Targets[name] = t
		default:
			return d.Errf("unrecognized webhook_inbox option %q", d.Val())
		}
	}
	return nil
}

func (t *Target) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "url":
			if !d.AllArgs(&t.URL) {
				return d.ArgErr()
			}
			if err := validateURL(t.URL); err != nil {
				return d.Errf("%v", err)
			}
		case "secret":
			if !d.AllArgs(&t.Secret) {
				return d.ArgErr()
			}
		case "timeout":
			if err := parseDuration(d, &t.Timeout); err != nil {
				return err
			}
		case "concurrency":
			n, err := parseInt(d)
			if err != nil {
				return err
			}
			t.Concurrency = n
		case "header":
			var name, value string
			if !d.AllArgs(&name, &value) {
				return d.ArgErr()
			}
			if t.Headers == nil {
				t.Headers = make(http.Header)
			}
			t.Headers.Add(name, value)
		case "body":
			if !d.AllArgs(&t.BodyEncoding) {
				return d.ArgErr()
			}
			switch t.BodyEncoding {
			case reencode.Raw, reencode.Node, reencode.Python:
			default:
				return d.Errf("body encoding %q is not raw, node or python", t.BodyEncoding)
			}
		case "retry":
			if d.NextArg() {
				return d.ArgErr()
			}
			if t.Retry == nil {
				t.Retry = new(RetryPolicy)
			}
			if err := t.Retry.unmarshalCaddyfile(d); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized target option %q", d.Val())
		}
	}
	return nil
}

func (r *RetryPolicy) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "max_attempts":
			n, err := parseInt(d)
			if err != nil {
				return err
			}
			r.MaxAttempts = n
		case "backoff":
			var first, capacity string
			if !d.AllArgs(&first, &capacity) {
				return d.ArgErr()
			}
			f, err := caddy.ParseDuration(first)
			if err != nil {
				return d.Errf("backoff first delay %q: %v", first, err)
			}
			c, err := caddy.ParseDuration(capacity)
			if err != nil {
				return d.Errf("backoff cap %q: %v", capacity, err)
			}
			if f <= 0 || c < f {
				return d.Errf("backoff needs 0 < first <= cap, got %s %s", first, capacity)
			}
			r.BackoffFirst, r.BackoffCap = caddy.Duration(f), caddy.Duration(c)
		case "max_age":
			if err := parseDuration(d, &r.MaxAge); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized retry option %q", d.Val())
		}
	}
	return nil
}

// parseHandlerDirective sets up the handler from the directive:
//
//	webhook_inbox [<matcher>] [<source>] {
//		secret     <secret> [<older secret>...]
//		allow_ips  <ip|cidr>...
//		max_body   <size>
//		max_age    <duration>
//		rate_limit <events> <window>
//		id         <CEL string expression>
//		route      <CEL bool expression> <target>...
//		default    <target>...
//		keep_headers <header name>...
//	}
//
// Target names, max_age against dedup_window and the secret's presence are
// checked here against the global block (caddyfile_checks.go).
func parseHandlerDirective(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	facts, err := globalFactsOf(h)
	if err != nil {
		return nil, h.WrapErr(err)
	}
	handler := &Handler{facts: facts}
	err = handler.UnmarshalCaddyfile(h.Dispenser)
	return handler, err
}

// UnmarshalCaddyfile parses the webhook_inbox directive; see
// parseHandlerDirective for the syntax. Rules are compiled here too, so a
// broken rule is reported with its Caddyfile line.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	directive := d.Token()
	if d.NextArg() {
		h.Source = d.Val()
		if err := validateName(h.Source); err != nil {
			return d.Errf("source %v", err)
		}
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "secret":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.Secrets = append(h.Secrets, args...)
		case "allow_ips":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, a := range args {
				if _, err := parsePrefix(a); err != nil {
					return d.Errf("%v", err)
				}
			}
			h.AllowIPs = append(h.AllowIPs, args...)
		case "max_body":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := parseSize(d, s)
			if err != nil {
				return err
			}
			if n <= 0 {
				return d.Errf("max_body must be positive")
			}
			h.MaxBody = n
		case "max_age":
			if err := parseDuration(d, &h.MaxAge); err != nil {
				return err
			}
			if h.facts != nil {
				if err := h.facts.checkMaxAge(d, time.Duration(h.MaxAge)); err != nil {
					return err
				}
			}
		case "rate_limit":
			var events, window string
			if !d.AllArgs(&events, &window) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(events)
			if err != nil || n < 1 {
				return d.Errf("rate_limit events must be a positive integer, got %q", events)
			}
			w, err := caddy.ParseDuration(window)
			if err != nil || w <= 0 {
				return d.Errf("rate_limit window must be a positive duration, got %q", window)
			}
			h.RateLimit = &RateLimit{Events: n, Window: caddy.Duration(w)}
		case "id":
			args := d.RemainingArgs()
			switch {
			case len(args) > 1:
				return d.Errf("id takes one CEL expression, got %d words: wrap it in backticks, `%s`", len(args), strings.Join(args, " "))
			case len(args) == 0:
				return d.ArgErr()
			}
			h.ID = args[0]
			if _, err := rules.CompileID(h.ID); err != nil {
				return d.Errf("id: %v", err)
			}
		case "route":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return d.Errf("route needs a CEL rule and at least one target")
			}
			if _, err := rules.CompileRule(args[0]); err != nil {
				return d.Errf("route: %v", ruleHint(err, args))
			}
			if h.facts != nil {
				if err := h.facts.checkTargets(d, "route", args[1:]); err != nil {
					return err
				}
			}
			h.Routes = append(h.Routes, RouteConfig{Rule: args[0], Targets: args[1:]})
		case "default":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			if h.facts != nil {
				if err := h.facts.checkTargets(d, "default", args); err != nil {
					return err
				}
			}
			h.Default = append(h.Default, args...)
		case "keep_headers":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.KeepHeaders = append(h.KeepHeaders, args...)
			if _, err := ingress.NewHeaderKeeper(h.KeepHeaders); err != nil {
				return d.Errf("%v", err)
			}
		default:
			return d.Errf("unrecognized webhook_inbox option %q", d.Val())
		}
	}
	if h.facts != nil && len(h.Secrets) == 0 {
		return errAt(directive, "webhook_inbox %s: at least one secret is required (secret {env.…})", cmp.Or(h.Source, DefaultSource))
	}
	return nil
}

func parseDuration(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	opt := d.Val()
	var s string
	if !d.AllArgs(&s) {
		return d.ArgErr()
	}
	v, err := caddy.ParseDuration(s)
	if err != nil {
		return d.Errf("%s: invalid duration %q: %v", opt, s, err)
	}
	if v <= 0 {
		return d.Errf("%s must be a positive duration, got %q", opt, s)
	}
	*dst = caddy.Duration(v)
	return nil
}

func parseSize(d *caddyfile.Dispenser, s string) (int64, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, d.Errf("invalid size %q: %v", s, err)
	}
	if n > 1<<62 {
		return 0, d.Errf("size %q is too large", s)
	}
	return int64(n), nil
}

func parseInt(d *caddyfile.Dispenser) (int, error) {
	var s string
	if !d.AllArgs(&s) {
		return 0, d.ArgErr()
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, d.Errf("expected a positive integer, got %q", s)
	}
	return n, nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*App)(nil)
	_ caddyfile.Unmarshaler = (*Handler)(nil)
)
