package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Expressions from the README's example Caddyfile.
const (
	designPagerRule = `event.event == "cost.exceeded" && event.data.excess > 100.0`
	designAppRule   = `event.event.startsWith("request.")`
	designIDExpr    = `headers["X-UniCraft-Event-Id"]`
)

// loadEvent decodes testdata/events/name.json the way ingress does, with
// encoding/json into a map (numbers become float64).
func loadEvent(tb testing.TB, name string) map[string]any {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "events", name+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	return decodeEvent(tb, string(raw))
}

// decodeEvent decodes a JSON object literal into the map an expression sees.
func decodeEvent(tb testing.TB, raw string) map[string]any {
	tb.Helper()
	var event map[string]any
	if err := json.Unmarshal([]byte(raw), &event); err != nil {
		tb.Fatalf("decoding %s: %v", raw, err)
	}
	return event
}

// seedVars wraps an event with the headers and addresses of a typical UniCraft
// delivery. Header names are in Go's canonical form, as in http.Header.
func seedVars(event map[string]any) *Vars {
	return &Vars{
		Event: event,
		Headers: map[string]string{
			"Content-Type":         "application/json",
			"X-Unicraft-Signature": "sha256=00",
			"X-Unicraft-Event-Id":  "evt_123",
		},
		SourceIP: "10.0.0.50",
		Source:   "unicraft",
	}
}

// mustRule compiles expr or fails the test.
func mustRule(tb testing.TB, expr string) *Rule {
	tb.Helper()
	r, err := CompileRule(expr)
	if err != nil {
		tb.Fatalf("CompileRule(%q): %v", expr, err)
	}
	return r
}
