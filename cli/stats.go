package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

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
/webhook_inbox/stats on the admin endpoint. --json prints the admin's answer.
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
		return cliPrintStats(cmd.OutOrStdout(), body)
	})
	return cmd
}

// cliStatsRow is one target's line of `webhook stats`.
type cliStatsRow struct {
	name   string
	fields map[string]any
}

// cliPrintStats prints a GET /webhook_inbox/stats answer as a table, one
// row per target, then any other top-level fields. Targets may come as an
// object keyed by name (under "targets" or at the top level) or as an array
// of objects with a "target" or "name".
func cliPrintStats(w io.Writer, body []byte) error {
	v, err := cliDecode(body)
	if err != nil {
		return cliPrintJSON(w, body)
	}
	var rows []cliStatsRow
	other := map[string]any{}
	addRows := func(t any) {
		switch t := t.(type) {
		case map[string]any:
			for name, f := range t {
				if m, ok := f.(map[string]any); ok {
					rows = append(rows, cliStatsRow{name: name, fields: m})
				} else {
					other[name] = f
				}
			}
		case []any:
			for _, f := range t {
				if m, ok := f.(map[string]any); ok {
					name, _ := cliField(m, "target", "name")
					rows = append(rows, cliStatsRow{name: cliString(name), fields: m})
				}
			}
		}
	}
	if m, ok := v.(map[string]any); ok {
		if t, ok := m["targets"]; ok {
			addRows(t)
			for k, f := range m {
				if k != "targets" {
					other[k] = f
				}
			}
		} else {
			addRows(m)
		}
	} else {
		addRows(v)
	}
	slices.SortFunc(rows, func(a, b cliStatsRow) int { return strings.Compare(a.name, b.name) })

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tPENDING\tDEAD\tOLDEST PENDING\tCIRCUIT")
	marks := map[string]bool{}
	for _, r := range rows {
		pending, _ := cliField(r.fields, "pending", "queue_depth")
		dead, _ := cliField(r.fields, "dead", "dead_letters")
		name := cliSafe(r.name)
		if mark := cliTargetMark(r.fields); mark != "" {
			name += " (" + mark + ")"
			marks[mark] = true
		}
		if r.fields["paused"] == true {
			name += " (paused)"
		}
		if r.fields["rate_limited"] == true {
			name += " (rate limited)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name,
			cliOr(cliString(pending), "0"), cliOr(cliString(dead), "0"),
			cliOldestPending(r.fields, time.Now()), cliCircuit(r.fields))
	}
	tw.Flush()
	if len(rows) == 0 {
		fmt.Fprintln(w, "(no targets with pending or dead events)")
	}
	if marks[cliMarkOrphaned] {
		fmt.Fprintln(w, "orphaned: not in the running config; its pending deliveries wait until it is configured again")
	}
	if marks[cliMarkRemoved] {
		fmt.Fprintln(w, "removed: not in the running config; only its dead letters are left")
	}
	for _, k := range slices.Sorted(maps.Keys(other)) {
		fmt.Fprintf(w, "%s: %s\n", cliSafe(k), cliString(other[k]))
	}
	return nil
}

// How `webhook stats` marks a target the running config does not define.
const (
	cliMarkOrphaned = "orphaned" // with pending deliveries
	cliMarkRemoved  = "removed"  // with dead letters only
)

// cliTargetMark returns how a stats row is marked: "orphaned" or
// "removed" when the admin API says the target is not configured, else
// nothing.
func cliTargetMark(f map[string]any) string {
	switch {
	case f["orphaned"] == true:
		return cliMarkOrphaned
	case f["configured"] == false:
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

// cliOldestPending renders the age of a target's oldest pending event,
// given in seconds or as the event's receive time.
func cliOldestPending(f map[string]any, now time.Time) string {
	v, ok := cliField(f, "oldest_pending_seconds", "oldest_pending_age", "oldest_pending_age_seconds", "oldest_pending")
	if !ok {
		return "-"
	}
	switch v := v.(type) {
	case json.Number:
		secs, err := v.Float64()
		if err != nil {
			return v.String()
		}
		if secs <= 0 {
			return "-"
		}
		return cliAge(time.Duration(secs * float64(time.Second)))
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return cliSafe(v)
		}
		if t.IsZero() {
			return "-"
		}
		return cliAge(now.Sub(t))
	}
	return cliString(v)
}

// cliAge rounds a duration to whole seconds for reading.
func cliAge(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	return d.Round(time.Second).String()
}

// cliCircuit renders a target's circuit breaker state: a string as it is,
// or an object with "open" (and "next_probe") as open/closed.
func cliCircuit(f map[string]any) string {
	v, ok := cliField(f, "circuit", "circuit_state", "state", "breaker")
	if !ok {
		if up, ok := f["up"].(bool); ok {
			if up {
				return "up"
			}
			return "down"
		}
		return "-"
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		return cliString(v)
	}
	if st, ok := cliField(m, "state"); ok {
		return cliString(st)
	}
	open, ok := m["open"].(bool)
	if !ok {
		return cliString(m)
	}
	if !open {
		return "closed"
	}
	s := "open"
	if np, ok := m["next_probe"].(string); ok && np != "" {
		s += " (next probe " + cliTime(np) + ")"
	}
	return s
}
