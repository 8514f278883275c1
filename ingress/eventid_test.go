package ingress

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestDefaultEventID(t *testing.T) {
	body := []byte(seedPayloads["request.completed"])
	sum := sha256.Sum256(body)
	bodyHash := hex.EncodeToString(sum[:])

	tests := []struct {
		name   string
		header string
		p      *Payload
		body   []byte
		want   string
	}{
		{name: "header wins", header: "hdr_1", p: &Payload{ID: "body_1"}, body: body, want: "hdr_1"},
		{name: "body id when no header", header: "", p: &Payload{ID: "body_1"}, body: body, want: "body_1"},
		{name: "hash when no header and no id", header: "", p: &Payload{}, body: body, want: bodyHash},
		{name: "hash when payload is nil", header: "", p: nil, body: body, want: bodyHash},
		{name: "header with nil payload", header: "hdr_2", p: nil, body: body, want: "hdr_2"},
		{name: "hash of empty body", header: "", p: nil, body: nil, want: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DefaultEventID(tt.header, tt.p, tt.body); got != tt.want {
				t.Errorf("DefaultEventID = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDefaultEventIDFromParsedBody(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{name: "string id", body: `{"id":"evt_42","event":"x"}`, want: "evt_42"},
		{name: "numeric id falls back to the hash", body: `{"id":42}`, want: hexSHA256(`{"id":42}`)},
		{name: "empty id falls back to the hash", body: `{"id":""}`, want: hexSHA256(`{"id":""}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePayload([]byte(tt.body), DefaultMaxDepth)
			if err != nil {
				t.Fatal(err)
			}
			if got := DefaultEventID("", p, []byte(tt.body)); got != tt.want {
				t.Errorf("DefaultEventID = %q, want %q", got, tt.want)
			}
		})
	}
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestValidateEventID(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		wantErr string
	}{
		{name: "simple", id: "evt_123"},
		{name: "uuid", id: "6f1c2a8e-3b4d-4c5e-9f60-7a8b9c0d1e2f"},
		{name: "sha256 hex", id: hexSHA256("x")},
		{name: "unicode", id: "événement-日本-🎉"},
		{name: "slash allowed", id: "unicraft/req_123"},
		{name: "spaces and punctuation", id: "order 42: paid?"},
		{name: "exactly 256 bytes", id: strings.Repeat("a", 256)},
		{name: "256 bytes of two-byte runes", id: strings.Repeat("é", 128)},
		{name: "empty", id: "", wantErr: "event id is empty"},
		{name: "257 bytes", id: strings.Repeat("a", 257), wantErr: "longer than 256 bytes"},
		{name: "258 bytes of two-byte runes", id: strings.Repeat("é", 129), wantErr: "longer than 256 bytes"},
		{name: "CRLF log injection", id: "evt_1\r\nlevel=error msg=forged", wantErr: "control character"},
		{name: "lone LF", id: "evt\n", wantErr: "control character"},
		{name: "ANSI escape", id: "\x1b[31mred\x1b[0m", wantErr: "control character"},
		{name: "NUL", id: "evt\x00", wantErr: "control character"},
		{name: "tab", id: "evt\t1", wantErr: "control character"},
		{name: "DEL", id: "evt\x7f", wantErr: "control character"},
		{name: "C1 NEL", id: "evt\u0085", wantErr: "control character"},
		{name: "C1 CSI", id: "\u009b31m", wantErr: "control character"},
		{name: "invalid UTF-8", id: "evt\xff", wantErr: "not valid UTF-8"},
		{name: "raw C1 byte is invalid UTF-8", id: "evt\x9b", wantErr: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateEventID(tt.id)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateEventID: %v", err)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T), want *ParseError", err, err)
			}
			if !strings.Contains(pe.Reason, tt.wantErr) {
				t.Errorf("reason %q does not contain %q", pe.Reason, tt.wantErr)
			}
			if tt.id != "" && strings.Contains(pe.Reason, tt.id) {
				t.Errorf("reason %q echoes the rejected id", pe.Reason)
			}
		})
	}
}

func BenchmarkDefaultEventID(b *testing.B) {
	body := []byte(seedPayloads["request.completed"])
	p := &Payload{}
	b.Run("header", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = DefaultEventID("evt_123", p, body)
		}
	})
	b.Run("bodyhash", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			_ = DefaultEventID("", p, body)
		}
	})
}
