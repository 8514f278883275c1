package relay

import (
	"net/http"
	"strings"
	"testing"

	"github.com/webhookinbox/caddy-webhook-inbox/relay/reencode"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// TestDeliveryBodyEncoding checks that a target with a body encoding gets
// the re-encoded body, signed over those bytes, while a raw target gets
// the sender's bytes; and that a body the encoding cannot express is
// dead-lettered after one attempt.
func TestDeliveryBodyEncoding(t *testing.T) {
	const seedCost = `{"event":"cost.exceeded","data":{"current_cost":1050.0,"budget_name":"Café"}}`
	tests := []struct {
		name     string
		encoding string
		body     string
		want     string // the body received; "" for a dead letter
	}{
		{name: "raw", encoding: reencode.Raw, body: seedCost, want: seedCost},
		{name: "default is raw", body: seedCost, want: seedCost},
		{name: "node", encoding: reencode.Node, body: seedCost,
			want: `{"event":"cost.exceeded","data":{"current_cost":1050,"budget_name":"Café"}}`},
		{name: "python", encoding: reencode.Python, body: seedCost,
			want: `{"event": "cost.exceeded", "data": {"current_cost": 1050.0, "budget_name": "Caf\u00e9"}}`},
		{name: "python refuses a huge integer", encoding: reencode.Python,
			body: `{"n":` + strings.Repeat("1", 4301) + `}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rv := newReceiver(t, status(http.StatusOK))
			h := newHarness(t, "", DispatcherOptions{})
			cfg := target("app", rv.URL)
			cfg.Secret = []byte("app-secret")
			cfg.BodyEncoding = tc.encoding
			h.d.SetTargets([]TargetConfig{cfg})

			ev := testEvent("evt_enc", "app")
			ev.Body = []byte(tc.body)
			mustAccept(t, h.in, ev)
			if tc.want == "" {
				waitFor(t, "dead letter", h.statusIs("evt_enc", "app", store.StatusDead))
				st := h.state(t, "evt_enc", "app")
				if rv.count("evt_enc") != 0 || len(st.Attempts) != 1 ||
					!strings.Contains(st.Attempts[0].Error, "re-encoding body as python") {
					t.Fatalf("requests %d, attempts %+v: want one failed attempt, nothing sent", rv.count("evt_enc"), st.Attempts)
				}
				return
			}
			waitFor(t, "delivery", h.statusIs("evt_enc", "app", store.StatusDelivered))
			got := rv.body("evt_enc")
			if string(got) != tc.want {
				t.Errorf("body %s, want %s", got, tc.want)
			}
			if sig := rv.requests("evt_enc")[0].Get(headerSignature); sig != sign(cfg.Secret, got) {
				t.Errorf("signature %s is not over the bytes sent", sig)
			}
		})
	}
}

func TestValidateBodyEncoding(t *testing.T) {
	for _, enc := range []string{"", reencode.Raw, reencode.Node, reencode.Python, "Node", "json"} {
		cfg := target("app", "http://127.0.0.1:1/")
		cfg.BodyEncoding = enc
		err := cfg.Validate()
		if valid := reencode.Valid(enc); (err == nil) != valid {
			t.Errorf("Validate with %q: %v", enc, err)
		}
		if err != nil && !strings.Contains(err.Error(), "body encoding") {
			t.Errorf("Validate with %q: %v does not name the body encoding", enc, err)
		}
	}
}
