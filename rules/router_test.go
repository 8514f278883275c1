package rules

import (
	"slices"
	"strings"
	"testing"
)

// designRouter is the router of the README's example Caddyfile.
func designRouter(tb testing.TB) *Router {
	tb.Helper()
	return &Router{
		Routes: []Route{
			{Rule: mustRule(tb, designPagerRule), Targets: []string{"pager", "app"}},
			{Rule: mustRule(tb, designAppRule), Targets: []string{"app"}},
		},
		Default: []string{"app"},
	}
}

func TestRouterTargets(t *testing.T) {
	costOver := seedVars(decodeEvent(t, `{"event":"cost.exceeded","data":{"excess":150.0}}`))
	completed := seedVars(loadEvent(t, "request_completed"))
	unavailable := seedVars(loadEvent(t, "provider_unavailable"))

	fanOut := &Router{
		Routes: []Route{
			{Rule: mustRule(t, `source == "unicraft"`), Targets: []string{"audit", "app"}},
			{Rule: mustRule(t, `event.event.startsWith("request.")`), Targets: []string{"app", "metrics", "audit"}},
			{Rule: mustRule(t, `source_ip.startsWith("10.")`), Targets: []string{"metrics", "pager", "pager"}},
			{Rule: mustRule(t, `source == "other"`), Targets: []string{"never"}},
		},
		Default: []string{"fallback"},
	}
	withErrors := &Router{
		Routes: []Route{
			{Rule: mustRule(t, `event.data.excess > 100.0`), Targets: []string{"pager"}},
			{Rule: mustRule(t, designAppRule), Targets: []string{"app"}},
		},
		Default: []string{"fallback"},
	}

	tests := []struct {
		name       string
		router     *Router
		vars       *Vars
		want       []string
		wantErrors []string // rules reported to onError, in order
	}{
		{name: "design: large cost excess goes to pager and app", router: designRouter(t), vars: costOver, want: []string{"pager", "app"}},
		{name: "design: request event goes to app", router: designRouter(t), vars: completed, want: []string{"app"}},
		{name: "design: no match uses default", router: designRouter(t), vars: unavailable, want: []string{"app"}},
		{name: "fan-out keeps first-seen order and each target once", router: fanOut, vars: completed,
			want: []string{"audit", "app", "metrics", "pager"}},
		{name: "no match and no default is unrouted",
			router: &Router{Routes: []Route{{Rule: mustRule(t, `source == "other"`), Targets: []string{"app"}}}},
			vars:   completed, want: nil},
		{name: "default is deduplicated", router: &Router{Default: []string{"app", "pager", "app"}},
			vars: completed, want: []string{"app", "pager"}},
		{name: "erroring rule does not match, others still count", router: withErrors, vars: completed,
			want: []string{"app"}, wantErrors: []string{`event.data.excess > 100.0`}},
		{name: "erroring rule alone falls back to default", router: withErrors, vars: unavailable,
			want: []string{"fallback"}, wantErrors: []string{`event.data.excess > 100.0`}},
		{name: "nil rule never matches", router: &Router{Routes: []Route{{Targets: []string{"app"}}}, Default: []string{"fallback"}},
			vars: completed, want: []string{"fallback"}},
		{name: "matching route without targets keeps default out",
			router: &Router{Routes: []Route{{Rule: mustRule(t, `source == "unicraft"`)}}, Default: []string{"app"}},
			vars:   completed, want: nil},
		{name: "empty router", router: &Router{}, vars: completed, want: nil},
		{name: "nil router", router: nil, vars: completed, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var reported []string
			got := tc.router.Targets(tc.vars, func(rule *Rule, err error) {
				if err == nil || !strings.Contains(err.Error(), rule.String()) {
					t.Errorf("onError(%q, %v): want an error naming the rule", rule, err)
				}
				reported = append(reported, rule.String())
			})
			if !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("Targets = %#v, want %#v", got, tc.want)
			}
			if !slices.Equal(reported, tc.wantErrors) {
				t.Errorf("onError saw %q, want %q", reported, tc.wantErrors)
			}
		})
	}
}

func TestRouterTargetsNilOnError(t *testing.T) {
	r := &Router{Routes: []Route{
		{Rule: mustRule(t, `event.missing == 1`), Targets: []string{"a"}},
		{Rule: mustRule(t, `source == "unicraft"`), Targets: []string{"b"}},
	}}
	if got := r.Targets(seedVars(nil), nil); !slices.Equal(got, []string{"b"}) {
		t.Errorf("Targets = %q, want [b]", got)
	}
}

func TestRouterTargetsOwnedByCaller(t *testing.T) {
	r := designRouter(t)
	v := seedVars(loadEvent(t, "provider_unavailable"))
	got := r.Targets(v, nil)
	got[0] = "changed"
	if again := r.Targets(v, nil); !slices.Equal(again, []string{"app"}) {
		t.Errorf("second Targets = %q after the caller changed the first result; want [app]", again)
	}
}

func TestRouterConcurrentTargets(t *testing.T) {
	r := designRouter(t)
	cases := []struct {
		name string
		vars *Vars
		want []string
	}{
		{name: "cost", vars: seedVars(decodeEvent(t, `{"event":"cost.exceeded","data":{"excess":150.0}}`)), want: []string{"pager", "app"}},
		{name: "request", vars: seedVars(loadEvent(t, "request_completed")), want: []string{"app"}},
		{name: "provider", vars: seedVars(loadEvent(t, "provider_unavailable")), want: []string{"app"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for range 500 {
				if got := r.Targets(tc.vars, nil); !slices.Equal(got, tc.want) {
					t.Fatalf("Targets = %q, want %q", got, tc.want)
				}
			}
		})
	}
}
