package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
)

// cliPrintEvent prints one event (GET /webhook_inbox/events/{id}): its
// fields, headers, every target's delivery state with its attempts, and
// the body. Every sender-chosen text is made safe for a terminal.
func cliPrintEvent(w io.Writer, ev adminapi.Event) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", name, value)
		}
	}
	field("id", cliSafe(ev.ID))
	field("source", cliSafe(ev.Source))
	field("type", cliSafe(ev.Type))
	field("status", cliSafe(string(ev.Status)))
	if !ev.ReceivedAt.IsZero() {
		field("received_at", cliTime(ev.ReceivedAt))
	}
	field("client_ip", cliSafe(ev.ClientIP))
	tw.Flush()

	if len(ev.Headers) > 0 {
		fmt.Fprintln(w, "headers:")
		for _, k := range slices.Sorted(maps.Keys(ev.Headers)) {
			fmt.Fprintf(w, "  %s: %s\n", cliSafe(k), cliSafe(ev.Headers[k]))
		}
	}
	if len(ev.Targets) == 0 {
		fmt.Fprintln(w, "targets: none (unrouted)")
	} else {
		fmt.Fprintln(w, "targets:")
		for _, t := range ev.Targets {
			cliPrintTargetDetail(w, t)
		}
	}
	cliPrintBody(w, ev)
}

// cliPrintTargetDetail prints one target's delivery state on a line and
// its attempts, oldest first, indented below it.
func cliPrintTargetDetail(w io.Writer, t adminapi.TargetDetail) {
	parts := []string{cliSafe(t.Target), cliSafe(string(t.Status)), "attempts=" + fmt.Sprint(t.AttemptCount)}
	if t.RunAttempts != t.AttemptCount {
		parts = append(parts, "run_attempts="+fmt.Sprint(t.RunAttempts))
	}
	if !t.Due.IsZero() {
		parts = append(parts, "due="+cliTime(t.Due))
	}
	if t.Reason != "" {
		parts = append(parts, "reason="+cliSafe(t.Reason))
	}
	fmt.Fprintf(w, "  %s\n", strings.Join(parts, "  "))
	for _, a := range t.Attempts {
		cliPrintAttempt(w, a)
	}
}

// cliPrintAttempt prints one attempt: when, the answer's status (or that
// none came, and why), how long it took, and the answer's excerpt below
// it, line by line.
func cliPrintAttempt(w io.Writer, a adminapi.Attempt) {
	line := fmt.Sprintf("    %s  %d  %s", cliTime(a.At), a.Status, cliDurationMS(a.DurationMS))
	if a.Status == 0 {
		// Status 0 is no answer at all: a timeout or a connection error.
		line = fmt.Sprintf("    %s  no response", cliTime(a.At))
		if a.Error != "" {
			line += ": " + cliSafe(a.Error)
		}
		line += "  " + cliDurationMS(a.DurationMS)
	} else if a.Error != "" {
		line += "  error: " + cliSafe(a.Error)
	}
	fmt.Fprintln(w, line)
	cliPrintText(w, a.Body, "      | ")
}

// cliDurationMS shows milliseconds as a duration, to 0.1ms (µs below 1ms).
func cliDurationMS(ms float64) string {
	d := time.Duration(ms * float64(time.Millisecond))
	if d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

// cliPrintText prints sender-chosen text line by line, each line after
// prefix and made safe for a terminal: line breaks (\n, \r\n) end lines,
// a tab is two spaces, and every other control is replaced. Trailing
// blank lines are left out.
func cliPrintText(w io.Writer, text, prefix string) {
	text = strings.TrimRight(text, "\r\n\t ")
	if text == "" {
		return
	}
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		fmt.Fprintf(w, "%s%s\n", prefix, cliSafe(strings.ReplaceAll(line, "\t", "  ")))
	}
}

// cliPrintBody prints the event's body: JSON indented, text read from
// its base64 line by line, and a binary body as its size only (--json
// has it).
func cliPrintBody(w io.Writer, ev adminapi.Event) {
	if ev.BodySize == 0 && len(ev.Body) == 0 {
		fmt.Fprintln(w, "body: (empty)")
		return
	}
	size := cliCount(ev.BodySize, "byte", "bytes")
	switch ev.BodyEncoding {
	case "json":
		var buf bytes.Buffer
		if err := json.Indent(&buf, ev.Body, "  ", "  "); err == nil {
			fmt.Fprintf(w, "body (JSON, %s):\n  %s\n", size, cliSafeLines(buf.String()))
			return
		}
	case "base64":
		var enc string
		if err := json.Unmarshal(ev.Body, &enc); err == nil {
			raw, err := base64.StdEncoding.DecodeString(enc)
			if err == nil && utf8.Valid(raw) && !bytes.ContainsRune(raw, 0) {
				fmt.Fprintf(w, "body (text, %s):\n", size)
				cliPrintText(w, string(raw), "  ")
				return
			}
			if err == nil {
				fmt.Fprintf(w, "body: %s of binary data (--json shows it in base64)\n", size)
				return
			}
		}
	}
	fmt.Fprintf(w, "body (%s, %s):\n  %s\n", cliSafe(ev.BodyEncoding), size, cliSafe(string(ev.Body)))
}
