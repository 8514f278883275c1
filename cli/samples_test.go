package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/ingress"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// cliSeedExamples are the payload examples of UniCraft's webhook
// documentation, one per event type.
var cliSeedExamples = map[string]string{
	"request.completed":    `{"event":"request.completed","timestamp":"2024-01-20T10:30:00Z","data":{"request_id":"req_123456789","model":"gpt-3.5-turbo","provider":"openai","cost":0.000042,"response_time":1250,"tokens":{"prompt":50,"completion":25,"total":75},"user_id":"user_123","project_id":"proj_456"}}`,
	"request.failed":       `{"event":"request.failed","timestamp":"2024-01-20T10:30:00Z","data":{"request_id":"req_123456789","model":"gpt-4","provider":"openai","error":{"type":"rate_limit_exceeded","message":"Rate limit exceeded","code":"rate_limit_exceeded"},"retry_count":3,"user_id":"user_123","project_id":"proj_456"}}`,
	"cost.exceeded":        `{"event":"cost.exceeded","timestamp":"2024-01-20T10:30:00Z","data":{"budget_id":"budget_123","budget_name":"Monthly AI Budget","current_cost":1050.0,"limit":1000.0,"excess":50.0,"period":"monthly","user_id":"user_123","project_id":"proj_456"}}`,
	"cost.daily_alert":     `{"event":"cost.daily_alert","timestamp":"2024-01-20T10:30:00Z","data":{"date":"2024-01-20","daily_cost":85.0,"daily_limit":100.0,"percentage":85.0,"user_id":"user_123","project_id":"proj_456"}}`,
	"provider.unavailable": `{"event":"provider.unavailable","timestamp":"2024-01-20T10:30:00Z","data":{"provider":"openai","status":"unavailable","reason":"service_outage","estimated_recovery":"2024-01-20T11:00:00Z","affected_models":["gpt-4","gpt-3.5-turbo"]}}`,
	"provider.recovered":   `{"event":"provider.recovered","timestamp":"2024-01-20T11:00:00Z","data":{"provider":"openai","status":"available","downtime_duration":1800,"affected_models":["gpt-4","gpt-3.5-turbo"]}}`,
	"error.high_rate":      `{"event":"error.high_rate","timestamp":"2024-01-20T10:30:00Z","data":{"error_rate":0.15,"threshold":0.1,"time_window":"5m","provider":"openai","model":"gpt-4","error_types":[{"type":"rate_limit_exceeded","count":25},{"type":"invalid_request","count":10}]}}`,
}

// cliSampleVaries are the fields a sample may change from the seed's
// example: per event, or per day.
var cliSampleVaries = map[string]bool{
	"timestamp":               true,
	"data.request_id":         true,
	"data.date":               true,
	"data.estimated_recovery": true,
}

