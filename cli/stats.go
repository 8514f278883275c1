package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
)

// cliStatsCommand is `caddy webhook stats`.
func cliStatsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stats [--json]",
		Short: "Shows delivery statistics per target over the admin API",
		Long: `
Shows, per target, the pending and dead counts, the age of the oldest
pending event and the circuit breaker's state, with GET
/webhook_inbox/stats on the admin endpoint; then the totals since the
answering Caddy process started (events received, attempts delivered,
retried and dead-lettered) and the store with its size and free space.
--json prints the admin's answer.
`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().Bool("json", false, "Print the raw JSON answer")
	cliAddAdminFlags(cmd.Flags())
	cmd.RunE = cliRun(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
		admin, err := cliAdminFromFlags(cmd.Flags())
		if err != nil {
			return err
		}
		body, err := admin.do(ctx, http.MethodGet, adminapi.StatsPath, nil)
		if err != nil {
			return err
		}
		if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
			return cliPrintJSON(cmd.OutOrStdout(), body)
		}
		st, err := cliDecodeAnswer[adminapi.Stats](body, "stats")
		if err != nil {
			return err
		}
		cliPrintStats(cmd.OutOrStdout(), st, time.Now())
		return nil
	})
	return cmd
}

// cliPrintStats prints a GET /webhook_inbox/stats answer: a table with a
// row per target, the totals since the answering process started, and
// the store with its sizes in human units.
func cliPrintStats(w io.Writer, st adminapi.Stats, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tPENDING\tDEAD\tOLDEST PENDING\tCIRCUIT")
	marks := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(st.Targets)) {
		t := st.Targets[name]
		row := cliSafe(name)
		if mark := cliTargetMark(t); mark != "" {
			row += " (" + mark + ")"
			marks[mark] = true
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", row, t.Pending, t.Dead, cliOldestPending(t, now), cliCircuit(t))
	}
	tw.Flush()
	if len(st.Targets) == 0 {
		fmt.Fprintln(w, "(no targets with pending or dead events)")
	}
	if marks[cliMarkOrphaned] {
		fmt.Fprintln(w, "orphaned: not in the running config; its pending deliveries wait until it is configured again")
	}
	if marks[cliMarkRemoved] {
		fmt.Fprintln(w, "removed: not in the running config; only its dead letters are left")
	}
	if tt := st.Totals; !tt.Since.IsZero() {
		fmt.Fprintf(w, "since start (%s, this process): received %d, delivered %d, retried %d, dead %d\n",
			cliTime(tt.Since), tt.Received, tt.Delivered, tt.Retried, tt.Dead)
	}
	fmt.Fprintln(w, cliStoreLine(st.Store))
}

// cliStoreLine describes the store on one line: its backend, where it
// keeps its data, its size and the free space in human units.
func cliStoreLine(s adminapi.StoreStats) string {
	parts := []string{cliOr(cliSafe(s.Backend), "unknown backend")}
	if s.Dir != "" {
		parts = append(parts, cliSafe(s.Dir))
	}
	if s.Servers != "" {
		parts = append(parts, "servers "+cliSafe(s.Servers))
	}
	if s.SizeBytes != nil {
		if *s.SizeBytes >= 0 {
			parts = append(parts, humanize.IBytes(uint64(*s.SizeBytes))+" used")
		} else {
			parts = append(parts, "size unknown")
		}
	}
	if s.FreeSpaceBytes != nil {
		if *s.FreeSpaceBytes >= 0 {
			parts = append(parts, humanize.IBytes(uint64(*s.FreeSpaceBytes))+" free")
		} else {
			parts = append(parts, "free space unknown")
		}
	}
	return "store: " + strings.Join(parts, ", ")
}

// How `webhook stats` marks a target the running config does not define.
const (
	cliMarkOrphaned = "orphaned" // with pending deliveries
	cliMarkRemoved  = "removed"  // with dead letters only
)

// cliTargetMark returns how a stats row is marked: "orphaned" or
// "removed" when the admin API says the target is not configured, else
// nothing.
func cliTargetMark(t adminapi.TargetStats) string {
	switch {
	case t.Orphaned:
		return cliMarkOrphaned
	case !t.Configured:
		return cliMarkRemoved
	}
	return ""
}

// cliOr returns s, or def when s is empty.
func cliOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// cliOldestPending renders the age of a target's oldest pending event.
func cliOldestPending(t adminapi.TargetStats, now time.Time) string {
	switch {
	case t.OldestPendingSeconds > 0:
		return cliAge(time.Duration(t.OldestPendingSeconds * float64(time.Second)))
	case !t.OldestPending.IsZero():
		return cliAge(now.Sub(t.OldestPending))
	}
	return "-"
}

// cliAge rounds a duration to whole seconds for reading.
func cliAge(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	return d.Round(time.Second).String()
}

// cliCircuit renders a target's circuit breaker: closed, or open with
// its failures in a row and when it next probes the target.
func cliCircuit(t adminapi.TargetStats) string {
	if t.Circuit != "open" {
		return cliOr(cliSafe(t.Circuit), "-")
	}
	s := "open (" + cliCount(t.ConsecutiveFailures, "failure", "failures")
	if !t.NextProbe.IsZero() {
		s += ", next probe " + cliTime(t.NextProbe)
	}
	return s + ")"
}
