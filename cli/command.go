// Package cli is the `caddy webhook …` subcommands: send and sign on the
// sender's side, and events, event, replay, stats and tail over Caddy's
// admin API (an HTTP client of the paths and shapes in adminapi). It
// registers them with Caddy's command line when imported.
package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unicode"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "webhook",
		Usage: "<send|sign|events|event|replay|delete|stats|tail> [flags]",
		Short: "Sends, signs, inspects and replays webhook_inbox events",
		Long: `
Operator tools for the webhook_inbox module.

Sender side (no running Caddy needed):

  send    posts signed sample UniCraft events to a webhook URL; with
          --count, --rate and --concurrency it is a small load generator
  sign    prints the X-UniCraft-Signature of a body

Inbox side, over Caddy's admin API (the address comes from --address, else
from the admin listener of --config/--adapter, else localhost:2019):

  events  lists stored events (filter by status, target, source, type,
          receive time)
  event   shows one event with its deliveries and attempts
  replay  redelivers one event, or every dead letter (--dead)
  delete  purges one event and its dedup marker
  stats   shows pending, dead and oldest pending age per target, the
          totals since start and the store's size
  tail    prints new events as they arrive, and pending ones again when
          they are delivered or dead-lettered, until interrupted

Secrets given with --secret are never printed. Instead of --secret, the
secret may come from the UNICRAFT_WEBHOOK_SECRET environment variable, which
keeps it out of the process list.
`,
		CobraFunc: cliBuildWebhookCommand,
	})
}

// cliSecretEnv is the environment variable send and sign read the secret
// from when --secret is not given; it is the name the README's Caddyfile
// uses for the same secret.
const cliSecretEnv = "UNICRAFT_WEBHOOK_SECRET"

// cliBuildWebhookCommand adds the subcommands to the `webhook` command.
// Tests build the same tree on a fresh cobra.Command.
func cliBuildWebhookCommand(cmd *cobra.Command) {
	cmd.AddCommand(
		cliSendCommand(),
		cliSignCommand(),
		cliEventsCommand(),
		cliEventCommand(),
		cliReplayCommand(),
		cliDeleteCommand(),
		cliStatsCommand(),
		cliTailCommand(),
	)
	cliSetDocsFooter(cmd, "CLI")
	for _, sub := range cmd.Commands() {
		cliSetDocsFooter(sub, "caddy webhook "+sub.Name())
	}
}

// cliDocsURL is this project's README (the module path's repository);
// each command's help ends with its section there.
const cliDocsURL = "https://github.com/webhookinbox/caddy-webhook-inbox"

// cliSetDocsFooter ends cmd's help with its README section instead of
// Caddy's footer, which points at caddyserver.com's command-line docs
// (caddycmd appends it to the root's help template, which subcommands
// inherit; a command's own template takes precedence).
func cliSetDocsFooter(cmd *cobra.Command, section string) {
	cmd.SetHelpTemplate(cliBaseHelpTemplate + "\nFull documentation is in README.md, section \"" + section + "\":\n" +
		cliDocsURL + "#" + cliAnchor(section) + "\n")
}

// cliAnchor is the anchor GitHub gives a heading: lower case, spaces as
// hyphens, punctuation other than '-' and '_' left out.
func cliAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cliBaseHelpTemplate is cobra's own help template, without the footer
// caddycmd appends to it.
var cliBaseHelpTemplate = new(cobra.Command).HelpTemplate()

// cliRun adapts a subcommand body to cobra's RunE: it gives the body a
// context that ends on SIGINT or SIGTERM, so a load run or a tail stops
// cleanly on ctrl-C, and stops cobra from printing the usage after an
// error that is not about usage.
func cliRun(run func(ctx context.Context, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		cmd.SilenceUsage = true
		return run(ctx, cmd, args)
	}
}

// cliSecret returns the secret from --secret, else from cliSecretEnv. The
// value never goes into an error message.
func cliSecret(fs *pflag.FlagSet) (string, error) {
	secret, err := fs.GetString("secret")
	if err != nil {
		return "", err
	}
	if secret == "" {
		secret = os.Getenv(cliSecretEnv)
	}
	if secret == "" {
		return "", fmt.Errorf("a secret is required: use --secret or set %s", cliSecretEnv)
	}
	return secret, nil
}
