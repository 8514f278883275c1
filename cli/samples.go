package cli

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// cliEventTypes are the seven event types of UniCraft's webhook
// documentation, in its order; `webhook
// send --event all` cycles through them in this order.
var cliEventTypes = []string{
	"request.completed",
	"request.failed",
	"cost.exceeded",
	"cost.daily_alert",
	"provider.unavailable",
	"provider.recovered",
	"error.high_rate",
}

// cliEventAll selects every type in cliEventTypes.
const cliEventAll = "all"

// cliParseEventTypes turns the --event value ("all", one type, or a
// comma-separated list) into the types to cycle through.
func cliParseEventTypes(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == cliEventAll {
		return slices.Clone(cliEventTypes), nil
	}
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		typ := strings.TrimSpace(part)
		if !slices.Contains(cliEventTypes, typ) {
			return nil, fmt.Errorf("unknown event type %q: use all or one of %s", typ, strings.Join(cliEventTypes, ", "))
		}
		out = append(out, typ)
	}
	return out, nil
}

// cliRunID returns 8 random hex digits that name one send run, so event
// IDs never repeat across runs (a repeat would be answered as a duplicate).
func cliRunID() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// cliEventID is the ID of the n-th event (from 1) of a run.
func cliEventID(run string, n int) string {
	return fmt.Sprintf("evt_%s_%06d", run, n)
}

// cliSampleBody returns a compact JSON payload of type typ shaped exactly
// like the seed's example (same keys, nesting and value types), with id as
// the top-level "id" and now as the RFC 3339 "timestamp". Numbers the seed
// writes as 1050.0 keep their decimal point so CEL sees doubles, as it
// would for UniCraft's own payloads.
func cliSampleBody(typ, id string, now time.Time) ([]byte, error) {
	now = now.UTC()
	var data string
	switch typ {
	case "request.completed":
		data = `{"request_id":` + cliJSONString("req_"+cliIDSuffix(id)) +
			`,"model":"gpt-3.5-turbo","provider":"openai","cost":0.000042,"response_time":1250,` +
			`"tokens":{"prompt":50,"completion":25,"total":75},"user_id":"user_123","project_id":"proj_456"}`
	case "request.failed":
		data = `{"request_id":` + cliJSONString("req_"+cliIDSuffix(id)) +
			`,"model":"gpt-4","provider":"openai",` +
			`"error":{"type":"rate_limit_exceeded","message":"Rate limit exceeded","code":"rate_limit_exceeded"},` +
			`"retry_count":3,"user_id":"user_123","project_id":"proj_456"}`
	case "cost.exceeded":
		data = `{"budget_id":"budget_123","budget_name":"Monthly AI Budget","current_cost":1050.0,` +
			`"limit":1000.0,"excess":50.0,"period":"monthly","user_id":"user_123","project_id":"proj_456"}`
	case "cost.daily_alert":
		data = `{"date":` + cliJSONString(now.Format(time.DateOnly)) +
			`,"daily_cost":85.0,"daily_limit":100.0,"percentage":85.0,"user_id":"user_123","project_id":"proj_456"}`
	case "provider.unavailable":
		data = `{"provider":"openai","status":"unavailable","reason":"service_outage",` +
			`"estimated_recovery":` + cliJSONString(now.Add(30*time.Minute).Format(time.RFC3339)) +
			`,"affected_models":["gpt-4","gpt-3.5-turbo"]}`
	case "provider.recovered":
		data = `{"provider":"openai","status":"available","downtime_duration":1800,` +
			`"affected_models":["gpt-4","gpt-3.5-turbo"]}`
	case "error.high_rate":
		data = `{"error_rate":0.15,"threshold":0.1,"time_window":"5m","provider":"openai","model":"gpt-4",` +
			`"error_types":[{"type":"rate_limit_exceeded","count":25},{"type":"invalid_request","count":10}]}`
	default:
		return nil, fmt.Errorf("unknown event type %q", typ)
	}
	body := `{"id":` + cliJSONString(id) +
		`,"event":` + cliJSONString(typ) +
		`,"timestamp":` + cliJSONString(now.Format(time.RFC3339)) +
		`,"data":` + data + `}`
	return []byte(body), nil
}

// cliIDSuffix is the part of an event ID after "evt_", so a sample's
// request_id is unique along with its ID.
func cliIDSuffix(id string) string {
	return strings.TrimPrefix(id, "evt_")
}

// cliJSONString quotes s as a JSON string.
func cliJSONString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
