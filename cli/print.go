package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
)

// cliSafe replaces terminal controls, so sender-chosen text cannot move
// the cursor, recolour the terminal, reorder what follows or break a
// table row.
func cliSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if cliTerminalControl(r) {
			return '?'
		}
		return r
	}, s)
}

// cliSafeLines is cliSafe that keeps line breaks.
func cliSafeLines(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\n' && cliTerminalControl(r) {
			return '?'
		}
		return r
	}, s)
}

// cliTerminalControl reports whether a terminal acts on r rather than
// showing it: C0 and C1 controls and DEL (escape sequences start with
// ESC or with the C1 CSI), and the bidirectional controls that make the
// text after them read in another order (embeddings and overrides
// U+202A–U+202E, isolates U+2066–U+2069, and the marks U+200E, U+200F
// and U+061C).
func cliTerminalControl(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// cliPrintJSON prints body indented, or as safe text when it is not JSON.
func cliPrintJSON(w io.Writer, body []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(body), "", "  "); err != nil {
		_, err = fmt.Fprintln(w, cliSafe(string(bytes.TrimSpace(body))))
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(cliEscapeJSON(buf.Bytes()))
	return err
}

// cliEscapeJSON rewrites the terminal controls that encoding/json leaves
// raw in strings (DEL, C1 and bidi controls; it escapes C0 itself) as
// \uXXXX escapes, and invalid UTF-8 as \ufffd, so valid JSON still means
// the same and is safe to print. Outside strings valid JSON is ASCII, so
// every such character is inside a string, where the escape is
// equivalent; C0 bytes are left alone, as only whitespace between tokens
// can hold them.
func cliEscapeJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case r >= 0x20 && cliTerminalControl(r):
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}

// cliDecodeAnswer parses an admin answer into its adminapi type; what
// names the answer in the error.
func cliDecodeAnswer[T any](body []byte, what string) (T, error) {
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("decoding the %s: %w", what, cliSafeError{err})
	}
	return v, nil
}

// cliEventRow is one event as a table row: ID, source, type, status,
// targets with their states, receive time.
func cliEventRow(ev adminapi.EventSummary) []string {
	return []string{
		cliSafe(ev.ID),
		cliSafe(ev.Source),
		cliSafe(ev.Type),
		cliSafe(string(ev.Status)),
		cliTargetStates(ev.Targets),
		cliTime(ev.ReceivedAt),
	}
}

// cliPrintEventTable prints events as a table.
func cliPrintEventTable(w io.Writer, events []adminapi.EventSummary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSOURCE\tTYPE\tSTATUS\tTARGETS\tRECEIVED")
	for _, ev := range events {
		fmt.Fprintln(tw, strings.Join(cliEventRow(ev), "\t"))
	}
	tw.Flush()
	if len(events) == 0 {
		fmt.Fprintln(w, "(no events)")
	}
}

// cliTargetStates lists an event's targets with each one's delivery
// status ("app:delivered,pager:dead"); "-" for an unrouted event.
func cliTargetStates(targets []adminapi.TargetSummary) string {
	if len(targets) == 0 {
		return "-"
	}
	names := make([]string, 0, len(targets))
	for _, t := range targets {
		names = append(names, cliSafe(t.Target)+":"+cliSafe(string(t.Status)))
	}
	return strings.Join(names, ",")
}

// cliTime shows a time to the second; the zero time is "-".
func cliTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// cliCount says n of a thing, singular for one: "1 request", "2 requests".
func cliCount[N int | int64](n N, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
