package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
)

// cliMaxAdminBody caps how much of an admin answer is read.
const cliMaxAdminBody = 64 << 20

// cliEventStatuses are the values `webhook events --status` accepts.
var cliEventStatuses = []string{"pending", "delivered", "dead", "unrouted", "orphaned"}

// cliAddAdminFlags adds the flags Caddy's own admin commands (reload, stop)
// use to find the admin endpoint.
func cliAddAdminFlags(fs *pflag.FlagSet) {
	fs.String("address", "", "Address of the administration endpoint, if different from the config")
	fs.StringP("config", "c", "", "Configuration file to read the admin address from")
	fs.StringP("adapter", "a", "", "Name of the config adapter to apply to --config")
}

// cliAdmin talks to a running Caddy's admin endpoint.
type cliAdmin struct {
	addr string
}

// cliAdminFromFlags finds the admin address the way `caddy reload` does:
// --address, else the admin listener of --config (adapted with --adapter),
// else Caddy's default.
func cliAdminFromFlags(fs *pflag.FlagSet) (cliAdmin, error) {
	address, err := fs.GetString("address")
	if err != nil {
		return cliAdmin{}, err
	}
	config, err := fs.GetString("config")
	if err != nil {
		return cliAdmin{}, err
	}
	adapter, err := fs.GetString("adapter")
	if err != nil {
		return cliAdmin{}, err
	}
	addr, err := caddycmd.DetermineAdminAPIAddress(address, nil, config, adapter)
	if err != nil {
		return cliAdmin{}, fmt.Errorf("finding the admin address: %w", err)
	}
	return cliAdmin{addr: addr}, nil
}

// do sends method uri with body (JSON-encoded, when not nil) and returns the
// answer's body. A non-2xx answer is an error that carries the status and
// the admin's JSON error body. It returns as soon as ctx ends.
func (a cliAdmin) do(ctx context.Context, method, uri string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding request to %s: %w", uri, err)
		}
		rd = bytes.NewReader(b)
	}
	// One connection per request: caddycmd makes a new transport each
	// time, so a kept-alive connection would only linger (tail polls).
	hdr := http.Header{"Connection": []string{"close"}}
	type answer struct {
		body []byte
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		resp, err := caddycmd.AdminAPIRequest(a.addr, method, uri, hdr, rd)
		if err != nil {
			ch <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, cliMaxAdminBody))
		if err == nil && (resp.StatusCode < 200 || resp.StatusCode > 299) {
			err = &cliAdminError{status: resp.StatusCode, message: cliAdminMessage(b)}
		}
		ch <- answer{body: b, err: err}
	}()
	select {
	case ans := <-ch:
		if ans.err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, uri, cliSafeError{cliAdminErrorOf(ans.err)})
		}
		return ans.body, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// cliAdminError is an error answer of the admin API: its status and the
// message of its {"error":"…"} body.
type cliAdminError struct {
	status  int
	message string
}

func (e *cliAdminError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.message) }

// cliAdminMessage is the text of an error answer: the "error" of a JSON
// {"error":"…"}, decoded (Caddy's encoder writes '<' as \u003c), else the
// body as it came.
func cliAdminMessage(body []byte) string {
	var answer struct {
		Error *string `json:"error"`
	}
	if err := json.Unmarshal(body, &answer); err == nil && answer.Error != nil {
		return *answer.Error
	}
	return string(bytes.TrimSpace(body))
}

// cliAdminErrorPrefix starts the error caddycmd.AdminAPIRequest returns
// for an answer of 400 or more, followed by the status and the body.
const cliAdminErrorPrefix = "caddy responded with error: HTTP "

// cliAdminErrorOf turns caddycmd's error for an error answer, which
// quotes the body raw, into a cliAdminError; other errors are kept.
func cliAdminErrorOf(err error) error {
	rest, ok := strings.CutPrefix(err.Error(), cliAdminErrorPrefix)
	if !ok {
		return err
	}
	code, body, ok := strings.Cut(rest, ": ")
	status, convErr := strconv.Atoi(code)
	if !ok || convErr != nil {
		return err
	}
	return &cliAdminError{status: status, message: cliAdminMessage([]byte(body))}
}

// cliSafeError is an error whose text is made safe for a terminal: an
// admin error answer may quote sender-chosen IDs and types.
type cliSafeError struct{ err error }

func (e cliSafeError) Error() string { return cliSafe(e.err.Error()) }
func (e cliSafeError) Unwrap() error { return e.err }

