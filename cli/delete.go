package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

// cliDeleteCommand is `caddy webhook delete`.
func cliDeleteCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete <id> [--source S]",
		Short: "Purges one stored event over the admin API",
		Long: `
Purges one event with DELETE /webhook_inbox/events/{id} on the admin
endpoint: its body, headers, every target's state and attempts, its queue
entries and its dedup marker, so the same event posted again by its source
is accepted as new (for data-removal requests). An attempt already in
flight still reaches its target. When two sources hold the ID, --source
names the one to purge; the other is never touched.
`,
		Args: cobra.ExactArgs(1),
	}
	cliAddSourceFlag(cmd.Flags())
	cliAddAdminFlags(cmd.Flags())
	cmd.RunE = cliRun(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		id := args[0]
		if id == "" {
			return errors.New("event id is empty")
		}
		admin, err := cliAdminFromFlags(cmd.Flags())
		if err != nil {
			return err
		}
		if _, err := admin.do(ctx, http.MethodDelete, cliEventURI(id, "", cmd.Flags(), nil), nil); err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", cliSafe(id))
		return err
	})
	return cmd
}
