package ingress

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParsePayloadSeeds(t *testing.T) {
	for name, body := range seedPayloads {
		t.Run(name, func(t *testing.T) {
			p, err := ParsePayload([]byte(body), DefaultMaxDepth)
			if err != nil {
				t.Fatalf("ParsePayload: %v", err)
			}
			if p.Type != name {
				t.Errorf("Type = %q, want %q", p.Type, name)
			}
			if !p.HasTimestamp {
				t.Fatal("HasTimestamp = false")
			}
			want := time.Date(2024, 1, 20, 10, 30, 0, 0, time.UTC)
			if name == "provider.recovered" {
				want = time.Date(2024, 1, 20, 11, 0, 0, 0, time.UTC)
			}
			if !p.Timestamp.Equal(want) {
				t.Errorf("Timestamp = %v, want %v", p.Timestamp, want)
			}
			if p.ID != "" {
				t.Errorf("ID = %q, want empty (seed payloads carry no id)", p.ID)
			}
			if _, ok := p.Object["data"].(map[string]any); !ok {
				t.Errorf("Object[data] = %T, want an object", p.Object["data"])
			}
		})
	}
}

func TestParsePayload(t *testing.T) {
	deepArrays := func(n int) string { return `{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}` }
	deepObjects := func(n int) string { return strings.Repeat(`{"a":`, n) + `1` + strings.Repeat(`}`, n) }

	tests := []struct {
		name     string
		body     string
		maxDepth int
		wantErr  string // substring of the reason; empty means success
		check    func(t *testing.T, p *Payload)
	}{
		{name: "minimal object", body: `{}`},
		{name: "surrounding whitespace", body: " \r\n\t{\"event\":\"x\"} \n", check: wantType("x")},
		{name: "id string", body: `{"id":"evt_1","event":"request.completed"}`, check: func(t *testing.T, p *Payload) {
			if p.ID != "evt_1" {
				t.Errorf("ID = %q, want evt_1", p.ID)
			}
		}},
		{name: "id non-string ignored", body: `{"id":12345}`, check: func(t *testing.T, p *Payload) {
			if p.ID != "" {
				t.Errorf("ID = %q, want empty", p.ID)
			}
			if p.Object["id"] != float64(12345) {
				t.Errorf("Object[id] = %v, want 12345", p.Object["id"])
			}
		}},
		{name: "event non-string ignored", body: `{"event":{"name":"x"}}`, check: wantType("")},
		{name: "no timestamp", body: `{"event":"x"}`, check: func(t *testing.T, p *Payload) {
			if p.HasTimestamp || !p.Timestamp.IsZero() {
				t.Errorf("HasTimestamp = %v, Timestamp = %v; want none", p.HasTimestamp, p.Timestamp)
			}
		}},
		{name: "timestamp with offset and fraction", body: `{"timestamp":"2024-01-20T11:30:00.5+01:00"}`, check: func(t *testing.T, p *Payload) {
			want := time.Date(2024, 1, 20, 10, 30, 0, 5e8, time.UTC)
			if !p.HasTimestamp || !p.Timestamp.Equal(want) {
				t.Errorf("Timestamp = %v, want %v", p.Timestamp, want)
			}
		}},
		// RFC 3339 section 5.6 allows a lowercase "t" and "z"; Go's
		// time.RFC3339 layout does not.
		{name: "timestamp with lowercase t and z", body: `{"timestamp":"2024-01-20t10:30:00z"}`, check: wantTimestamp(time.Date(2024, 1, 20, 10, 30, 0, 0, time.UTC))},
		{name: "timestamp with lowercase t and an offset", body: `{"timestamp":"2024-01-20t11:30:00.5+01:00"}`, check: wantTimestamp(time.Date(2024, 1, 20, 10, 30, 0, 5e8, time.UTC))},
		{name: "timestamp with lowercase z only", body: `{"timestamp":"2024-01-20T10:30:00z"}`, check: wantTimestamp(time.Date(2024, 1, 20, 10, 30, 0, 0, time.UTC))},
		{name: "timestamp null is absent", body: `{"timestamp":null}`, check: wantNoTimestamp},
		{name: "timestamp null after a string is absent", body: `{"timestamp":"2024-01-20T10:30:00Z","timestamp":null}`, check: wantNoTimestamp},
		// encoding/json keeps the last of duplicate keys; the raw body (what is
		// stored and relayed) still holds both, so we accept it rather than
		// guess which one the sender meant.
		{name: "duplicate keys, last wins", body: `{"event":"first","event":"second"}`, check: wantType("second")},
		{name: "brackets inside strings not counted", body: `{"a":"[[[[[[[[[[{{{{{{{{{{","b":"\"[{\\"}`, maxDepth: 1},
		{name: "escaped quote then brackets in string", body: `{"a":"x\"[[[[","b":1}`, maxDepth: 1},
		{name: "exactly max depth with arrays", body: deepArrays(32), maxDepth: 32},
		{name: "exactly max depth with objects", body: deepObjects(32), maxDepth: 32},
		{name: "default depth when zero", body: deepObjects(32), maxDepth: 0},
		{name: "largest float", body: `{"n":1.7976931348623157e308}`},
		{name: "tiny float underflows to zero", body: `{"n":1e-400}`},
		{name: "unicode escapes and raw unicode", body: `{"event":"caf\u00e9 ☕ 日本"}`, check: wantType("café ☕ 日本")},

		{name: "empty body", body: ``, wantErr: "empty"},
		{name: "whitespace only", body: " \n", wantErr: "empty"},
		{name: "not JSON", body: `event=request.completed`, wantErr: "not a JSON object"},
		{name: "truncated object", body: `{"event":"x"`, wantErr: "not valid JSON"},
		{name: "single quotes", body: `{'event':'x'}`, wantErr: "not valid JSON"},
		{name: "trailing comma", body: `{"a":1,}`, wantErr: "not valid JSON"},
		{name: "JSON array", body: `[{"event":"x"}]`, wantErr: "not a JSON object"},
		{name: "JSON string", body: `"hello"`, wantErr: "not a JSON object"},
		{name: "JSON number", body: `42`, wantErr: "not a JSON object"},
		{name: "JSON null", body: `null`, wantErr: "not a JSON object"},
		{name: "JSON true", body: `true`, wantErr: "not a JSON object"},
		{name: "byte order mark", body: "\xef\xbb\xbf{}", wantErr: "not a JSON object"},
		{name: "trailing garbage", body: `{"event":"x"} trailing`, wantErr: "not valid JSON"},
		{name: "two objects", body: `{}{}`, wantErr: "not valid JSON"},
		{name: "trailing NUL", body: "{}\x00", wantErr: "not valid JSON"},
		{name: "33 deep arrays", body: deepArrays(33), maxDepth: 32, wantErr: "nested deeper than 32"},
		{name: "33 deep objects", body: deepObjects(33), maxDepth: 32, wantErr: "nested deeper than 32"},
		{name: "100k deep arrays", body: deepArrays(100_000), wantErr: "nested deeper"},
		{name: "100k deep objects", body: deepObjects(100_000), wantErr: "nested deeper"},
		{name: "100k unclosed brackets", body: `{"a":` + strings.Repeat("[", 100_000), wantErr: "nested deeper"},
		{name: "number too large", body: `{"n":1e400}`, wantErr: "number out of range"},
		{name: "negative number too large", body: `{"data":{"cost":-1e400}}`, wantErr: "number out of range"},
		{name: "invalid UTF-8 in a string", body: "{\"event\":\"\xff\xfe\"}", wantErr: "UTF-8"},
		{name: "overlong UTF-8 encoding", body: "{\"event\":\"\xc0\xaf\"}", wantErr: "UTF-8"},
		{name: "UTF-16 surrogate encoded as UTF-8", body: "{\"event\":\"\xed\xa0\x80\"}", wantErr: "UTF-8"},
		{name: "timestamp number", body: `{"timestamp":1705746600}`, wantErr: "timestamp is not a string"},
		{name: "timestamp object", body: `{"timestamp":{}}`, wantErr: "timestamp is not a string"},
		{name: "timestamp with space separator", body: `{"timestamp":"2024-01-20 10:30:00Z"}`, wantErr: "RFC 3339"},
		{name: "timestamp without zone", body: `{"timestamp":"2024-01-20T10:30:00"}`, wantErr: "RFC 3339"},
		{name: "timestamp date only", body: `{"timestamp":"2024-01-20"}`, wantErr: "RFC 3339"},
		{name: "timestamp hour 24", body: `{"timestamp":"2024-01-20T24:00:00Z"}`, wantErr: "RFC 3339"},
		{name: "timestamp empty", body: `{"timestamp":""}`, wantErr: "RFC 3339"},
		{name: "timestamp words", body: `{"timestamp":"yesterday"}`, wantErr: "RFC 3339"},
		{name: "timestamp lowercase t elsewhere", body: `{"timestamp":"2024-01-20T10:30:00t"}`, wantErr: "RFC 3339"},
		{name: "timestamp lowercase z before an offset", body: `{"timestamp":"2024-01-20T10:30:00z+01:00"}`, wantErr: "RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePayload([]byte(tt.body), tt.maxDepth)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParsePayload: %v", err)
				}
				if p == nil || p.Object == nil {
					t.Fatal("nil payload or object without error")
				}
				if tt.check != nil {
					tt.check(t, p)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParsePayload succeeded, want error containing %q", tt.wantErr)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *ParseError", err, err)
			}
			if !strings.Contains(pe.Reason, tt.wantErr) {
				t.Errorf("reason %q does not contain %q", pe.Reason, tt.wantErr)
			}
			if p != nil {
				t.Error("payload returned with an error")
			}
		})
	}
}

