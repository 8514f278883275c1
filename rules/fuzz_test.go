package rules

import (
	"errors"
	"testing"
)

// FuzzCompileRule checks that no input makes compiling panic, that a failure is
// always a *CompileError, and that a rule that compiles evaluates without panicking.
func FuzzCompileRule(f *testing.F) {
	for _, seed := range []string{
		designPagerRule,
		designAppRule,
		`headers["X-UniCraft-Event-Id"] == "x"`,
		`source_ip.startsWith("10.") || source == "unicraft"`,
		`event.data.affected_models.exists(m, m == "gpt-4")`,
		`event.items.all(x, event.items.all(y, x == y))`,
		"event.event ==\n  ",
		`size(event.data.error_types) > 1 && event.data.error_types[0].count >= 25.0`,
		``,
	} {
		f.Add(seed)
	}
	vars := seedVars(decodeEvent(f, `{
		"event": "error.high_rate",
		"id": 7,
		"items": [1, 2, 3],
		"data": {"error_rate": 0.15, "excess": 150.0, "affected_models": ["gpt-4"],
			"error_types": [{"type": "rate_limit_exceeded", "count": 25}, {"type": "invalid_request", "count": 10}]}
	}`))
	f.Fuzz(func(t *testing.T, expr string) {
		r, err := CompileRule(expr)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("CompileRule(%q) error %v is %T, want *CompileError", expr, err, err)
			}
			if ce.Rule != expr || ce.Msg == "" || ce.Line < 0 || (ce.Line > 0 && ce.Column < 1) {
				t.Fatalf("CompileRule(%q) gave a malformed error %#v", expr, ce)
			}
		} else {
			if r.String() != expr {
				t.Fatalf("String() = %q, want %q", r.String(), expr)
			}
			if ok, err := r.Match(vars); ok && err != nil {
				t.Fatalf("Match(%q) = true with error %v", expr, err)
			}
			if ok, err := r.Match(nil); ok && err != nil {
				t.Fatalf("Match(%q, nil) = true with error %v", expr, err)
			}
		}
		if e, err := CompileID(expr); err == nil {
			if id, err := e.Eval(vars); err == nil && id == "" {
				t.Fatalf("Eval(%q) = empty id without error", expr)
			}
		}
	})
}
