package rules

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// errNilIDExpr is returned by Eval on a nil *IDExpr.
var errNilIDExpr = errors.New("evaluating id expression: expression is nil")

// IDExpr is a compiled expression that yields an event ID, such as
// `headers["X-UniCraft-Event-Id"]` or `event.id`. An IDExpr is immutable and safe
// for concurrent use.
type IDExpr struct {
	program
}

// CompileID compiles expr into an IDExpr. The expression must type-check to string
// or dyn (a field of `event`) and stay within MaxCost; otherwise the error is a
// *CompileError with the position.
func CompileID(expr string) (*IDExpr, error) {
	p, err := compile("id expression", expr, "string or dyn", cel.StringType, cel.DynType)
	if err != nil {
		return nil, err
	}
	return &IDExpr{program: p}, nil
}

// String returns the source text of the expression.
func (e *IDExpr) String() string {
	if e == nil {
		return ""
	}
	return e.src
}

// Eval returns the event ID for v. A string result is used as it is; a number from
// the JSON body is formatted without an exponent (12345 becomes "12345"). A runtime
// error, an empty ID or a result of any other type is an error.
func (e *IDExpr) Eval(v *Vars) (string, error) {
	if e == nil {
		return "", errNilIDExpr
	}
	out, err := e.eval(v)
	if err != nil {
		return "", err
	}
	id, err := scalarText(out, "id expression", "id", e.src)
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", fmt.Errorf("evaluating id expression %q: id is empty", e.src)
	}
	return id, nil
}

// scalarText is a string, or a number as JSON writes it without an
// exponent (12345 is "12345"), as an event ID or an order key; what and
// noun name it in errors ("id expression", "id").
func scalarText(out ref.Val, what, noun, src string) (string, error) {
	switch x := out.(type) {
	case types.String:
		return string(x), nil
	case types.Int:
		return strconv.FormatInt(int64(x), 10), nil
	case types.Uint:
		return strconv.FormatUint(uint64(x), 10), nil
	case types.Double:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("evaluating %s %q: %s is %v, not a usable number", what, src, noun, f)
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("evaluating %s %q: %s is %s, want a string or a number", what, src, noun, out.Type())
}
