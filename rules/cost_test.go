package rules

import (
	"errors"
	"strings"
	"testing"
)

func TestCostCompileTime(t *testing.T) {
	tests := []struct {
		name   string
		expr   string
		reject bool
	}{
		{name: "design pager rule", expr: designPagerRule},
		{name: "design app rule", expr: designAppRule},
		{name: "header rule", expr: `headers["X-UniCraft-Event-Id"] == "x"`},
		{name: "one loop over the event", expr: `event.data.affected_models.exists(m, m == "gpt-4")`},
		{name: "one loop over the headers", expr: `headers.exists(k, k.startsWith("X-Unicraft-"))`},
		{name: "regex on an event string", expr: `event.data.error.message.matches("^(rate|quota) limit exceeded for model gpt-4.*$")`},
		{name: "nested loop over literals", expr: `[1, 2, 3].all(a, [4, 5, 6].all(b, a < b))`},
		{name: "triple loop over the event", reject: true,
			expr: `event.items.all(x, event.items.all(y, event.items.all(z, x == y)))`},
		{name: "double loop over the event", reject: true,
			expr: `event.items.exists(x, event.items.exists(y, x == y))`},
		{name: "string repeat combo", reject: true,
			expr: `(event.s + event.s + event.s + event.s + event.s + event.s + event.s + event.s).contains(event.s + event.s)`},
		{name: "string building in a loop", reject: true,
			expr: `event.items.exists(x, (event.s + event.s).contains(event.s))`},
		{name: "regex of unknown size", reject: true,
			expr: `event.items.exists(x, event.s.matches(event.pattern))`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileRule(tc.expr)
			if !tc.reject {
				if err != nil {
					t.Fatalf("CompileRule: %v", err)
				}
				return
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v, want a *CompileError for the cost", err)
			}
			if !strings.Contains(ce.Msg, "exceeds the limit of 1000000") || ce.Line != 1 || ce.Column < 1 {
				t.Errorf("error = %v, want an estimated cost over the limit at a position", err)
			}
		})
	}
}

func TestCostRuntime(t *testing.T) {
	numbers := func(n int) []any {
		list := make([]any, n)
		for i := range list {
			list[i] = float64(i)
		}
		return list
	}
	tests := []struct {
		name    string
		expr    string
		items   int
		want    bool
		stopped bool
	}{
		{name: "loop under the budget", expr: `event.items.all(x, x >= 0.0)`, items: MaxIterations - 1, want: true},
		{name: "loop at the budget stops", expr: `event.items.all(x, x >= 0.0)`, items: MaxIterations, stopped: true},
		{name: "loop over a 1 MiB body's list stops", expr: `event.items.all(x, x >= 0.0)`, items: 300_000, stopped: true},
		{name: "short-circuit ends early", expr: `event.items.exists(x, x == 10.0)`, items: 300_000, want: true},
		{name: "budget is shared by all loops",
			expr:  `event.items.filter(x, x >= 0.0).size() > 0 && event.items.map(x, x + 1.0).size() > 0`,
			items: MaxIterations/2 + 1, stopped: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRule(t, tc.expr)
			got, err := r.Match(&Vars{Event: map[string]any{"items": numbers(tc.items)}})
			if tc.stopped {
				if !errors.Is(err, ErrCostLimit) || got {
					t.Fatalf("Match = %v, %v; want false and ErrCostLimit", got, err)
				}
				if !strings.Contains(err.Error(), `evaluating rule "`+tc.expr) {
					t.Errorf("error = %q, want it to name the rule", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Match = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestCostRuntimeDoesNotLeakBetweenEvaluations(t *testing.T) {
	r := mustRule(t, `event.items.all(x, x >= 0.0)`)
	items := make([]any, MaxIterations*2/3)
	for i := range items {
		items[i] = 1.0
	}
	v := &Vars{Event: map[string]any{"items": items}}
	for i := range 3 {
		if ok, err := r.Match(v); !ok || err != nil {
			t.Fatalf("evaluation %d: Match = %v, %v; want true (the budget is per evaluation)", i, ok, err)
		}
	}
}