func TestCommandSampleBodies(t *testing.T) {
	if got := slices.Sorted(maps.Keys(cliSeedExamples)); !slices.Equal(got, slices.Sorted(slices.Values(cliEventTypes))) {
		t.Fatalf("seed types %v differ from the command's %v", got, cliEventTypes)
	}
	verifier, err := signature.NewUniCraftVerifier([][]byte{[]byte(cliTestSecret)})
	if err != nil {
		t.Fatal(err)
	}
	run, err := cliRunID()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ids := map[string]bool{}
	requestIDs := map[string]bool{}
	for i, typ := range cliEventTypes {
		t.Run(typ, func(t *testing.T) {
			id := cliEventID(run, i+1)
			body, err := cliSampleBody(typ, id, now)
			if err != nil {
				t.Fatal(err)
			}
			sample := cliDecodeForTest(t, body)
			seed := cliDecodeForTest(t, []byte(cliSeedExamples[typ]))

			// The seed's example plus a top-level "id", nothing else.
			if got := slices.Sorted(maps.Keys(sample)); !slices.Equal(got, []string{"data", "event", "id", "timestamp"}) {
				t.Errorf("top-level keys = %v", got)
			}
			if sample["id"] != id || sample["event"] != typ {
				t.Errorf("id %v, event %v", sample["id"], sample["event"])
			}
			delete(sample, "id")
			cliSameShape(t, "", seed, sample)

			// A fresh timestamp, accepted by the ingress checks.
			ts, err := time.Parse(time.RFC3339, sample["timestamp"].(string))
			if err != nil || ts.Sub(now).Abs() > 2*time.Second {
				t.Errorf("timestamp %v: %v", sample["timestamp"], err)
			}
			p, err := ingress.ParsePayload(body, ingress.DefaultMaxDepth)
			if err != nil {
				t.Fatalf("ingress rejects the sample: %v", err)
			}
			if err := ingress.CheckFreshness(p, time.Now(), time.Hour, ingress.DefaultMaxFuture); err != nil {
				t.Errorf("ingress finds the sample stale: %v", err)
			}
			if got := ingress.DefaultEventID("", p, body); got != id {
				t.Errorf("default event ID = %q, want %q", got, id)
			}

			if !verifier.Verify(signature.SignUniCraft([]byte(cliTestSecret), body), body) {
				t.Error("signature does not verify")
			}
			if ids[id] {
				t.Errorf("id %s repeats", id)
			}
			ids[id] = true
			if rid, ok := sample["data"].(map[string]any)["request_id"].(string); ok {
				if requestIDs[rid] {
					t.Errorf("request_id %s repeats", rid)
				}
				requestIDs[rid] = true
			}
		})
	}
	if _, err := cliSampleBody("request.unknown", "x", now); err == nil {
		t.Error("an unknown type made a body")
	}
}

func TestCommandSampleIDsUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		run, err := cliRunID()
		if err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= 50; n++ {
			id := cliEventID(run, n)
			if seen[id] {
				t.Fatalf("id %s repeats", id)
			}
			if err := ingress.ValidateEventID(id); err != nil {
				t.Fatalf("id %s: %v", id, err)
			}
			seen[id] = true
		}
	}
}

func TestCommandParseEventTypes(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{name: "all", in: "all", want: cliEventTypes},
		{name: "empty is all", in: "", want: cliEventTypes},
		{name: "one", in: "provider.recovered", want: []string{"provider.recovered"}},
		{name: "list", in: "cost.exceeded,cost.daily_alert", want: []string{"cost.exceeded", "cost.daily_alert"}},
		{name: "unknown", in: "cost.unknown", wantErr: true},
		{name: "all inside a list", in: "all,cost.exceeded", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cliParseEventTypes(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v", err)
			}
			if !tt.wantErr && !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func cliDecodeForTest(t *testing.T, body []byte) map[string]any {
	t.Helper()
	if !json.Valid(body) {
		t.Fatalf("not JSON: %s", body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return m
}

// cliSameShape checks that got has want's keys, nesting and value kinds
// (an integer stays an integer, 1050.0 keeps its decimal point), and its
// values, except the fields a sample varies.
func cliSameShape(t *testing.T, path string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %T, want an object", path, got)
			return
		}
		if !slices.Equal(slices.Sorted(maps.Keys(g)), slices.Sorted(maps.Keys(w))) {
			t.Errorf("%s: keys %v, want %v", path, slices.Sorted(maps.Keys(g)), slices.Sorted(maps.Keys(w)))
			return
		}
		for k := range w {
			p := k
			if path != "" {
				p = path + "." + k
			}
			cliSameShape(t, p, w[k], g[k])
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %v, want %v", path, got, want)
			return
		}
		for i := range w {
			cliSameShape(t, fmt.Sprintf("%s[%d]", path, i), w[i], g[i])
		}
	case json.Number:
		g, ok := got.(json.Number)
		if !ok || strings.Contains(g.String(), ".") != strings.Contains(w.String(), ".") {
			t.Errorf("%s: got %v, want a number like %v", path, got, w)
		} else if g != w {
			t.Errorf("%s: got %v, want %v", path, g, w)
		}
	case string:
		g, ok := got.(string)
		if !ok {
			t.Errorf("%s: got %T, want a string", path, got)
		} else if g != w && !cliSampleVaries[path] {
			t.Errorf("%s: got %q, want %q", path, g, w)
		}
	default:
		t.Errorf("%s: unexpected %T in the seed", path, want)
	}
}
