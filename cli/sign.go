package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// cliSignCommand is `caddy webhook sign`.
func cliSignCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sign --secret <secret> [--scheme <scheme> [--id <id>] [--type <type>]] [<file>|-]",
		Short: "Prints the X-UniCraft-Signature of a body, or another sender's headers",
		Long: `
Prints the lowercase hex HMAC-SHA256 of the raw bytes of <file>, or of
standard input when the file is "-" or omitted, under --secret (or
$UNICRAFT_WEBHOOK_SECRET): the X-UniCraft-Signature a sender puts on that
body. Nothing is trimmed, so a trailing newline is part of the body.

  $ caddy webhook sign --secret "$SECRET" event.json
  $ printf '%s' "$body" | caddy webhook sign --secret "$SECRET"

With --scheme standard, stripe, github, shopify or slack it prints the
headers that sender puts on the body, one "Name: value" a line, signed now;
--id and --type fill the headers that carry them (webhook-id,
X-GitHub-Delivery, X-GitHub-Event, X-Shopify-Topic, ...).

  $ caddy webhook sign --scheme stripe --secret "$STRIPE_SECRET" event.json
  $ caddy webhook sign --scheme github --type push --id "$(uuidgen)" --secret "$S" push.json
`,
		Args: cobra.MaximumNArgs(1),
	}
	cmd.Flags().String("secret", "", "Signing secret (default $"+cliSecretEnv+")")
	cliSchemeFlags(cmd.Flags(), "Sender to sign as: "+strings.Join(cliSchemes, ", "))
	cmd.Flags().String("id", "", "Event ID for the headers that carry one (default: a random one)")
	cmd.Flags().String("type", "", "Event type for the headers that carry one")
	cmd.RunE = cliRun(func(_ context.Context, cmd *cobra.Command, args []string) error {
		secret, err := cliSecret(cmd.Flags())
		if err != nil {
			return err
		}
		body, err := cliReadBody(cmd.InOrStdin(), args)
		if err != nil {
			return err
		}
		sc, err := cliParseScheme(cmd.Flags(), secret)
		if err != nil {
			return err
		}
		if sc.Name() == signature.UniCraft {
			_, err = fmt.Fprintln(cmd.OutOrStdout(), signature.SignUniCraft([]byte(secret), body))
			return err
		}
		return cliPrintSignedHeaders(cmd, sc, body)
	})
	return cmd
}

// cliReadBody reads the file named by args[0], or in when there is no
// argument or it is "-".
func cliReadBody(in io.Reader, args []string) ([]byte, error) {
	if len(args) == 0 || args[0] == "-" {
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, fmt.Errorf("reading body from standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	return b, nil
}
