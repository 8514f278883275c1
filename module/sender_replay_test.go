package module

import (
	"testing"

	"github.com/webhookinbox/caddy-webhook-inbox/rules"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// TestReplayFilterSeesTypeAndID checks that a bulk replay filter sees the
// rule variables type and id, and reads a sender's body whose own
// "timestamp" is not UniCraft's RFC 3339 string.
func TestReplayFilterSeesTypeAndID(t *testing.T) {
	rec := &store.EventRecord{Event: store.Event{
		ID: "Ev_1", Source: "slack", Type: "app_mention",
		Body: []byte(`{"type":"event_callback","event_id":"Ev_1","timestamp":1760000000,"event":{"type":"app_mention"}}`),
	}}
	tests := []struct {
		name, rule string
		want       bool
	}{
		{name: "type", rule: `type == "app_mention"`, want: true},
		{name: "id", rule: `id.startsWith("Ev_")`, want: true},
		{name: "body", rule: `event.event.type == "app_mention" && event.timestamp > 0.0`, want: true},
		{name: "other type", rule: `type == "message"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := rules.CompileRule(tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			f := &replayFilter{rule: r}
			if got := f.match()(rec); got != tt.want || f.errors != 0 {
				t.Fatalf("match = %v (%d errors: %s), want %v", got, f.errors, f.firstErr, tt.want)
			}
		})
	}
}
