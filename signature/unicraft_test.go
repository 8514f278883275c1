package signature

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

var (
	testSecret    = []byte("whsec_current_0123456789")
	testOldSecret = []byte("whsec_previous_9876543210")
)

func TestSignKnownVector(t *testing.T) {
	// RFC 4231, test case 2.
	got := SignUniCraft([]byte("Jefe"), []byte("what do ya want for nothing?"))
	want := "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(seedPayloads["request.completed"])
	valid := SignUniCraft(testSecret, body)
	validOld := SignUniCraft(testOldSecret, body)

	// The same object with its keys in another order: equal as JSON, but a
	// different byte string, so its signature must not verify body.
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		t.Fatal(err)
	}
	reordered, err := json.Marshal(obj) // sorts keys, drops whitespace
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(reordered, body) {
		t.Fatal("re-encoded body unexpectedly identical")
	}

	tests := []struct {
		name   string
		header string
		body   []byte
		want   bool
	}{
		{name: "valid lowercase", header: valid, body: body, want: true},
		{name: "valid uppercase", header: strings.ToUpper(valid), body: body, want: true},
		{name: "valid mixed case", header: valid[:32] + strings.ToUpper(valid[32:]), body: body, want: true},
		{name: "sha256= prefix", header: "sha256=" + valid, body: body, want: true},
		{name: "SHA256= prefix", header: "SHA256=" + valid, body: body, want: true},
		{name: "Sha256= prefix uppercase hex", header: "Sha256=" + strings.ToUpper(valid), body: body, want: true},
		{name: "doubled prefix", header: "sha256=sha256=" + valid, body: body, want: false},
		{name: "prefix only", header: "sha256=", body: body, want: false},
		{name: "other scheme prefix", header: "sha1=" + valid, body: body, want: false},
		{name: "prefix without equals", header: "sha256" + valid, body: body, want: false},
		{name: "empty", header: "", body: body, want: false},
		{name: "whitespace only", header: " \t ", body: body, want: false},
		{name: "62 hex chars", header: valid[:62], body: body, want: false},
		{name: "63 hex chars", header: valid[:63], body: body, want: false},
		{name: "65 hex chars", header: valid + "0", body: body, want: false},
		{name: "128 hex chars", header: valid + valid, body: body, want: false},
		{name: "odd length", header: valid[:33], body: body, want: false},
		{name: "non-hex char", header: "g" + valid[1:], body: body, want: false},
		{name: "non-hex last char", header: valid[:63] + "z", body: body, want: false},
		{name: "0x prefix", header: "0x" + valid[2:], body: body, want: false},
		{name: "base64 of the digest", header: "W9zBRr9gdUpuBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=", body: body, want: false},
		{name: "64 bytes of multibyte runes", header: strings.Repeat("é", 32), body: body, want: false},
		{name: "NUL padded", header: valid[:63] + "\x00", body: body, want: false},
		{name: "one digit flipped", header: flipHexDigit(valid, 40), body: body, want: false},
		{name: "valid for a different body", header: SignUniCraft(testSecret, []byte(seedPayloads["request.failed"])), body: body, want: false},
		{name: "valid under the old secret", header: validOld, body: body, want: true},
		{name: "valid under an unknown secret", header: SignUniCraft([]byte("someone else"), body), body: body, want: false},
		{name: "whitespace around", header: " \t" + valid + "\r\n ", body: body, want: true},
		{name: "whitespace around prefix form", header: "  sha256=" + valid + "\t", body: body, want: true},
		{name: "whitespace after prefix", header: "sha256= " + valid, body: body, want: false},
		{name: "whitespace inside", header: valid[:32] + " " + valid[32:], body: body, want: false},
		{name: "10 KB header", header: strings.Repeat(valid, 10<<10/64), body: body, want: false},
		{name: "signature of re-ordered keys", header: SignUniCraft(testSecret, reordered), body: body, want: false},
		{name: "trailing newline added to body", header: valid, body: append(append([]byte(nil), body...), '\n'), want: false},
		{name: "empty body signed", header: SignUniCraft(testSecret, nil), body: nil, want: true},
		{name: "empty body, signature of non-empty", header: valid, body: nil, want: false},
	}

	v, err := NewUniCraftVerifier([][]byte{testSecret, testOldSecret})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := v.Verify(tt.header, tt.body); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

