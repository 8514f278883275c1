package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
)

// cliReplayRequest is what `webhook replay` will send: the method is
// always POST.
type cliReplayRequest struct {
	uri  string
	body *adminapi.BulkReplay // nil for a single event
}

// cliReplayCommand is `caddy webhook replay`.
func cliReplayCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay <id> [--target T] | --dead [--target T] [--filter CEL] [--dry-run] [--rate N]",
		Short: "Redelivers an event, or every dead letter, over the admin API",
		Long: `
With an event ID, redelivers that event (to every target it was routed to,
or only to --target) with POST /webhook_inbox/events/{id}/replay.

With --dead, redelivers dead letters in bulk with POST /webhook_inbox/replay:
all of them, or those of --target, or those a CEL --filter (over event,
headers, source_ip and source) selects; --rate caps the replayed events per
second. --dry-run only counts what would be replayed.
`,
		Args: cobra.MaximumNArgs(1),
	}
	fs := cmd.Flags()
	fs.Bool("dead", false, "Replay dead letters in bulk instead of one event")
	fs.String("target", "", "Replay only to (or only the dead letters of) this target")
	fs.String("filter", "", "With --dead: CEL expression selecting the dead letters to replay")
	fs.Bool("dry-run", false, "With --dead: count what would be replayed, replay nothing")
	fs.Float64("rate", 0, "With --dead: replayed events per second; 0 is the admin API's default")
	fs.Bool("json", false, "Print the raw JSON answer")
	cliAddSourceFlag(fs)
	cliAddAdminFlags(fs)
	cmd.RunE = cliRun(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		req, err := cliParseReplay(cmd.Flags(), args)
		if err != nil {
			return err
		}
		admin, err := cliAdminFromFlags(cmd.Flags())
		if err != nil {
			return err
		}
		var payload any
		if req.body != nil {
			payload = req.body
		}
		body, err := admin.do(ctx, http.MethodPost, req.uri, payload)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
			return cliPrintJSON(out, body)
		}
		if req.body != nil {
			return cliPrintBulkReplay(out, body)
		}
		return cliPrintReplay(out, body)
	})
	return cmd
}

// cliParseReplay checks the flags and argument of `webhook replay` and
// returns the request to make.
func cliParseReplay(fs *pflag.FlagSet, args []string) (cliReplayRequest, error) {
	fl := caddycmd.Flags{FlagSet: fs}
	dead, target, filter := fl.Bool("dead"), fl.String("target"), fl.String("filter")
	dryRun, rate := fl.Bool("dry-run"), fl.Float64("rate")
	switch {
	case dead && len(args) > 0:
		return cliReplayRequest{}, errors.New("give an event ID or --dead, not both")
	case !dead && len(args) == 0:
		return cliReplayRequest{}, errors.New("give an event ID, or --dead to replay dead letters")
	}
	if dead && fs.Changed("source") {
		return cliReplayRequest{}, errors.New("--source applies to one event, not with --dead")
	}
	if !dead {
		for _, name := range []string{"filter", "dry-run", "rate"} {
			if fs.Changed(name) {
				return cliReplayRequest{}, fmt.Errorf("--%s applies only with --dead", name)
			}
		}
		id := args[0]
		if id == "" {
			return cliReplayRequest{}, errors.New("event id is empty")
		}
		var q url.Values
		if target != "" {
			q = url.Values{"target": {target}}
		}
		return cliReplayRequest{uri: cliEventURI(id, "/replay", fs, q)}, nil
	}
	if rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
		return cliReplayRequest{}, fmt.Errorf("--rate %v: want events per second, 0 for the default", rate)
	}
	return cliReplayRequest{uri: adminapi.ReplayPath, body: &adminapi.BulkReplay{
		Status: "dead",
		Target: target,
		Filter: strings.TrimSpace(filter),
		DryRun: dryRun,
		Rate:   rate,
	}}, nil
}

// cliPrintReplay prints the answer to a single replay.
func cliPrintReplay(w io.Writer, body []byte) error {
	r, err := cliDecodeAnswer[adminapi.Replayed](body, "replay answer")
	if err != nil {
		return err
	}
	targets := make([]string, 0, len(r.Targets))
	for _, t := range r.Targets {
		targets = append(targets, cliSafe(t))
	}
	_, err = fmt.Fprintf(w, "replayed %s (source %s) to %s\n", cliSafe(r.ID), cliSafe(r.Source), strings.Join(targets, ", "))
	return err
}

// cliPrintBulkReplay prints the answer to a bulk replay: what a dry run
// matched, or what was requeued and how the redeliveries are spread.
func cliPrintBulkReplay(w io.Writer, body []byte) error {
	r, err := cliDecodeAnswer[adminapi.BulkReplayed](body, "bulk replay answer")
	if err != nil {
		return err
	}
	switch {
	case r.DryRun && r.Matched != nil:
		fmt.Fprintf(w, "would replay %s (dry run)\n", cliCount(*r.Matched, "dead letter", "dead letters"))
	case r.Requeued != nil:
		line := "replayed " + cliCount(*r.Requeued, "dead letter", "dead letters")
		if r.SpreadSeconds != nil && *r.SpreadSeconds > 0 {
			line += fmt.Sprintf(", spread over %s at %g per second",
				cliSpread(time.Duration(*r.SpreadSeconds*float64(time.Second))), r.Rate)
		}
		fmt.Fprintln(w, line)
	default:
		return fmt.Errorf("the bulk replay answer has no count: %s", cliSafe(string(bytes.TrimSpace(body))))
	}
	if r.FilterErrors > 0 {
		fmt.Fprintf(w, "the filter failed on %s (not replayed): %s\n",
			cliCount(r.FilterErrors, "dead letter", "dead letters"), cliSafe(r.FilterError))
	}
	return nil
}

// cliSpread rounds how long a replay's redeliveries are spread over:
// to the millisecond under a minute, else to the second.
func cliSpread(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
