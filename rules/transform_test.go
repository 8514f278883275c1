package rules

import (
	"errors"
	"strings"
	"testing"
)

func TestTransform(t *testing.T) {
	vars := &Vars{
		Event:   map[string]any{"event": "request.completed", "data": map[string]any{"request_id": "req_1", "cost": 0.5, "items": []any{1.0, 2.0}}},
		Headers: map[string]string{"X-Github-Event": "push"},
		Source:  "unicraft",
		Type:    "request.completed",
		ID:      "evt_1",
	}
	tests := []struct {
		name, expr, want string
		json             bool
		wantErr          string
	}{
		{name: "map of strings", expr: `{"text": type + " " + event.data.request_id}`, want: `{"text":"request.completed req_1"}`, json: true},
		{name: "map of dyn, keys sorted", expr: `{"z": event.data.cost, "a": id, "n": {"list": event.data.items}}`, want: `{"a":"evt_1","n":{"list":[1,2]},"z":0.5}`, json: true},
		{name: "list", expr: `[source, headers["x-github-event"]]`, want: `["unicraft","push"]`, json: true},
		{name: "the event itself", expr: `event.data`, want: `{"cost":0.5,"items":[1,2],"request_id":"req_1"}`, json: true},
		{name: "string", expr: `"event " + id`, want: "event evt_1"},
		{name: "missing field", expr: `{"x": event.nope.deeper}`, wantErr: "no such key"},
		{name: "dyn number at runtime", expr: `event.data.cost`, wantErr: "want a map, a list or a string"},
		{name: "loop over budget", expr: `{"n": [1].all(x, true)}`, want: `{"n":true}`, json: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := CompileTransform(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, isJSON, err := tr.Eval(vars)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Eval = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want || isJSON != tt.json {
				t.Fatalf("Eval = %s, %v, %v; want %s, %v", got, isJSON, err, tt.want, tt.json)
			}
		})
	}
}

func TestCompileTransformErrors(t *testing.T) {
	tests := []struct{ name, expr, want string }{
		{name: "bool", expr: `type == "x"`, want: `1:6: expression must be a map, a list or a string, got bool`},
		{name: "undeclared", expr: "{\n  \"a\": evnt.x}", want: "2:8: undeclared reference to 'evnt'"},
		{name: "too costly", expr: `{"x": event.items.map(a, event.items.map(b, event.items.map(c, string(a) + string(b))))}`, want: "exceeds the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileTransform(tt.expr)
			var ce *CompileError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CompileTransform = %v, want a CompileError containing %q", err, tt.want)
			}
		})
	}
}

func TestTypeAndIDVariables(t *testing.T) {
	r, err := CompileRule(`type == "push" && id.startsWith("d-")`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		v    Vars
		want bool
	}{
		{name: "match", v: Vars{Type: "push", ID: "d-1"}, want: true},
		{name: "other type", v: Vars{Type: "ping", ID: "d-1"}},
		{name: "empty", v: Vars{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := r.Match(&tt.v); err != nil || got != tt.want {
				t.Fatalf("Match = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