// flipHexDigit changes the hex digit at i to a different valid digit.
func flipHexDigit(s string, i int) string {
	c := byte('0')
	if s[i] == '0' {
		c = '1'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestVerifyOnlyConfiguredSecrets(t *testing.T) {
	body := []byte(`{"event":"request.completed"}`)
	tests := []struct {
		name    string
		secrets [][]byte
		signer  []byte
		want    bool
	}{
		{name: "single secret matches", secrets: [][]byte{testSecret}, signer: testSecret, want: true},
		{name: "old secret removed after rotation", secrets: [][]byte{testSecret}, signer: testOldSecret, want: false},
		{name: "old secret still configured", secrets: [][]byte{testSecret, testOldSecret}, signer: testOldSecret, want: true},
		{name: "new secret listed second", secrets: [][]byte{testOldSecret, testSecret}, signer: testSecret, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewUniCraftVerifier(tt.secrets)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Verify(SignUniCraft(tt.signer, body), body); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewVerifier(t *testing.T) {
	tests := []struct {
		name    string
		secrets [][]byte
		wantErr bool
	}{
		{name: "nil", secrets: nil, wantErr: true},
		{name: "no secrets", secrets: [][]byte{}, wantErr: true},
		{name: "one empty secret", secrets: [][]byte{{}}, wantErr: true},
		{name: "one nil secret", secrets: [][]byte{nil}, wantErr: true},
		{name: "empty old secret", secrets: [][]byte{testSecret, {}}, wantErr: true},
		{name: "one secret", secrets: [][]byte{testSecret}},
		{name: "two secrets", secrets: [][]byte{testSecret, testOldSecret}},
		{name: "one-byte secret", secrets: [][]byte{{'x'}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewUniCraftVerifier(tt.secrets)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewVerifier error = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				for _, s := range tt.secrets {
					if len(s) > 0 && strings.Contains(err.Error(), string(s)) {
						t.Errorf("error %q contains a secret", err)
					}
				}
				return
			}
			if v == nil {
				t.Fatal("nil Verifier without error")
			}
		})
	}
}

func TestNewVerifierCopiesSecrets(t *testing.T) {
	secret := []byte("mutable-secret")
	v, err := NewUniCraftVerifier([][]byte{secret})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{}`)
	sig := SignUniCraft(secret, body)
	for i := range secret {
		secret[i] = 'x'
	}
	if !v.Verify(sig, body) {
		t.Error("Verify depends on the caller's secret slice after NewVerifier returned")
	}
}

func TestVerifyConcurrent(t *testing.T) {
	v, err := NewUniCraftVerifier([][]byte{testSecret, testOldSecret})
	if err != nil {
		t.Fatal(err)
	}
	bodies := make([][]byte, 0, len(seedPayloads))
	for _, p := range seedPayloads {
		bodies = append(bodies, []byte(p))
	}

	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				body := bodies[(g+i)%len(bodies)]
				other := bodies[(g+i+1)%len(bodies)]
				secret := testSecret
				if i%2 == 1 {
					secret = testOldSecret
				}
				if !v.Verify(SignUniCraft(secret, body), body) {
					errs <- "valid signature rejected"
					return
				}
				if v.Verify(SignUniCraft(secret, other), body) {
					errs <- "signature of another body accepted"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func FuzzVerify(f *testing.F) {
	body := []byte(seedPayloads["request.completed"])
	f.Add(SignUniCraft(testSecret, body), body)
	f.Add("sha256="+SignUniCraft(testOldSecret, body), body)
	f.Add("SHA256=sha256="+SignUniCraft(testSecret, body), body)
	f.Add("", []byte(nil))
	f.Add(" \tzz", []byte("{}"))

	v, err := NewUniCraftVerifier([][]byte{testSecret, testOldSecret})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		// Arbitrary headers must never panic; the result only matters for
		// the properties below.
		v.Verify(header, body)

		sig := SignUniCraft(testSecret, body)
		for _, h := range []string{sig, strings.ToUpper(sig), "sha256=" + sig, " SHA256=" + sig + "\n"} {
			if !v.Verify(h, body) {
				t.Fatalf("Verify(%q) = false for a header produced by Sign", h)
			}
		}
		if v.Verify("sha256=sha256="+sig, body) {
			t.Fatal("doubled prefix accepted")
		}
		// A valid signature with junk after it must not pass.
		if v.Verify(sig+header, body) && strings.TrimSpace(header) != "" {
			t.Fatalf("signature followed by %q accepted", header)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	body := benchBody(b)
	tests := []struct {
		name    string
		secrets [][]byte
		signer  []byte
	}{
		{name: "1secret", secrets: [][]byte{testSecret}, signer: testSecret},
		// Signed with the old secret; both are checked either way.
		{name: "2secrets", secrets: [][]byte{testSecret, testOldSecret}, signer: testOldSecret},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			v, err := NewUniCraftVerifier(tt.secrets)
			if err != nil {
				b.Fatal(err)
			}
			sig := "sha256=" + SignUniCraft(tt.signer, body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if !v.Verify(sig, body) {
					b.Fatal("valid signature rejected")
				}
			}
		})
	}
}

// benchBody is the seed request.completed payload indented as a typical sender
// pretty-prints it, about 400 bytes.
func benchBody(tb testing.TB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(seedPayloads["request.completed"]), "", "  "); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
