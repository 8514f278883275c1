package ingress

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/webhookinbox/caddy-webhook-inbox/signature"
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
		{name: "slash allowed", id: "unicraft/req_123"},
		{name: "inner spaces and punctuation", id: "order 42: paid?"},
		{name: "every printable ASCII character", id: "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"},
		{name: "dots with more", id: "..."},
		{name: "leading dot", id: ".evt"},
		{name: "percent-escaped dots", id: "%2E%2E"},
		{name: "exactly 256 bytes", id: strings.Repeat("a", 256)},
		{name: "empty", id: "", wantErr: "event id is empty"},
		{name: "257 bytes", id: strings.Repeat("a", 257), wantErr: "longer than 256 bytes"},
		// A header value loses its leading and trailing spaces on the way
		// to the receiver, so "sp1 " would arrive as "sp1", another event.
		{name: "trailing space", id: "sp1 ", wantErr: "starts or ends with a space"},
		{name: "leading space", id: " sp1", wantErr: "starts or ends with a space"},
		{name: "only a space", id: " ", wantErr: "starts or ends with a space"},
		// "." and ".." are path segments a client or a proxy resolves, so
		// the admin API could not address them.
		{name: "dot", id: ".", wantErr: `may not be "." or ".."`},
		{name: "dot dot", id: "..", wantErr: `may not be "." or ".."`},
		// Non-ASCII reaches receivers as bytes each decodes its own way
		// (Node reads header bytes as Latin-1).
		{name: "accented letter", id: "paiement.reçu", wantErr: "outside printable ASCII"},
		{name: "unicode", id: "événement-日本-🎉", wantErr: "outside printable ASCII"},
		{name: "no-break space", id: "sp1\u00a0", wantErr: "outside printable ASCII"},
		{name: "CRLF log injection", id: "evt_1\r\nlevel=error msg=forged", wantErr: "control character"},
		{name: "lone LF", id: "evt\n", wantErr: "control character"},
		{name: "ANSI escape", id: "\x1b[31mred\x1b[0m", wantErr: "control character"},
		{name: "NUL", id: "evt\x00", wantErr: "control character"},
		{name: "tab", id: "evt\t1", wantErr: "control character"},
		{name: "DEL", id: "evt\x7f", wantErr: "control character"},
		{name: "C1 NEL", id: "evt\u0085", wantErr: "outside printable ASCII"},
		{name: "C1 CSI", id: "\u009b31m", wantErr: "outside printable ASCII"},
		{name: "invalid UTF-8", id: "evt\xff", wantErr: "outside printable ASCII"},
		{name: "raw C1 byte", id: "evt\x9b", wantErr: "outside printable ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateEventID(tt.id)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateEventID: %v", err)
				}
				checkIDSurvives(t, tt.id)
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T), want *ParseError", err, err)
			}
			if !strings.Contains(pe.Reason, tt.wantErr) {
				t.Errorf("reason %q does not contain %q", pe.Reason, tt.wantErr)
			}
			// The reason for "." and ".." names them, which echoes nothing
			// a sender chose freely.
			if len(strings.Trim(tt.id, " .")) > 0 && strings.Contains(pe.Reason, tt.id) {
				t.Errorf("reason %q echoes the rejected id", pe.Reason)
			}
		})
	}
}

// TestDefaultEventIDsAreValid checks that every ID the default chain
// yields for an ordinary sender passes ValidateEventID.
func TestDefaultEventIDsAreValid(t *testing.T) {
	body := []byte(seedPayloads["request.completed"])
	tests := []struct {
		name   string
		header string
		p      *Payload
	}{
		{name: "sha256 of the body", p: &Payload{}},
		{name: "sha256 of an empty body"},
		{name: "header uuid", header: "6f1c2a8e-3b4d-4c5e-9f60-7a8b9c0d1e2f"},
		{name: "body id", p: &Payload{ID: "evt_1705746600_42"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := DefaultEventID(tt.header, tt.p, body)
			if err := ValidateEventID(id); err != nil {
				t.Fatalf("ValidateEventID(%q): %v", id, err)
			}
			checkIDSurvives(t, id)
		})
	}
}

// FuzzValidateEventID checks that every ID ValidateEventID accepts reads
// back unchanged from a request header and from an admin API path segment.
func FuzzValidateEventID(f *testing.F) {
	for _, id := range []string{"evt_1", "sp1 ", " ", ".", "..", "a/b", "paiement.reçu", "%2e", "a b", hexSHA256("x")} {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidateEventID(id) == nil {
			checkIDSurvives(t, id)
		}
	})
}

// checkIDSurvives fails unless id reads back unchanged as the
// X-UniCraft-Event-Id header of a request written and parsed by net/http,
// and as a path segment of the admin API, escaped as the admin API and
// the CLI escape it.
func checkIDSurvives(t *testing.T, id string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/hook", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(signature.UniCraftEventID, id)
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatalf("writing a request with id %q: %v", id, err)
	}
	got, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatalf("reading a request with id %q: %v", id, err)
	}
	if v := got.Header.Get(signature.UniCraftEventID); v != id {
		t.Errorf("header carries %q, want %q", v, id)
	}
	if !isASCII(id) {
		t.Errorf("id %q is not ASCII: a receiver may decode it another way", id)
	}

	u, err := url.Parse("http://127.0.0.1/webhook_inbox/events/" + url.PathEscape(id) + "/replay")
	if err != nil {
		t.Fatalf("parsing the admin URL of id %q: %v", id, err)
	}
	escaped := u.EscapedPath()
	if path.Clean(escaped) != escaped {
		t.Errorf("admin path %q of id %q is changed by path cleaning", escaped, id)
	}
	seg := strings.TrimSuffix(strings.TrimPrefix(escaped, "/webhook_inbox/events/"), "/replay")
	if v, err := url.PathUnescape(seg); err != nil || v != id {
		t.Errorf("admin path segment %q reads back as %q (%v), want %q", seg, v, err, id)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
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
