package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"
)

// The admin API's answers are read liberally: decoded into maps, with the
// fields the commands print looked up under the names the admin API uses and a
// few likely alternatives, so a renamed or added field degrades the table
// rather than breaking the command. --json shows the whole answer, indented.

// cliDecode parses JSON keeping numbers exact (event sequence numbers do
// not fit a float64).
func cliDecode(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// cliDecodeObject parses body as a JSON object.
func cliDecodeObject(body []byte) (map[string]any, bool) {
	v, err := cliDecode(body)
	if err != nil {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok
}

// cliField returns the first of keys present in m.
func cliField(m map[string]any, keys ...string) (any, bool) {
	for _, k := range keys {
		if v, ok := m[k]; ok && v != nil {
			return v, true
		}
	}
	return nil, false
}

// cliString renders a decoded JSON value on one line. Strings are made
// safe for a terminal: they come from senders, so control characters
// (escape sequences) are replaced.
func cliString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return cliSafe(v)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return cliSafe(string(b))
	}
}

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

// cliDecodeEvents reads a GET /webhook_inbox/events answer: an object with
// an "events" array and a "next_cursor" string (or a bare array).
func cliDecodeEvents(body []byte) ([]map[string]any, string, error) {
	v, err := cliDecode(body)
	if err != nil {
		return nil, "", fmt.Errorf("decoding the events list: %w", err)
	}
	var list []any
	var next string
	switch v := v.(type) {
	case []any:
		list = v
	case map[string]any:
		if l, ok := cliField(v, "events", "items"); ok {
			list, _ = l.([]any)
		}
		if c, ok := cliField(v, "next_cursor", "cursor", "next"); ok {
			next = cliString(c)
		}
	default:
		return nil, "", fmt.Errorf("decoding the events list: unexpected %s", cliString(v))
	}
	events := make([]map[string]any, 0, len(list))
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			events = append(events, m)
		}
	}
	return events, next, nil
}

// cliEventRow is one event as a table row.
func cliEventRow(ev map[string]any) []string {
	get := func(keys ...string) string {
		v, _ := cliField(ev, keys...)
		return cliString(v)
	}
	return []string{
		get("id"),
		get("source"),
		get("type", "event"),
		get("status"),
		cliTargetNames(ev),
		cliTime(get("received_at", "received")),
	}
}

// cliPrintEventTable prints events as a table.
func cliPrintEventTable(w io.Writer, events []map[string]any) {
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

// cliTargetNames lists an event's targets, with each one's delivery status
// when the answer has it ("app:delivered,pager:dead").
func cliTargetNames(ev map[string]any) string {
	var names []string
	entry := func(v any) {
		switch v := v.(type) {
		case string:
			names = append(names, cliSafe(v))
		case map[string]any:
			name, _ := cliField(v, "target", "name")
			if st, ok := cliField(v, "status"); ok {
				names = append(names, cliString(name)+":"+cliString(st))
			} else {
				names = append(names, cliString(name))
			}
		}
	}
	if d, ok := cliField(ev, "deliveries"); ok {
		if list, ok := d.([]any); ok && len(list) > 0 {
			for _, v := range list {
				entry(v)
			}
			return strings.Join(names, ",")
		}
	}
	switch t, _ := cliField(ev, "targets"); t := t.(type) {
	case []any:
		for _, v := range t {
			entry(v)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(t)) {
			if st, ok := t[k].(string); ok {
				names = append(names, cliSafe(k)+":"+cliSafe(st))
			} else if m, ok := t[k].(map[string]any); ok {
				st, _ := cliField(m, "status")
				names = append(names, cliSafe(k)+":"+cliString(st))
			}
		}
	}
	return strings.Join(names, ",")
}

// cliTime shortens an RFC 3339 time to whole seconds; other text is kept.
func cliTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.Format(time.RFC3339)
}

