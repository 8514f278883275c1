package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
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
	var key string
	switch x := out.(type) {
	case types.String:
		key = string(x)
	case types.Int:
		key = strconv.FormatInt(int64(x), 10)
	case types.Uint:
		key = strconv.FormatUint(uint64(x), 10)
	case types.Double:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("evaluating order_by expression %q: key is %v, not a usable number", e.src, f)
		}
		key = strconv.FormatFloat(f, 'f', -1, 64)
	default:
		return "", fmt.Errorf("evaluating order_by expression %q: key is %s, want a string or a number", e.src, out.Type())
	}
	if len(key) > MaxOrderKey {
		sum := sha256.Sum256([]byte(key))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	return key, nil
}
