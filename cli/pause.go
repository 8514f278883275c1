package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
)

// cliPauseCommand is `caddy webhook pause` (paused true) or `resume`.
func cliPauseCommand(paused bool) *cobra.Command {
	verb, short, long := "resume", "Resumes delivery to a paused target over the admin API", `
Resumes delivery to a target with POST /webhook_inbox/targets/{name}/resume
on the admin endpoint. The events queued while it was paused are delivered,
at the pace of its rate_limit.
`
	if paused {
		verb, short, long = "pause", "Pauses delivery to a target over the admin API", `
Pauses delivery to a target with POST /webhook_inbox/targets/{name}/pause on
the admin endpoint: nothing is attempted (circuit probes included) until it
is resumed, and events keep queueing. The pause is stored: it lasts across
restarts and reloads, and with a shared store it holds on every gateway.
Pausing is not an outage: no circuit opens and no notify event is sent.
`
	}
	cmd := &cobra.Command{
		Use:   verb + " <target>",
		Short: short,
		Long:  long,
		Args:  cobra.ExactArgs(1),
	}
	cliAddAdminFlags(cmd.Flags())
	cmd.RunE = cliRun(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		name := args[0]
		if name == "" {
			return errors.New("target name is empty")
		}
		admin, err := cliAdminFromFlags(cmd.Flags())
		if err != nil {
			return err
		}
		body, err := admin.do(ctx, http.MethodPost, adminapi.TargetsPath+"/"+url.PathEscape(name)+"/"+verb, nil)
		if err != nil {
			return err
		}
		var got adminapi.TargetPause
		if err := json.Unmarshal(body, &got); err != nil {
			return fmt.Errorf("reading the answer: %w", err)
		}
		state := "resumed"
		if got.Paused {
			state = "paused"
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", state, cliSafe(got.Target))
		return err
	})
	return cmd
}
