package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Bounds of one tail's work and memory.
const (
	// cliTailMaxPages bounds how many pages one poll follows when more
	// events than --limit arrived since the last poll.
	cliTailMaxPages = 20
	// cliTailMaxFollowed bounds how many pending events are followed at
	// once; past it, the longest followed one is let go.
	cliTailMaxFollowed = 1000
	// cliTailChecksPerPoll bounds how many followed events one poll asks
	// for one by one (those the listing did not show).
	cliTailChecksPerPoll = 10
)

// cliTailCommand is `caddy webhook tail`.
func cliTailCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tail [--interval 1s] [--lines N] [--status S] [--target T] [--source S] [--type E] [--follow-status=false] [--json]",
		Short: "Prints new events as they arrive, until interrupted",
		Long: `
Polls GET /webhook_inbox/events on the admin endpoint every --interval and
prints each event received since the last one it printed, oldest first,
until interrupted (ctrl-C). It starts with the --lines newest events. The
filters are those of 'caddy webhook events'. A failed poll is reported on
standard error and retried at the next interval.

A pending event it printed is followed: when a target's state changes
(delivered, a retry, dead-lettered) the event is printed again with its
new status, until it is no longer pending. It follows at most 1000 events
at once (the oldest is let go) and asks for at most 10 of them per poll;
--follow-status=false prints each event once. --json prints each event as
one line of JSON, an object of the events list's answer.
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
	fs.Bool("follow-status", true, "Print a pending event again when it is delivered or dead-lettered")
	fs.Bool("json", false, "Print each event as a line of JSON, in the events list's shape")
	cliAddAdminFlags(fs)
	cmd.RunE = cliRun(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		interval, _ := fs.GetDuration("interval")
		if interval <= 0 {
			return fmt.Errorf("--interval %s: must be positive", interval)
		}
		follow, _ := fs.GetBool("follow-status")
		asJSON, _ := fs.GetBool("json")
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
			follow:   follow,
			asJSON:   asJSON,
			lastKeys: map[cliEventKey]bool{},
			untimed:  map[cliEventKey]bool{},
			followed: newCLIFollowed(cliTailMaxFollowed),
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

	asJSON   bool // print each event as a line of JSON
	follow   bool // print the later states of pending events
	started  bool
	lastTime time.Time
	lastKeys map[cliEventKey]bool // events received at lastTime
	untimed  map[cliEventKey]bool // events without a receive time
	followed cliFollowed
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
// new, prints the new ones oldest first, and then what changed of the
// pending ones it follows.
func (t *cliTailer) poll(ctx context.Context) error {
	q := maps.Clone(t.query)
	var fresh []adminapi.EventSummary
	listed := map[cliEventKey]bool{}
	for range cliTailMaxPages {
		body, err := t.admin.do(ctx, http.MethodGet, cliWithQuery(adminapi.EventsPath, q), nil)
		if err != nil {
			return err
		}
		page, err := cliDecodeAnswer[adminapi.Events](body, "events list")
		if err != nil {
			return err
		}
		allNew := true
		for _, ev := range page.Events {
			if t.isNew(ev) {
				fresh = append(fresh, ev)
				continue
			}
			allNew = false
			if t.followed.has(cliKeyOf(ev)) {
				listed[cliKeyOf(ev)] = true
				t.update(ev)
			}
		}
		if !t.started || !allNew || page.NextCursor == "" {
			break
		}
		q.Set("cursor", page.NextCursor)
	}
	// The list is newest first; print oldest first.
	slices.Reverse(fresh)
	slices.SortStableFunc(fresh, func(a, b adminapi.EventSummary) int {
		if a.ReceivedAt.IsZero() || b.ReceivedAt.IsZero() {
			return 0
		}
		return a.ReceivedAt.Compare(b.ReceivedAt)
	})
	show := fresh
	if !t.started {
		show = fresh[max(0, len(fresh)-t.lines):]
		t.started = true
	}
	for _, ev := range show {
		row := t.print(ev)
		if t.follow && ev.Status == store.StatusPending {
			t.followed.add(cliKeyOf(ev), row)
			listed[cliKeyOf(ev)] = true
		}
	}
	for _, ev := range fresh {
		t.markSeen(ev)
	}
	return t.recheck(ctx, listed)
}

// print prints ev on one line, as text or with --json as the listing's
// JSON object, and returns its text line.
func (t *cliTailer) print(ev adminapi.EventSummary) string {
	line := cliTailLine(ev)
	if !t.asJSON {
		fmt.Fprintln(t.out, line)
		return line
	}
	b, err := json.Marshal(ev)
	if err != nil {
		fmt.Fprintln(t.errOut, "tail: encoding an event:", err)
		return line
	}
	t.out.Write(append(cliEscapeJSON(b), '\n'))
	return line
}

// cliTailLine is ev as tail prints it: receive time, ID, source, type,
// status, targets.
func cliTailLine(ev adminapi.EventSummary) string {
	row := cliEventRow(ev)
	return fmt.Sprintf("%s  %s  %s  %s  %s  %s", row[5], row[0], row[1], row[2], row[3], row[4])
}

// update prints a followed event again when its status or a target's
// changed since it was printed, and stops following it once it is no
// longer pending.
func (t *cliTailer) update(ev adminapi.EventSummary) {
	key := cliKeyOf(ev)
	last, ok := t.followed.get(key)
	if !ok {
		return
	}
	line := cliTailLine(ev)
	if line != last {
		t.print(ev)
	}
	if ev.Status == store.StatusPending {
		t.followed.set(key, line)
	} else {
		t.followed.remove(key)
	}
}

// recheck asks for up to cliTailChecksPerPoll followed events that the
// listing did not show, the longest unchecked first, and prints what
// changed. An event no longer stored (purged, expired) is dropped.
func (t *cliTailer) recheck(ctx context.Context, listed map[cliEventKey]bool) error {
	for _, key := range t.followed.due(cliTailChecksPerPoll, listed) {
		q := url.Values{"source": {key.source}}
		body, err := t.admin.do(ctx, http.MethodGet, cliWithQuery(cliEventPath(key.id), q), nil)
		var answer *cliAdminError
		if errors.As(err, &answer) && answer.status == http.StatusNotFound {
			t.followed.remove(key)
			continue
		}
		if err != nil {
			return err
		}
		ev, err := cliDecodeAnswer[adminapi.Event](body, "event")
		if err != nil {
			return err
		}
		t.update(cliSummaryOf(ev))
	}
	return nil
}

// cliSummaryOf is the listing's view of one event.
func cliSummaryOf(ev adminapi.Event) adminapi.EventSummary {
	s := adminapi.EventSummary{ID: ev.ID, Source: ev.Source, Type: ev.Type, Status: ev.Status,
		ReceivedAt: ev.ReceivedAt, ClientIP: ev.ClientIP}
	for _, d := range ev.Targets {
		s.Targets = append(s.Targets, adminapi.TargetSummary{Target: d.Target, Status: d.Status,
			Attempts: d.AttemptCount, Due: d.Due, Reason: d.Reason})
	}
	return s
}

// cliEventKey identifies an event: IDs are unique per source.
type cliEventKey struct{ source, id string }

func cliKeyOf(ev adminapi.EventSummary) cliEventKey { return cliEventKey{ev.Source, ev.ID} }

// isNew reports whether ev was not printed yet.
func (t *cliTailer) isNew(ev adminapi.EventSummary) bool {
	key := cliKeyOf(ev)
	if ev.ReceivedAt.IsZero() {
		return !t.untimed[key]
	}
	ts := ev.ReceivedAt
	return ts.After(t.lastTime) || ts.Equal(t.lastTime) && !t.lastKeys[key]
}

// markSeen records ev as printed.
func (t *cliTailer) markSeen(ev adminapi.EventSummary) {
	key := cliKeyOf(ev)
	ts := ev.ReceivedAt
	switch {
	case ts.IsZero():
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
