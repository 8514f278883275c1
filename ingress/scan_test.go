package ingress

import (
	"errors"
	"strings"
	"testing"
)

// scanCases are bodies on which ScanPayload must agree with ParsePayload:
// the seed payloads, the awkward corners of JSON, and every rejection.
var scanCases = []string{
	`{}`,
	" \r\n\t{\"event\":\"x\"} \n",
	`{"id":"evt_1","event":"request.completed"}`,
	`{"id":12345,"event":{"name":"x"}}`,
	`{"event":"a","event":"b","id":"1","id":2}`,
	`{"\u0069d":"escaped key","ev\u0065nt":"t\u00e9"}`,
	`{"id":"\ud800 lone surrogate"}`,
	`{"timestamp":"2024-01-20T11:30:00.5+01:00"}`,
	`{"timestamp":null}`,
	`{"timestamp":"2024-01-20T10:30:00Z","timestamp":null}`,
	`{"timestamp":null,"timestamp":"2024-01-20T10:30:00Z"}`,
	`{"timestamp":"2024-01-20t10:30:00z"}`,
	`{"timestamp":"2024-01-20t11:30:00.5+01:00"}`,
	`{"timestamp":"2024-01-20T10:30:00z+01:00"}`,
	`{"timestamp":"2024-01-20T10:30:00t"}`,
	`{"timest\u0061mp":"2024-01-20t10:30:00\u007a"}`,
	`{"timestamp":1705746600}`,
	`{"timestamp":"yesterday"}`,
	`{"data":{"timestamp":"not top level","id":"nested"},"id":"top"}`,
	`{"a":[1,-2.5e10,{"b":[true,false,null]}],"s":"}{][\"\\"}`,
	`{"n":1e400}`,
	`{"n":-1e400}`,
	`{"n":1e-400}`,
	`{"n":` + "1" + strings.Repeat("0", 400) + `}`,
	`{"deep":[[[[[[[[[[1]]]]]]]]]]}`,
	`{"a":1,}`,
	`{"a":1} trailing`,
	`{"a":01}`,
	`[]`,
	``,
	"{\"e\":\"\xff\"}",
	`{"a":"unterminated}`,
	// Grammar corners the one-pass scanner must refuse like encoding/json.
	`{"a":-}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":1e+}`, `{"a":-01}`, `{"a":+1}`,
	`{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`, "{\"a\":\"tab\there\"}",
	`{"a":tru}`, `{"a":nul}`, `{"a":falsey}`, `{"a" 1}`, `{"a":1 "b":2}`, `{"a":[1,]}`,
	`{"a":[,1]}`, `{,"a":1}`, `{"a":1}}`, `{"a":1,"b"}`, `{1:2}`, `{"a":[1 2]}`,
	`{"a":{"b":{}}, "c":[[],{}], "d":"\u00e9\n\"\\\/"}`,
	strings.Repeat(`{"a":`, 8) + `1` + strings.Repeat(`}`, 8),
	strings.Repeat(`{"a":`, 9) + `1` + strings.Repeat(`}`, 9),
	`{"a":[[[[[[[1]]]]]]]}`, `{"a":[[[[[[[[1]]]]]]]]}`,
}

func TestScanPayloadAgreesWithParsePayload(t *testing.T) {
	cases := append([]string(nil), scanCases...)
	for _, body := range seedPayloads {
		cases = append(cases, body)
	}
	for _, body := range cases {
		checkScanAgrees(t, []byte(body), 8)
	}
}

func FuzzScanPayload(f *testing.F) {
	for _, body := range scanCases {
		f.Add([]byte(body))
	}
	for _, body := range seedPayloads {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkScanAgrees(t, body, 8)
	})
}

// checkScanAgrees fails unless both functions accept body with the same
// fields or reject it with the same reason.
func checkScanAgrees(t *testing.T, body []byte, depth int) {
	t.Helper()
	want, wantErr := ParsePayload(body, depth)
	got, err := ScanPayload(body, depth)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%q: ScanPayload error %v, ParsePayload error %v", body, err, wantErr)
	}
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) || err.Error() != wantErr.Error() {
			t.Fatalf("%q: ScanPayload rejects with %q, ParsePayload with %q", body, err, wantErr)
		}
		return
	}
	if got.Object != nil {
		t.Fatalf("%q: ScanPayload decoded the object", body)
	}
	if got.Type != want.Type || got.ID != want.ID || got.HasTimestamp != want.HasTimestamp || !got.Timestamp.Equal(want.Timestamp) {
		t.Fatalf("%q: ScanPayload %+v, ParsePayload %+v", body, got, want)
	}
}

func BenchmarkScanPayload(b *testing.B) {
	body := []byte(seedPayloads["request.completed"])
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScanPayload(body, DefaultMaxDepth); err != nil {
			b.Fatal(err)
		}
	}
}
