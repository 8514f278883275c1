package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

func TestEvents(t *testing.T) {
	now := time.Date(2026, 11, 28, 18, 42, 7, 123, time.FixedZone("CET", 3600))
	secret := []byte("bench-secret")
	tests := []struct {
		name   string
		size   int
		worker int
	}{
		{"smallest", minBodySize, 0},
		{"default size", 400, 1},
		{"8 KiB", 8192, 63},
		{"256 KiB", 262144, maxConns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head, err := eventHead(tt.size)
			if err != nil {
				t.Fatal(err)
			}
			m := newEventMaker(head, secret, "0a1b2c3d", tt.worker)
			if m.signed == nil {
				t.Fatal("HMAC state cannot be cloned: every event would hash the whole body")
			}
			seen := make(map[string]bool)
			for range 3 {
				tail, id, sig := m.next(now)
				body := append(append([]byte{}, head...), tail...)
				if len(body) != tt.size {
					t.Fatalf("body is %d bytes, want %d", len(body), tt.size)
				}
				if want := signature.SignUniCraft(secret, body); sig != want {
					t.Fatalf("signature %s, want signature.SignUniCraft = %s", sig, want)
				}
				var ev struct {
					ID        string `json:"id"`
					Event     string `json:"event"`
					Timestamp string `json:"timestamp"`
					Data      struct {
						RequestID string `json:"request_id"`
					} `json:"data"`
				}
				if err := json.Unmarshal(body, &ev); err != nil {
					t.Fatalf("body is not JSON: %v\n%s", err, body)
				}
				if ev.ID != id || ev.Event != eventType || ev.Data.RequestID == "" {
					t.Fatalf("decoded %+v, want id %s and the seed's request.completed shape", ev, id)
				}
				if ev.Timestamp != "2026-11-28T17:42:07Z" {
					t.Fatalf("timestamp %q, want UTC RFC 3339 of now", ev.Timestamp)
				}
				if !strings.HasPrefix(id, "evt_0a1b2c3d_") || len(id) != idLen {
					t.Fatalf("id %q: want evt_<run>_ prefix and %d characters", id, idLen)
				}
				if seen[id] {
					t.Fatalf("id %s repeated", id)
				}
				seen[id] = true
			}
		})
	}
}

func TestEventHeadTooSmall(t *testing.T) {
	if _, err := eventHead(minBodySize - 1); err == nil {
		t.Fatal("eventHead accepted a size below the smallest event")
	}
}

func TestSignWithoutClone(t *testing.T) {
	head, err := eventHead(500)
	if err != nil {
		t.Fatal(err)
	}
	m := newEventMaker(head, []byte("s"), "00000000", 7)
	m.signed = nil // as under GOFIPS140=v1.0.0
	tail, _, sig := m.next(time.Now())
	if want := signature.SignUniCraft([]byte("s"), append(append([]byte{}, head...), tail...)); sig != want {
		t.Fatalf("fallback signature %s, want %s", sig, want)
	}
}

func TestAppendFixed(t *testing.T) {
	tests := []struct {
		name  string
		v     uint64
		width int
		want  string
	}{
		{"zero", 0, 4, "0000"},
		{"padded", 42, 6, "000042"},
		{"exact", 9999, 4, "9999"},
		{"too wide keeps low digits", 123456, 4, "3456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendFixed([]byte("x"), tt.v, tt.width)); got != "x"+tt.want {
				t.Fatalf("appendFixed(%d, %d) = %q, want %q", tt.v, tt.width, got, "x"+tt.want)
			}
		})
	}
}
