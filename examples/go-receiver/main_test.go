package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func sign(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

func TestReceiver(t *testing.T) {
	const secret = "app-secret"
	// The seed's cost.exceeded, as UniCraft sends it: a re-serialising
	// receiver would see 1050 or 1050.0 and a different signature.
	const seed = `{"event": "cost.exceeded", "data": {"budget_name": "Café", "current_cost": 1050.0, "excess": 50.0}}`
	tests := []struct {
		name   string
		body   string
		sig    string
		status int
	}{
		{name: "raw body, valid signature", body: seed, sig: sign(secret, seed), status: http.StatusOK},
		{name: "uppercase hex", body: seed, sig: strings.ToUpper(sign(secret, seed)), status: http.StatusOK},
		{name: "body re-serialised after signing", body: `{"event":"cost.exceeded","data":{"budget_name":"Café","current_cost":1050,"excess":50}}`,
			sig: sign(secret, seed), status: http.StatusUnauthorized},
		{name: "wrong secret", body: seed, sig: sign("other", seed), status: http.StatusUnauthorized},
		{name: "no signature", body: seed, status: http.StatusUnauthorized},
		{name: "not hex", body: seed, sig: strings.Repeat("zz", 32), status: http.StatusUnauthorized},
		{name: "truncated signature", body: seed, sig: sign(secret, seed)[:62], status: http.StatusUnauthorized},
		{name: "signed but not JSON", body: "event=cost.exceeded", sig: sign(secret, "event=cost.exceeded"), status: http.StatusBadRequest},
		{name: "too large", body: strings.Repeat(" ", maxBody+1), status: http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := newReceiver([]byte(secret), slog.New(slog.NewTextHandler(&logs, nil)))
			req := httptest.NewRequest(http.MethodPost, "/webhooks/unicraft", strings.NewReader(tc.body))
			if tc.sig != "" {
				req.Header.Set("X-UniCraft-Signature", tc.sig)
			}
			req.Header.Set("X-UniCraft-Event-Id", "evt_1")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			accepted := strings.Count(logs.String(), "webhook accepted")
			if want := map[bool]int{true: 1}[tc.status == http.StatusOK]; accepted != want {
				t.Errorf("%d log lines for accepted events, want %d:\n%s", accepted, want, logs.String())
			}
			if tc.status == http.StatusOK && !strings.Contains(logs.String(), "event=cost.exceeded id=evt_1") {
				t.Errorf("log line lacks the event type and ID:\n%s", logs.String())
			}
		})
	}
}
