package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"cel.dev/cel-go/cel"
)

// MaxOrderKey is the longest order key kept as it is; a longer one is
// replaced by its hex SHA-256, which keeps equal keys equal and the
// stored queue entry small.
const MaxOrderKey = 256

// errNilOrderKey is returned by Eval on a nil *OrderKeyExpr.
var errNilOrderKey = errors.New("evaluating order_by expression: expression is nil")

// OrderKeyExpr is a compiled order_by expression, such as
// `event.data.user_id`: deliveries whose keys are equal are attempted one at
// a time, in receive order. It is immutable and safe for concurrent use.
type OrderKeyExpr struct {
	program
}

// CompileOrderKey compiles expr into an OrderKeyExpr. The expression must
// type-check to string, int, uint, double or dyn (a field of `event`) and
// stay within MaxCost; otherwise the error is a *CompileError with the
// position.
func CompileOrderKey(expr string) (*OrderKeyExpr, error) {
	p, err := compile("order_by expression", expr, "string, number or dyn",
		cel.StringType, cel.IntType, cel.UintType, cel.DoubleType, cel.DynType)
	if err != nil {
		return nil, err
	}
	return &OrderKeyExpr{program: p}, nil
}

// String returns the source text of the expression.
func (e *OrderKeyExpr) String() string {
	if e == nil {
		return ""
	}
	return e.src
}

// Eval returns the order key for v: a string as it is, a number formatted
// like an event ID (12345 is "12345"), a key longer than MaxOrderKey as
// its hex SHA-256. An empty key means unordered; so does an error (a
// missing field, a result of another type), which is returned so the
// caller can log it.
func (e *OrderKeyExpr) Eval(v *Vars) (string, error) {
	if e == nil {
		return "", errNilOrderKey
	}
	out, err := e.eval(v)
	if err != nil {
		return "", err
	}
	key, err := scalarText(out, "order_by expression", "key", e.src)
	if err != nil {
		return "", err
	}
	if len(key) > MaxOrderKey {
		sum := sha256.Sum256([]byte(key))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	return key, nil
}
