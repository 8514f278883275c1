package module

import (
	"slices"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/webhookinbox/caddy-webhook-inbox/relay"
	"github.com/webhookinbox/caddy-webhook-inbox/rules"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// parseVerify parses the handler's verify option:
//
//	verify unicraft|standard|stripe|github|shopify|slack
//	verify hmac {
//		header    <name>
//		algorithm sha1|sha256|sha512
//		encoding  hex|base64
//		prefix    <text>
//	}
func (h *Handler) parseVerify(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	h.Verify = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	if h.Verify != signature.HMAC {
		if !slices.Contains(signature.Names, h.Verify) {
			return d.Errf("verify %q is not one of %v or hmac", h.Verify, signature.Names)
		}
		if d.NextBlock(d.Nesting()) {
			return d.Errf("verify %s takes no block", h.Verify)
		}
		return nil
	}
	opts := new(signature.HMACOptions)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var dst *string
		switch d.Val() {
		case "header":
			dst = &opts.Header
		case "algorithm":
			dst = &opts.Algorithm
		case "encoding":
			dst = &opts.Encoding
		case "prefix":
			dst = &opts.Prefix
		default:
			return d.Errf("unrecognized verify hmac option %q", d.Val())
		}
		if !d.AllArgs(dst) {
			return d.ArgErr()
		}
	}
	if err := opts.Check(); err != nil {
		return d.Errf("verify %v", err)
	}
	h.VerifyHMAC = opts
	return nil
}

// parseSign parses a target's `sign source|<scheme>|none`.
func (t *Target) parseSign(d *caddyfile.Dispenser) error {
	if !d.AllArgs(&t.Sign) {
		return d.ArgErr()
	}
	if !slices.Contains(relay.SignChoices, t.Sign) {
		return d.Errf("sign %q is not one of %v", t.Sign, relay.SignChoices)
	}
	return nil
}

// parseTransform parses a target's `transform <CEL>`, compiled here so an
// error carries its Caddyfile line as well as the expression's line:column.
func (t *Target) parseTransform(d *caddyfile.Dispenser) error {
	if !d.AllArgs(&t.Transform) {
		return d.ArgErr()
	}
	if _, err := rules.CompileTransform(t.Transform); err != nil {
		return d.Errf("transform: %v", err)
	}
	return nil
}