func wantType(want string) func(*testing.T, *Payload) {
	return func(t *testing.T, p *Payload) {
		t.Helper()
		if p.Type != want {
			t.Errorf("Type = %q, want %q", p.Type, want)
		}
	}
}

func wantTimestamp(want time.Time) func(*testing.T, *Payload) {
	return func(t *testing.T, p *Payload) {
		t.Helper()
		if !p.HasTimestamp || !p.Timestamp.Equal(want) {
			t.Errorf("HasTimestamp = %v, Timestamp = %v; want %v", p.HasTimestamp, p.Timestamp, want)
		}
	}
}

func wantNoTimestamp(t *testing.T, p *Payload) {
	t.Helper()
	if p.HasTimestamp || !p.Timestamp.IsZero() {
		t.Errorf("HasTimestamp = %v, Timestamp = %v; want none", p.HasTimestamp, p.Timestamp)
	}
}

func FuzzParsePayload(f *testing.F) {
	for _, body := range seedPayloads {
		f.Add([]byte(body))
	}
	f.Add([]byte(`{"id":"evt_1","timestamp":"2024-01-20T10:30:00.123+02:00","a":[1,2,{"b":null}]}`))
	f.Add([]byte(`{"a":"[[[{{{\"\\"}`))
	f.Add([]byte(`{"n":1e400}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("{\"e\":\"\xff\"}"))

	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePayload(body, 8)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Reason == "" {
				t.Fatalf("error %v (%T) is not a *ParseError with a reason", err, err)
			}
			return
		}
		if id := DefaultEventID("", p, body); id == "" {
			t.Fatal("DefaultEventID returned an empty ID")
		}
		again, err := json.Marshal(p.Object)
		if err != nil {
			t.Fatalf("re-encoding a parsed object: %v", err)
		}
		p2, err := ParsePayload(again, 8)
		if err != nil {
			t.Fatalf("re-parsing %q: %v", again, err)
		}
		if p2.Type != p.Type || p2.ID != p.ID || p2.HasTimestamp != p.HasTimestamp || !p2.Timestamp.Equal(p.Timestamp) {
			t.Fatalf("re-parsed payload differs: %+v vs %+v", p2, p)
		}
	})
}

func BenchmarkParsePayload(b *testing.B) {
	body := []byte(seedPayloads["request.completed"])
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePayload(body, DefaultMaxDepth); err != nil {
			b.Fatal(err)
		}
	}
}
