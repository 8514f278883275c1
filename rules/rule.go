package rules

import (
	"errors"
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
)

// errNilRule is returned by Match on a nil *Rule, so a config mistake shows up as
// an error instead of a panic on the request path.
var errNilRule = errors.New("evaluating rule: rule is nil")

// Rule is a compiled boolean expression, used for route rules and replay filters.
// A Rule is immutable and safe for concurrent use.
type Rule struct {
	program
}

// CompileRule compiles expr into a Rule. The expression must type-check to bool and
// stay within MaxCost; otherwise the error is a *CompileError with the position.
func CompileRule(expr string) (*Rule, error) {
	p, err := compile("rule", expr, "bool", cel.BoolType)
	if err != nil {
		return nil, err
	}
	return &Rule{program: p}, nil
}

// String returns the source text of the rule.
func (r *Rule) String() string {
	if r == nil {
		return ""
	}
	return r.src
}

// Match reports whether the rule holds for v. A runtime error (a missing key, a
// value of the wrong type, reaching MaxIterations loop steps) returns false with
// the error, so a rule that cannot be evaluated never matches.
func (r *Rule) Match(v *Vars) (bool, error) {
	if r == nil {
		return false, errNilRule
	}
	out, err := r.eval(v)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("evaluating rule %q: result is %s, not bool", r.src, out.Type())
	}
	return bool(b), nil
}
