package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/webhookinbox/caddy-webhook-inbox/ingress"
)

// cliSignCommand is `caddy webhook sign`.
func cliSignCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sign --secret <secret> [<file>|-]",
		Short: "Prints the X-UniCraft-Signature of a body",
		Long: `
Prints the lowercase hex HMAC-SHA256 of the raw bytes of <file>, or of
standard input when the file is "-" or omitted, under --secret (or
$UNICRAFT_WEBHOOK_SECRET): the X-UniCraft-Signature a sender puts on that
body. Nothing is trimmed, so a trailing newline is part of the body.

  $ caddy webhook sign --secret "$SECRET" event.json
  $ printf '%s' "$body" | caddy webhook sign --secret "$SECRET"
`,
		Args: cobra.MaximumNArgs(1),
	}
	cmd.Flags().String("secret", "", "Signing secret (default $"+cliSecretEnv+")")
	cmd.RunE = cliRun(func(_ context.Context, cmd *cobra.Command, args []string) error {
		secret, err := cliSecret(cmd.Flags())
		if err != nil {
			return err
		}
		body, err := cliReadBody(cmd.InOrStdin(), args)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(cmd.OutOrStdout(), ingress.Sign([]byte(secret), body))
		return err
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
