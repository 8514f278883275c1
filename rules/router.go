package rules

import (
	"slices"
)

// Route delivers an event to Targets when Rule matches it.
type Route struct {
	// Rule decides whether the route applies; a nil Rule never matches.
	Rule *Rule
	// Targets are the names of the targets that receive a matching event.
	Targets []string
}

// Router picks the targets of an event: every matching route contributes its
// targets (fan-out, each target once, in first-seen order), and Default applies when
// no route matched. A Router is safe for concurrent use as long as nobody modifies
// it.
type Router struct {
	// Routes are tried in order, and all of them are tried.
	Routes []Route
	// Default are the targets of an event that no route matched.
	Default []string
}

// Targets returns the targets for v, or nil when no route matched and there is no
// Default (the event is unrouted). A matching route counts even if it lists no
// targets, so Default does not apply then. A rule that fails to evaluate does not
// match: onError, if not nil, is called with the rule and its error, and the other
// routes still count. The returned slice belongs to the caller.
func (r *Router) Targets(v *Vars, onError func(rule *Rule, err error)) []string {
	if r == nil {
		return nil
	}
	var out []string
	matched := false
	for _, route := range r.Routes {
		if route.Rule == nil {
			continue
		}
		ok, err := route.Rule.Match(v)
		if err != nil {
			if onError != nil {
				onError(route.Rule, err)
			}
			continue
		}
		if ok {
			matched = true
			out = appendNew(out, route.Targets)
		}
	}
	if !matched {
		return appendNew(nil, r.Default)
	}
	return out
}

// appendNew appends the names in add that dst does not hold yet, in order. Target
// lists are a handful of names, so a linear scan beats building a set.
func appendNew(dst, add []string) []string {
	for _, name := range add {
		if !slices.Contains(dst, name) {
			dst = append(dst, name)
		}
	}
	return dst
}
