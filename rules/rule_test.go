package rules

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestRuleMatch(t *testing.T) {
	completed := loadEvent(t, "request_completed")
	costOver := decodeEvent(t, `{"event":"cost.exceeded","data":{"excess":150.0,"limit":1000.0}}`)
	costUnder := loadEvent(t, "cost_exceeded") // the seed's excess is 50.0
	unavailable := loadEvent(t, "provider_unavailable")

	tests := []struct {
		name string
		expr string
		vars *Vars
		want bool
	}{
		{name: "pager rule matches a large excess", expr: designPagerRule, vars: seedVars(costOver), want: true},
		{name: "pager rule skips a small excess", expr: designPagerRule, vars: seedVars(costUnder), want: false},
		{name: "pager rule short-circuits other events", expr: designPagerRule, vars: seedVars(completed), want: false},
		{name: "app rule matches request events", expr: designAppRule, vars: seedVars(completed), want: true},
		{name: "app rule skips cost events", expr: designAppRule, vars: seedVars(costOver), want: false},
		{name: "header equals", expr: `headers["X-UniCraft-Event-Id"] == "x"`,
			vars: &Vars{Headers: map[string]string{"X-UniCraft-Event-Id": "x"}}, want: true},
		{name: "header differs", expr: `headers["X-UniCraft-Event-Id"] == "x"`, vars: seedVars(completed), want: false},
		{name: "header presence", expr: `"X-UniCraft-Event-Id" in headers`, vars: seedVars(completed), want: true},
		{name: "header lookup ignores case", expr: `headers["x-unicraft-event-id"] == "evt_123" && headers["X-UniCraft-Event-Id"] == "evt_123"`,
			vars: seedVars(completed), want: true},
		{name: "header lookup ignores case in non-canonical maps", expr: `headers["X-UniCraft-Event-Id"] == "x"`,
			vars: &Vars{Headers: map[string]string{"x-unicraft-event-id": "x"}}, want: true},
		{name: "header absence", expr: `!("X-Missing" in headers)`, vars: seedVars(completed), want: true},
		{name: "header iteration sees canonical names", expr: `headers.exists(k, k == "X-Unicraft-Signature") && size(headers) == 3`,
			vars: seedVars(completed), want: true},
		{name: "source ip prefix", expr: `source_ip.startsWith("10.")`, vars: seedVars(completed), want: true},
		{name: "source ip other", expr: `source_ip.startsWith("10.")`, vars: &Vars{SourceIP: "192.168.1.100"}, want: false},
		{name: "source name", expr: `source == "unicraft"`, vars: seedVars(completed), want: true},
		{name: "json integer equals int literal", expr: `event.data.response_time == 1250`, vars: seedVars(completed), want: true},
		{name: "json number compared with int literal", expr: `event.data.excess > 100`, vars: seedVars(costOver), want: true},
		{name: "nested field", expr: `event.data.tokens.total >= 75.0`, vars: seedVars(completed), want: true},
		{name: "has guards a missing field", expr: `has(event.data.excess) && event.data.excess > 100.0`, vars: seedVars(completed), want: false},
		{name: "list membership", expr: `"gpt-4" in event.data.affected_models`, vars: seedVars(unavailable), want: true},
		{name: "exists over a list", expr: `event.data.affected_models.exists(m, m.startsWith("gpt-3"))`, vars: seedVars(unavailable), want: true},
		{name: "size of a list is an int", expr: `size(event.data.affected_models) == 2`, vars: seedVars(unavailable), want: true},
		{name: "regex", expr: `event.event.matches("^provider\\.(unavailable|recovered)$")`, vars: seedVars(unavailable), want: true},
		{name: "nil vars see empty values", expr: `source == "" && size(headers) == 0 && size(event) == 0`, vars: nil, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRule(t, tc.expr)
			if r.String() != tc.expr {
				t.Errorf("String() = %q, want %q", r.String(), tc.expr)
			}
			got, err := r.Match(tc.vars)
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRuleMatchRuntimeErrors(t *testing.T) {
	completed := seedVars(loadEvent(t, "request_completed"))
	tests := []struct {
		name string
		expr string
		vars *Vars
		want string // substring of the error
	}{
		{name: "missing field", expr: `event.data.excess > 100.0`, vars: completed, want: "no such key: excess"},
		{name: "missing top-level field", expr: `event.evnt == "x"`, vars: completed, want: "no such key: evnt"},
		{name: "missing header", expr: `headers["X-Other"] == "x"`, vars: completed, want: "no such key: X-Other"},
		{name: "wrong type at runtime", expr: `event.data.model > 1.0`, vars: completed, want: "no such overload"},
		{name: "string function on a number", expr: `event.data.cost.startsWith("0")`, vars: completed, want: "no such overload"},
		{name: "field of a nil event", expr: `event.event == "x"`, vars: nil, want: "no such key: event"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRule(t, tc.expr)
			got, err := r.Match(tc.vars)
			if err == nil {
				t.Fatalf("Match = %v, nil error; want an error", got)
			}
			if got {
				t.Errorf("Match = true alongside error %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "evaluating rule "+strconv.Quote(tc.expr)) {
				t.Errorf("error = %q, want it to name the rule and contain %q", err, tc.want)
			}
		})
	}
}

func TestNilRule(t *testing.T) {
	var r *Rule
	if r.String() != "" {
		t.Errorf("String() = %q, want empty", r.String())
	}
	if ok, err := r.Match(&Vars{}); ok || err == nil {
		t.Errorf("Match = %v, %v; want false and an error", ok, err)
	}
}

func TestRuleConcurrentMatch(t *testing.T) {
	rules := []*Rule{mustRule(t, designPagerRule), mustRule(t, designAppRule)}
	events := []struct {
		vars *Vars
		want [2]bool
	}{
		{vars: seedVars(decodeEvent(t, `{"event":"cost.exceeded","data":{"excess":150.0}}`)), want: [2]bool{true, false}},
		{vars: seedVars(loadEvent(t, "request_completed")), want: [2]bool{false, true}},
		{vars: seedVars(loadEvent(t, "cost_exceeded")), want: [2]bool{false, false}},
	}
	const workers, rounds = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				ev := events[(w+i)%len(events)]
				for j, r := range rules {
					got, err := r.Match(ev.vars)
					if err == nil && got != ev.want[j] {
						err = errors.New("wrong result under concurrency")
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
