package relay

import (
	"net/http"
	"strings"
	"testing"
)

func TestTraceContext(t *testing.T) {
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name      string
		kept      map[string]string
		wantTrace string // trace ID the attempt carries; empty: no traceparent
		wantState string
	}{
		{name: "traceparent and tracestate", kept: map[string]string{"Traceparent": parent, "Tracestate": "congo=t61rcWkgMzE"},
			wantTrace: "4bf92f3577b34da6a3ce929d0e0e4736", wantState: "congo=t61rcWkgMzE"},
		{name: "traceparent alone", kept: map[string]string{"Traceparent": parent}, wantTrace: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{name: "none", kept: map[string]string{"Tracestate": "congo=x"}},
		{name: "uppercase hex", kept: map[string]string{"Traceparent": strings.ToUpper(parent)}},
		{name: "zero trace id", kept: map[string]string{"Traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "Tracestate": "a=b"}},
		{name: "zero span id", kept: map[string]string{"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"}},
		{name: "version ff", kept: map[string]string{"Traceparent": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},
		{name: "version 00 with a tail", kept: map[string]string{"Traceparent": parent + "-00"}},
		{name: "later version with a tail", kept: map[string]string{"Traceparent": "01" + parent[2:] + "-abc"}, wantTrace: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{name: "short", kept: map[string]string{"Traceparent": parent[:50]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Traceparent": {"stale"}, "Tracestate": {"stale"}}
			setTraceContext(h, tc.kept)
			got := h.Get("Traceparent")
			if tc.wantTrace == "" {
				if got != "" || h.Get("Tracestate") != "" {
					t.Fatalf("traceparent %q tracestate %q, want none", got, h.Get("Tracestate"))
				}
				return
			}
			parts := strings.Split(got, "-")
			if len(parts) != 4 || parts[0] != "00" || parts[1] != tc.wantTrace || len(parts[2]) != 16 || parts[3] != "01" {
				t.Fatalf("traceparent %q, want 00-%s-<new span>-01", got, tc.wantTrace)
			}
			if parts[2] == "00f067aa0ba902b7" {
				t.Errorf("span ID is the sender's, want a new one")
			}
			if again, _ := childTraceparent(tc.kept["Traceparent"]); strings.Split(again, "-")[2] == parts[2] {
				t.Errorf("two attempts got the same span ID %s", parts[2])
			}
			if s := h.Get("Tracestate"); s != tc.wantState {
				t.Errorf("tracestate %q, want %q", s, tc.wantState)
			}
		})
	}
}
