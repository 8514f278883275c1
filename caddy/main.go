// Command caddy is Caddy with the webhook_inbox modules and the `caddy
// webhook` subcommands built in.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/webhookinbox/caddy-webhook-inbox/cli"
	_ "github.com/webhookinbox/caddy-webhook-inbox/module"
)

func main() {
	caddycmd.Main()
}
