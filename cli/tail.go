package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
)

// cliTailMaxPages bounds how many pages one poll follows when more events
// than --limit arrived since the last poll.
const cliTailMaxPages = 20

// cliTailCommand is `caddy webhook tail`.
func cliTailCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tail [--interval 1s] [--lines N] [--status S] [--target T] [--source S] [--type E]",
		Short: "Prints new events as they arrive, until interrupted",
		Long: `
Polls GET /webhook_inbox/events on the admin endpoint every --interval and
prints each event received since the last one it printed, oldest first,
until interrupted (ctrl-C). It starts with the --lines newest events. The
filters are those of 'caddy webhook events'. A failed poll is reported on
standard error and retried at the next interval.
`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	fs.Duration("interval", time.Second, "Time between polls")
	fs.Int("lines", 10, "Number of existing events to print at start")
	fs.Int("limit", 100, "Page size of each poll")
	fs.String("status", "", "Only events with this status")
	fs.String("target", "", "Only events routed to this target")
	fs.String("source", "", "Only events received by this source")
	fs.String("type", "", "Only events of this type")
	cliAddAdminFlags(fs)
	cmd.RunE = cliRun(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		interval, _ := fs.GetDuration("interval")
		if interval <= 0 {
			return fmt.Errorf("--interval %s: must be positive", interval)
		}
		lines, _ := fs.GetInt("lines")
		if lines < 0 {
			return fmt.Errorf("--lines %d: must not be negative", lines)
		}
		q, err := cliEventsQuery(fs, false)
		if err != nil {
			return err
		}
		admin, err := cliAdminFromFlags(fs)
		if err != nil {
			return err
		}
		t := &cliTailer{
			admin:    admin,
			query:    q,
			lines:    lines,
			out:      cmd.OutOrStdout(),
			errOut:   cmd.ErrOrStderr(),
			lastKeys: map[string]bool{},
			untimed:  map[string]bool{},
		}
		return t.run(ctx, interval)
	})
	return cmd
}

// cliTailer remembers the newest event it printed. Events are new when
// received after it, or at the same instant under another source and ID.
type cliTailer struct {
	admin  cliAdmin
	query  url.Values
	lines  int
	out    io.Writer
	errOut io.Writer

	started  bool
	lastTime time.Time
	lastKeys map[string]bool // events received at lastTime
	untimed  map[string]bool // events without a readable receive time
	lastErr  string
}

// cliMaxUntimed bounds the memory of events without a receive time.
const cliMaxUntimed = 100000

// run polls until ctx ends. A failure of the first poll is returned (a
// wrong address or filter); later failures are reported and retried.
func (t *cliTailer) run(ctx context.Context, interval time.Duration) error {
	if err := t.poll(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		err := t.poll(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && err.Error() != t.lastErr:
			fmt.Fprintf(t.errOut, "tail: %v (retrying every %s)\n", err, interval)
			t.lastErr = err.Error()
		case err == nil:
			t.lastErr = ""
		}
	}
}

// poll fetches the newest events, following cursors while whole pages are
// new, and prints the new ones oldest first.
func (t *cliTailer) poll(ctx context.Context) error {
	q := maps.Clone(t.query)
	var fresh []map[string]any
	for range cliTailMaxPages {
		body, err := t.admin.do(ctx, http.MethodGet, cliWithQuery(adminapi.EventsPath, q), nil)
		if err != nil {
			return err
		}
		events, next, err := cliDecodeEvents(body)
		if err != nil {
			return err
		}
		allNew := true
		for _, ev := range events {
			if t.isNew(ev) {
				fresh = append(fresh, ev)
			} else {
				allNew = false
			}
		}
		if !t.started || !allNew || next == "" {
			break
		}
		q.Set("cursor", next)
	}
	// The list is newest first; print oldest first.
	slices.Reverse(fresh)
	slices.SortStableFunc(fresh, func(a, b map[string]any) int {
		ta, oka := cliReceivedAt(a)
		tb, okb := cliReceivedAt(b)
		if !oka || !okb {
			return 0
		}
		return ta.Compare(tb)
	})
	show := fresh
	if !t.started {
		show = fresh[max(0, len(fresh)-t.lines):]
		t.started = true
	}
	for _, ev := range show {
		row := cliEventRow(ev)
		fmt.Fprintf(t.out, "%s  %s  %s  %s  %s  %s\n", row[5], row[0], row[1], row[2], row[3], row[4])
	}
	for _, ev := range fresh {
		t.markSeen(ev)
	}
	return nil
}

// cliReceivedAt reads an event's receive time.
func cliReceivedAt(ev map[string]any) (time.Time, bool) {
	s, ok := ev["received_at"].(string)
	if !ok {
		return time.Time{}, false
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	return ts, err == nil
}

// cliEventKey identifies an event: IDs are unique per source.
func cliEventKey(ev map[string]any) string {
	return cliString(ev["source"]) + "\x00" + cliString(ev["id"])
}

// isNew reports whether ev was not printed yet.
func (t *cliTailer) isNew(ev map[string]any) bool {
	key := cliEventKey(ev)
	ts, ok := cliReceivedAt(ev)
	if !ok {
		return !t.untimed[key]
	}
	return ts.After(t.lastTime) || ts.Equal(t.lastTime) && !t.lastKeys[key]
}

// markSeen records ev as printed.
func (t *cliTailer) markSeen(ev map[string]any) {
	key := cliEventKey(ev)
	ts, ok := cliReceivedAt(ev)
	switch {
	case !ok:
		if len(t.untimed) >= cliMaxUntimed {
			clear(t.untimed)
		}
		t.untimed[key] = true
	case ts.After(t.lastTime):
		t.lastTime = ts
		clear(t.lastKeys)
		t.lastKeys[key] = true
	case ts.Equal(t.lastTime):
		t.lastKeys[key] = true
	}
}
