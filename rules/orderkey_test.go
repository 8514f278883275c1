package rules

import (
	"strings"
	"testing"
)

func TestOrderKey(t *testing.T) {
	long := strings.Repeat("u", MaxOrderKey+1)
	tests := []struct {
		name    string
		expr    string
		event   map[string]any
		want    string
		wantErr bool
	}{
		{name: "string field", expr: "event.data.user_id", event: map[string]any{"data": map[string]any{"user_id": "u_42"}}, want: "u_42"},
		{name: "number field", expr: "event.data.user_id", event: map[string]any{"data": map[string]any{"user_id": 12345.0}}, want: "12345"},
		{name: "int literal", expr: "7", want: "7"},
		{name: "built key", expr: `source + "/" + event.customer`, event: map[string]any{"customer": "c1"}, want: "unicraft/c1"},
		{name: "empty key is unordered", expr: `""`, want: ""},
		{name: "missing field is an error, so unordered", expr: "event.data.user_id", event: map[string]any{}, wantErr: true},
		{name: "wrong type is an error", expr: "event.data", event: map[string]any{"data": map[string]any{}}, wantErr: true},
		{name: "a long key is hashed", expr: "event.k", event: map[string]any{"k": long}, want: "sha256:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := CompileOrderKey(tc.expr)
			if err != nil {
				t.Fatalf("CompileOrderKey(%s): %v", tc.expr, err)
			}
			got, err := e.Eval(&Vars{Event: tc.event, Source: "unicraft"})
			if tc.wantErr {
				if err == nil || got != "" {
					t.Fatalf("Eval = %q, %v; want an error and no key", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			if tc.want == "sha256:" {
				if !strings.HasPrefix(got, "sha256:") || len(got) != len("sha256:")+64 {
					t.Fatalf("Eval = %q, want a sha256 key", got)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("Eval = %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := CompileOrderKey("event.x == 1"); err == nil {
		t.Error("a bool order_by compiled")
	}
}
