package rules

import (
	"testing"
)

// BenchmarkRouterTargets routes decoded seed events through the two routes of
// the README's example Caddyfile.
func BenchmarkRouterTargets(b *testing.B) {
	r := designRouter(b)
	cases := []struct {
		name string
		vars *Vars
	}{
		{name: "cost.exceeded", vars: seedVars(loadEvent(b, "cost_exceeded"))},
		{name: "request.completed", vars: seedVars(loadEvent(b, "request_completed"))},
		{name: "provider.unavailable", vars: seedVars(loadEvent(b, "provider_unavailable"))},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(r.Targets(tc.vars, nil)) == 0 {
					b.Fatal("no targets")
				}
			}
		})
	}
}

// BenchmarkIDExpr evaluates the event-ID expression of the README's example and a body field.
func BenchmarkIDExpr(b *testing.B) {
	vars := seedVars(decodeEvent(b, `{"id": "evt_body", "event": "request.completed"}`))
	cases := []struct {
		name string
		expr string
	}{
		{name: "header", expr: designIDExpr},
		{name: "body", expr: `event.id`},
	}
	for _, tc := range cases {
		e, err := CompileID(tc.expr)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Eval(vars); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRuleMatchLoop measures a rule with a loop, which runs under the
// iteration budget.
func BenchmarkRuleMatchLoop(b *testing.B) {
	r := mustRule(b, `event.data.affected_models.exists(m, m == "gpt-3.5-turbo")`)
	vars := seedVars(loadEvent(b, "provider_unavailable"))
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := r.Match(vars); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkCompileRule measures compiling a route rule at config load.
func BenchmarkCompileRule(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CompileRule(designPagerRule); err != nil {
			b.Fatal(err)
		}
	}
}
