package signature

import (
	"net/http"
	"testing"
	"time"
)

// BenchmarkSchemeVerify verifies a valid request per scheme, with two
// secrets configured (rotation) and the old one signing, as the handler
// does on every request.
func BenchmarkSchemeVerify(b *testing.B) {
	body := benchBody(b)
	now := time.Unix(1_760_000_000, 0)
	for _, scheme := range allSchemes() {
		b.Run(scheme, func(b *testing.B) {
			cur, old := secretsFor(scheme)
			v, err := New(scheme, []string{cur, old}, Options{HMAC: partner})
			if err != nil {
				b.Fatal(err)
			}
			s, _ := New(scheme, []string{old}, Options{HMAC: partner})
			h := http.Header{}
			s.Sign(h, &Message{ID: "msg_1", Type: "push", Body: body}, now)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Verify(h, body, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSchemeSign signs one delivery per scheme, as the relay does on
// every attempt.
func BenchmarkSchemeSign(b *testing.B) {
	body := benchBody(b)
	now := time.Unix(1_760_000_000, 0)
	for _, scheme := range allSchemes() {
		b.Run(scheme, func(b *testing.B) {
			cur, _ := secretsFor(scheme)
			s, err := New(scheme, []string{cur}, Options{HMAC: partner})
			if err != nil {
				b.Fatal(err)
			}
			m := &Message{ID: "msg_1", Type: "push", Body: body}
			b.ReportAllocs()
			for b.Loop() {
				s.Sign(http.Header{}, m, now)
			}
		})
	}
}