// cliPrintEvent prints one event: its fields, headers, deliveries with
// their attempts, and the body when the answer has one.
func cliPrintEvent(w io.Writer, body []byte) error {
	ev, ok := cliDecodeObject(body)
	if !ok {
		return cliPrintJSON(w, body)
	}
	if _, hasID := ev["id"]; !hasID {
		if inner, ok := ev["event"].(map[string]any); ok {
			ev = inner
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	done := map[string]bool{}
	for _, k := range []string{"id", "source", "type", "status", "received_at", "client_ip", "seq"} {
		if v, ok := ev[k]; ok {
			fmt.Fprintf(tw, "%s:\t%s\n", k, cliFieldValue(k, v))
			done[k] = true
		}
	}
	if t := cliTargetNames(map[string]any{"targets": ev["targets"]}); t != "" {
		fmt.Fprintf(tw, "targets:\t%s\n", strings.ReplaceAll(t, ",", ", "))
	}
	done["targets"] = true
	for _, k := range slices.Sorted(maps.Keys(ev)) {
		if done[k] || cliIsComposite(ev[k]) || k == "body" || k == "payload" {
			continue
		}
		fmt.Fprintf(tw, "%s:\t%s\n", cliSafe(k), cliFieldValue(k, ev[k]))
		done[k] = true
	}
	tw.Flush()

	if h, ok := ev["headers"].(map[string]any); ok {
		fmt.Fprintln(w, "headers:")
		for _, k := range slices.Sorted(maps.Keys(h)) {
			fmt.Fprintf(w, "  %s: %s\n", cliSafe(k), cliString(h[k]))
		}
		done["headers"] = true
	}
	for _, k := range []string{"deliveries", "targets", "attempts"} {
		list, ok := ev[k].([]any)
		if !ok || (k == "targets" && !cliHasObjects(list)) {
			continue
		}
		fmt.Fprintf(w, "%s:\n", k)
		for _, item := range list {
			cliPrintDelivery(w, item, "  ")
		}
		done[k] = true
	}
	for _, k := range []string{"body", "payload"} {
		if v, ok := ev[k]; ok {
			fmt.Fprintf(w, "%s:\n", k)
			cliPrintBody(w, v)
			done[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ev)) {
		if !done[k] {
			fmt.Fprintf(w, "%s: %s\n", cliSafe(k), cliString(ev[k]))
		}
	}
	return nil
}

// cliHasObjects reports whether list holds objects (per-target states
// with attempts) rather than plain target names.
func cliHasObjects(list []any) bool {
	for _, v := range list {
		if _, ok := v.(map[string]any); ok {
			return true
		}
	}
	return false
}

// cliIsComposite reports whether v is a JSON object or array.
func cliIsComposite(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// cliFieldValue renders a scalar field; times are shortened and a numeric
// "duration" is read as nanoseconds (how Go encodes a time.Duration).
func cliFieldValue(key string, v any) string {
	if n, ok := v.(json.Number); ok && key == "duration" {
		if ns, err := n.Int64(); err == nil {
			return time.Duration(ns).String()
		}
	}
	if s, ok := v.(string); ok {
		return cliSafe(cliTime(s))
	}
	return cliString(v)
}

// cliPrintDelivery prints one target's delivery state (or one attempt) on
// a line, then its attempts indented below it.
func cliPrintDelivery(w io.Writer, item any, indent string) {
	m, ok := item.(map[string]any)
	if !ok {
		fmt.Fprintf(w, "%s%s\n", indent, cliString(item))
		return
	}
	var parts []string
	lead := []string{"target", "name", "at", "time", "status"}
	for _, k := range lead {
		if v, ok := m[k]; ok && !cliIsComposite(v) {
			parts = append(parts, cliFieldValue(k, v))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if slices.Contains(lead, k) || cliIsComposite(m[k]) {
			continue
		}
		parts = append(parts, cliSafe(k)+"="+cliFieldValue(k, m[k]))
	}
	fmt.Fprintf(w, "%s%s\n", indent, strings.Join(parts, "  "))
	if list, ok := m["attempts"].([]any); ok {
		for _, a := range list {
			cliPrintDelivery(w, a, indent+"  ")
		}
	}
}

// cliPrintBody prints an event body: JSON indented, a base64 string
// decoded first (how Go encodes []byte), anything else as safe text.
func cliPrintBody(w io.Writer, v any) {
	var raw []byte
	switch v := v.(type) {
	case string:
		raw = []byte(v)
		if !json.Valid(raw) {
			if dec, err := base64.StdEncoding.DecodeString(v); err == nil {
				raw = dec
			}
		}
	default:
		raw, _ = json.Marshal(v)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(raw), "  ", "  "); err == nil {
		fmt.Fprintf(w, "  %s\n", cliSafeLines(buf.String()))
		return
	}
	fmt.Fprintf(w, "  %s\n", cliSafe(string(raw)))
}
