package module

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("webhook_inbox_console", parseConsoleDirective)
	// ordered like webhook_inbox, so it works without a route block
	httpcaddyfile.RegisterDirectiveOrder("webhook_inbox_console", httpcaddyfile.Before, "respond")
}

// parseConsoleDirective sets up the console handler:
//
//	webhook_inbox_console {
//		read_only
//	}
func parseConsoleDirective(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	c := new(Console)
	err := c.UnmarshalCaddyfile(h.Dispenser)
	return c, err
}

// UnmarshalCaddyfile parses the webhook_inbox_console directive; see
// parseConsoleDirective for the syntax.
func (c *Console) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "read_only":
			if d.NextArg() {
				return d.ArgErr()
			}
			c.ReadOnly = true
		default:
			return d.Errf("unrecognized webhook_inbox_console option %q", d.Val())
		}
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Console)(nil)
