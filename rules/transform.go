package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"google.golang.org/protobuf/types/known/structpb"
)

// errNilTransform is returned by Eval on a nil *Transform.
var errNilTransform = errors.New("evaluating transform: transform is nil")

// Transform is a compiled target transform, such as
// `{"text": type + " " + event.data.request_id}`: its value is the body a
// target gets instead of the event's. A Transform is immutable and safe for
// concurrent use.
type Transform struct {
	program
}

// CompileTransform compiles expr into a Transform. The expression must
// type-check to a map, a list, a string or dyn and stay within MaxCost;
// otherwise the error is a *CompileError with the position.
func CompileTransform(expr string) (*Transform, error) {
	p, err := compile("transform", expr, "a map, a list or a string",
		cel.MapType(cel.StringType, cel.DynType), cel.ListType(cel.DynType), cel.StringType, cel.DynType)
	if err != nil {
		return nil, err
	}
	return &Transform{program: p}, nil
}

// String returns the source text of the transform.
func (t *Transform) String() string {
	if t == nil {
		return ""
	}
	return t.src
}

// structValue is the type CEL converts a JSON-like value to.
var structValue = reflect.TypeFor[*structpb.Value]()

// Eval returns the body for v: a map or a list encoded as JSON (keys
// sorted, so every attempt sends the same bytes), or a string's bytes, with
// isJSON false. A runtime error, reaching MaxIterations loop steps, a
// result of another type or one JSON cannot hold (a map with non-string
// keys, bytes, NaN) is an error.
func (t *Transform) Eval(v *Vars) (body []byte, isJSON bool, err error) {
	if t == nil {
		return nil, false, errNilTransform
	}
	out, err := t.eval(v)
	if err != nil {
		return nil, false, err
	}
	switch out.Type() {
	case types.StringType:
		return []byte(out.Value().(string)), false, nil
	case types.MapType, types.ListType:
	default:
		return nil, false, fmt.Errorf("evaluating transform %q: result is %s, want a map, a list or a string", t.src, out.Type())
	}
	native, err := out.ConvertToNative(structValue)
	if err != nil {
		return nil, false, fmt.Errorf("evaluating transform %q: result is not JSON: %w", t.src, err)
	}
	body, err = json.Marshal(native.(*structpb.Value).AsInterface())
	if err != nil {
		return nil, false, fmt.Errorf("evaluating transform %q: encoding the result: %w", t.src, err)
	}
	return body, true, nil
}