// cliEventsQuery builds the query of GET /webhook_inbox/events from flags.
func cliEventsQuery(fs *pflag.FlagSet, withCursor bool) (url.Values, error) {
	q := url.Values{}
	for _, name := range []string{"status", "target", "source", "type", "since", "until", "cursor"} {
		if name == "cursor" && !withCursor || fs.Lookup(name) == nil {
			continue
		}
		v, err := fs.GetString(name)
		if err != nil {
			return nil, err
		}
		if v == "" {
			continue
		}
		if name == "status" && !slices.Contains(cliEventStatuses, v) {
			return nil, fmt.Errorf("--status %q: want one of pending, delivered, dead, unrouted, orphaned", v)
		}
		q.Set(name, v)
	}
	limit, err := fs.GetInt("limit")
	if err != nil {
		return nil, err
	}
	if limit < 0 {
		return nil, fmt.Errorf("--limit %d: must not be negative", limit)
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	return q, nil
}

// cliWithQuery appends q to path when it is not empty.
func cliWithQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// cliEventPath is the admin path of one event; the ID is escaped, since
// event IDs are sender-chosen and may hold '/', '?' or spaces.
func cliEventPath(id string) string {
	return adminapi.EventsPath + "/" + cliPathSegment(id)
}

// cliEventURI is the admin URI of one event (with suffix, such as
// "/replay"), naming its source when --source gives one: an ID that two
// sources hold is two events, and the admin API answers 409 without it.
func cliEventURI(id, suffix string, fs *pflag.FlagSet, q url.Values) string {
	if source, _ := fs.GetString("source"); source != "" {
		if q == nil {
			q = url.Values{}
		}
		q.Set("source", source)
	}
	return cliWithQuery(cliEventPath(id)+suffix, q)
}

// cliAddSourceFlag adds --source to a per-event command.
func cliAddSourceFlag(fs *pflag.FlagSet) {
	fs.String("source", "", "The event's source (the handler's name); needed when two sources hold the ID")
}

// cliPathSegment escapes s as one path segment. url.PathEscape leaves
// dots alone, so the IDs "." and ".." would be dot segments, which HTTP
// clients and Caddy's admin server clean away: `webhook replay ..` became
// POST /webhook_inbox/replay. Their dots are escaped as %2E; the admin
// API unescapes the segment.
func cliPathSegment(s string) string {
	esc := url.PathEscape(s)
	if esc == "." || esc == ".." {
		return strings.ReplaceAll(esc, ".", "%2E")
	}
	return esc
}

// cliEventsCommand is `caddy webhook events`.
func cliEventsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events [--status pending|delivered|dead|unrouted|orphaned] [--target T] [--source S] [--type E] [--since T] [--until T] [--limit N] [--cursor C] [--json]",
		Short: "Lists stored events over the admin API",
		Long: `
Lists stored events, newest first, with GET /webhook_inbox/events on the
admin endpoint: ID, source, type, status, targets (with each target's
delivery status) and receive time. --since and --until bound the receive
time (--since included, --until not); each takes an RFC 3339 time
(2024-01-20T10:30:00Z), Unix seconds, or a duration meaning that long ago
(90m). When there are more, it prints the cursor that continues the list
(--cursor). --json prints the admin's answer.
`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	fs.String("status", "", "Only events with this status: pending, delivered, dead, unrouted or orphaned")
	fs.String("target", "", "Only events routed to this target")
	fs.String("source", "", "Only events received by this source (handler name)")
	fs.String("type", "", "Only events of this type (the payload's \"event\")")
	fs.String("since", "", "Only events received at or after this time: RFC 3339, Unix seconds, or a duration ago (1h)")
	fs.String("until", "", "Only events received before this time: RFC 3339, Unix seconds, or a duration ago (1h)")
	fs.Int("limit", 0, "Page size (default: the admin API's)")
	fs.String("cursor", "", "Continue a previous listing")
	fs.Bool("json", false, "Print the raw JSON answer")
	cliAddAdminFlags(fs)
	cmd.RunE = cliRun(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
		q, err := cliEventsQuery(cmd.Flags(), true)
		if err != nil {
			return err
		}
		admin, err := cliAdminFromFlags(cmd.Flags())
		if err != nil {
			return err
		}
		body, err := admin.do(ctx, http.MethodGet, cliWithQuery(adminapi.EventsPath, q), nil)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
			return cliPrintJSON(out, body)
		}
		page, err := cliDecodeAnswer[adminapi.Events](body, "events list")
		if err != nil {
			return err
		}
		cliPrintEventTable(out, page.Events)
		if page.NextCursor != "" {
			fmt.Fprintf(out, "\nnext cursor: %s\n", cliSafe(page.NextCursor))
		}
		return nil
	})
	return cmd
}

// cliEventCommand is `caddy webhook event`.
func cliEventCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "event <id> [--source S] [--json]",
		Short: "Shows one stored event over the admin API",
		Long: `
Shows one event with GET /webhook_inbox/events/{id} on the admin endpoint:
its fields, headers, every target's delivery state and attempts, and the
body when the admin API includes it. --json prints the admin's answer.
`,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().Bool("json", false, "Print the raw JSON answer")
	cliAddSourceFlag(cmd.Flags())
	cliAddAdminFlags(cmd.Flags())
	cmd.RunE = cliRun(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		if args[0] == "" {
			return fmt.Errorf("event id is empty")
		}
		admin, err := cliAdminFromFlags(cmd.Flags())
		if err != nil {
			return err
		}
		body, err := admin.do(ctx, http.MethodGet, cliEventURI(args[0], "", cmd.Flags(), nil), nil)
		if err != nil {
			return err
		}
		if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
			return cliPrintJSON(cmd.OutOrStdout(), body)
		}
		ev, err := cliDecodeAnswer[adminapi.Event](body, "event")
		if err != nil {
			return err
		}
		cliPrintEvent(cmd.OutOrStdout(), ev)
		return nil
	})
	return cmd
}
