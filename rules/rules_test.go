package rules

import (
	"errors"
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		id      bool // compile with CompileID instead of CompileRule
		line    int
		column  int
		msg     string // substring of CompileError.Msg
		errText string // exact Error(), when set
	}{
		{
			name: "empty rule", expr: "",
			line: 1, column: 1, msg: "empty expression",
			errText: `rule "": 1:1: empty expression`,
		},
		{
			name: "blank rule", expr: " \n\t",
			line: 1, column: 1, msg: "empty expression",
		},
		{
			name: "syntax error at end", expr: `event.event ==`,
			line: 1, column: 15, msg: "syntax error: mismatched input '<EOF>'",
		},
		{
			name: "unclosed call", expr: `event.event.startsWith("request."`,
			line: 1, column: 34, msg: "syntax error",
		},
		{
			name: "undeclared variable", expr: `evnt.event == 1`,
			line: 1, column: 1, msg: "undeclared reference to 'evnt'",
			errText: `rule "evnt.event == 1": 1:1: undeclared reference to 'evnt'`,
		},
		{
			name: "undeclared variable after a valid part", expr: `source == "unicraft" && sorce_ip == "10.0.0.1"`,
			line: 1, column: 25, msg: "undeclared reference to 'sorce_ip'",
		},
		{
			name: "non-bool rule", expr: `event.data.excess`,
			line: 1, column: 11, msg: "expression must be bool, got dyn",
		},
		{
			name: "string rule", expr: `source + "x"`,
			line: 1, column: 8, msg: "expression must be bool, got string",
		},
		{
			name: "no matching overload", expr: `source == 1`,
			line: 1, column: 8, msg: "found no matching overload for '_==_' applied to '(string, int)'",
		},
		{
			name: "multi-line rule reports its line",
			expr: "event.event == \"cost.exceeded\" &&\n  event.data.excess > 100.0 &&\n    hedaers[\"X\"] == \"y\"",
			line: 3, column: 5, msg: "undeclared reference to 'hedaers'",
		},
		{
			name: "multi-line syntax error",
			expr: "event.event == \"a\" ||\n\n  event.event == )",
			line: 3, column: 18, msg: "syntax error",
		},
		{
			name: "first of several errors in source order",
			expr: "a == 1 ||\nb == 2",
			line: 1, column: 1, msg: "undeclared reference to 'a'",
		},
		{
			name: "id must be a string", expr: `size(headers)`, id: true,
			line: 1, column: 5, msg: "expression must be string or dyn, got int",
		},
		{
			name: "empty id", expr: ``, id: true,
			line: 1, column: 1, msg: "empty expression",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.id {
				_, err = CompileID(tc.expr)
			} else {
				_, err = CompileRule(tc.expr)
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v (%T), want *CompileError", err, err)
			}
			if ce.Rule != tc.expr {
				t.Errorf("Rule = %q, want %q", ce.Rule, tc.expr)
			}
			if ce.Line != tc.line || ce.Column != tc.column {
				t.Errorf("position = %d:%d, want %d:%d (%v)", ce.Line, ce.Column, tc.line, tc.column, err)
			}
			if !strings.Contains(ce.Msg, tc.msg) {
				t.Errorf("Msg = %q, want it to contain %q", ce.Msg, tc.msg)
			}
			if strings.Contains(ce.Msg, "ERROR") || strings.Contains(ce.Msg, "^") {
				t.Errorf("Msg = %q carries CEL's display decoration", ce.Msg)
			}
			if tc.errText != "" && err.Error() != tc.errText {
				t.Errorf("Error() = %q, want %q", err.Error(), tc.errText)
			}
		})
	}
}

func TestCompileErrorWithoutPosition(t *testing.T) {
	err := &CompileError{Rule: "x", Msg: "invalid expression"}
	if got, want := err.Error(), `rule "x": invalid expression`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestCleanMessage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "syntax error lowercased", in: "Syntax error: x", want: "syntax error: x"},
		{name: "container noise dropped", in: "undeclared reference to 'a' (in container '')", want: "undeclared reference to 'a'"},
		{name: "acronym kept", in: "UTF-8 problem", want: "UTF-8 problem"},
		{name: "empty", in: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cleanMessage(tc.in); got != tc.want {
				t.Errorf("cleanMessage(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
