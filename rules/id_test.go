package rules

import (
	"strings"
	"testing"
)

func TestIDExprEval(t *testing.T) {
	event := decodeEvent(t, `{
		"id": "evt_body",
		"int_id": 12345,
		"big_id": 12345678901234567,
		"frac_id": 1.5,
		"neg_id": -7,
		"empty": "",
		"obj": {"a": 1},
		"list": [1],
		"flag": true,
		"nothing": null
	}`)
	vars := &Vars{
		Event:    event,
		Headers:  map[string]string{"X-UniCraft-Event-Id": "evt_header", "X-Empty": ""},
		SourceIP: "10.0.0.50",
		Source:   "unicraft",
	}
	tests := []struct {
		name    string
		expr    string
		want    string
		wantErr string // substring of the error; empty means success
	}{
		{name: "header", expr: designIDExpr, want: "evt_header"},
		{name: "body string", expr: `event.id`, want: "evt_body"},
		{name: "integer number without exponent", expr: `event.int_id`, want: "12345"},
		{name: "large number without exponent", expr: `event.big_id`, want: "12345678901234568"},
		{name: "fractional number", expr: `event.frac_id`, want: "1.5"},
		{name: "negative number", expr: `event.neg_id`, want: "-7"},
		{name: "cel int", expr: `dyn(int(event.int_id))`, want: "12345"},
		{name: "cel uint", expr: `dyn(uint(event.int_id))`, want: "12345"},
		{name: "composed string", expr: `source + ":" + string(event.id)`, want: "unicraft:evt_body"},
		{name: "header with fallback", expr: `"X-Missing" in headers ? headers["X-Missing"] : event.id`, want: "evt_body"},
		{name: "missing header", expr: `headers["X-Missing"]`, wantErr: "no such key: X-Missing"},
		{name: "missing body field", expr: `event.idd`, wantErr: "no such key: idd"},
		{name: "empty string", expr: `event.empty`, wantErr: "id is empty"},
		{name: "empty header", expr: `headers["X-Empty"]`, wantErr: "id is empty"},
		{name: "map", expr: `event.obj`, wantErr: "want a string or a number"},
		{name: "list", expr: `event.list`, wantErr: "want a string or a number"},
		{name: "bool", expr: `event.flag`, wantErr: "want a string or a number"},
		{name: "null", expr: `event.nothing`, wantErr: "want a string or a number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := CompileID(tc.expr)
			if err != nil {
				t.Fatalf("CompileID: %v", err)
			}
			if e.String() != tc.expr {
				t.Errorf("String() = %q, want %q", e.String(), tc.expr)
			}
			got, err := e.Eval(vars)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Eval = %q, %v; want error containing %q", got, err, tc.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "evaluating id expression ") {
					t.Errorf("error = %q, want it to name the id expression", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Eval = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestCompileIDTypes(t *testing.T) {
	tests := []struct {
		name string
		expr string
		ok   bool
	}{
		{name: "string", expr: `headers["X-UniCraft-Event-Id"]`, ok: true},
		{name: "dyn", expr: `event.id`, ok: true},
		{name: "string conversion", expr: `string(event.id)`, ok: true},
		{name: "int", expr: `int(event.id)`},
		{name: "bool", expr: `source == "x"`},
		{name: "list", expr: `[source]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileID(tc.expr)
			if tc.ok != (err == nil) {
				t.Fatalf("CompileID(%q) error = %v, want ok=%v", tc.expr, err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "expression must be string or dyn") {
				t.Errorf("error = %v, want the type requirement", err)
			}
		})
	}
}

func TestNilIDExpr(t *testing.T) {
	var e *IDExpr
	if e.String() != "" {
		t.Errorf("String() = %q, want empty", e.String())
	}
	if id, err := e.Eval(&Vars{}); id != "" || err == nil {
		t.Errorf("Eval = %q, %v; want an error", id, err)
	}
}
