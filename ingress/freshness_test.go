package ingress

import (
	"errors"
	"testing"
	"time"
)

func TestCheckFreshness(t *testing.T) {
	now := time.Date(2024, 1, 20, 10, 30, 0, 0, time.UTC)
	const maxAge = 72 * time.Hour
	at := func(d time.Duration) *Payload { return &Payload{Timestamp: now.Add(d), HasTimestamp: true} }

	tests := []struct {
		name      string
		p         *Payload
		maxAge    time.Duration
		maxFuture time.Duration
		wantErr   string
	}{
		{name: "nil payload", p: nil, maxAge: maxAge, maxFuture: DefaultMaxFuture},
		{name: "no timestamp", p: &Payload{}, maxAge: maxAge, maxFuture: DefaultMaxFuture},
		{name: "now", p: at(0), maxAge: maxAge, maxFuture: DefaultMaxFuture},
		{name: "exactly max age", p: at(-maxAge), maxAge: maxAge, maxFuture: DefaultMaxFuture},
		{name: "max age minus 1s", p: at(-maxAge + time.Second), maxAge: maxAge, maxFuture: DefaultMaxFuture},
		{name: "max age plus 1ns", p: at(-maxAge - 1), maxAge: maxAge, maxFuture: DefaultMaxFuture, wantErr: "timestamp too old"},
		{name: "max age plus 1s", p: at(-maxAge - time.Second), maxAge: maxAge, maxFuture: DefaultMaxFuture, wantErr: "timestamp too old"},
		{name: "exactly max future", p: at(DefaultMaxFuture), maxAge: maxAge, maxFuture: DefaultMaxFuture},
		{name: "max future minus 1s", p: at(DefaultMaxFuture - time.Second), maxAge: maxAge, maxFuture: DefaultMaxFuture},
		{name: "max future plus 1ns", p: at(DefaultMaxFuture + 1), maxAge: maxAge, maxFuture: DefaultMaxFuture, wantErr: "timestamp in the future"},
		{name: "max future plus 1s", p: at(DefaultMaxFuture + time.Second), maxAge: maxAge, maxFuture: DefaultMaxFuture, wantErr: "timestamp in the future"},
		{name: "year 1", p: &Payload{Timestamp: time.Time{}, HasTimestamp: true}, maxAge: maxAge, maxFuture: DefaultMaxFuture, wantErr: "timestamp too old"},
		{name: "year 9999", p: &Payload{Timestamp: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), HasTimestamp: true}, maxAge: maxAge, maxFuture: DefaultMaxFuture, wantErr: "timestamp in the future"},
		{name: "other zone, same instant", p: &Payload{Timestamp: now.In(time.FixedZone("UTC+14", 14*3600)).Add(-maxAge), HasTimestamp: true}, maxAge: maxAge, maxFuture: DefaultMaxFuture},
		{name: "age check disabled", p: at(-1000 * maxAge), maxAge: 0, maxFuture: DefaultMaxFuture},
		{name: "future check disabled", p: at(1000 * time.Hour), maxAge: maxAge, maxFuture: 0},
		{name: "age disabled, future still checked", p: at(DefaultMaxFuture + time.Second), maxAge: 0, maxFuture: DefaultMaxFuture, wantErr: "timestamp in the future"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckFreshness(tt.p, now, tt.maxAge, tt.maxFuture)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckFreshness: %v", err)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T), want *ParseError", err, err)
			}
			if pe.Reason != tt.wantErr {
				t.Errorf("reason = %q, want %q", pe.Reason, tt.wantErr)
			}
		})
	}
}

func TestCheckFreshnessWithParsedTimestamp(t *testing.T) {
	p, err := ParsePayload([]byte(seedPayloads["request.completed"]), DefaultMaxDepth)
	if err != nil {
		t.Fatal(err)
	}
	const maxAge = 72 * time.Hour
	sent := time.Date(2024, 1, 20, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		name    string
		now     time.Time
		wantErr bool
	}{
		{name: "received a minute later", now: sent.Add(time.Minute)},
		{name: "received max age later", now: sent.Add(maxAge)},
		{name: "received max age plus 1s later", now: sent.Add(maxAge + time.Second), wantErr: true},
		{name: "our clock 5 minutes behind", now: sent.Add(-DefaultMaxFuture)},
		{name: "our clock 5 minutes 1s behind", now: sent.Add(-DefaultMaxFuture - time.Second), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckFreshness(p, tt.now, maxAge, DefaultMaxFuture)
			if (err != nil) != tt.wantErr {
				t.Errorf("CheckFreshness = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

// TestNoReplayGap replays one captured payload at every second of a
// timeline on an injected clock, with the sender's clock skewed either
// way: each replay must find the ID still remembered (until the later of
// receipt plus the dedup window and FreshUntil, as the store keeps it) or
// be refused by CheckFreshness. The README promises "no replay gap".
func TestNoReplayGap(t *testing.T) {
	received := time.Date(2024, 1, 20, 10, 30, 0, 0, time.UTC)
	const window = 72 * time.Hour
	tests := []struct {
		name   string
		skew   time.Duration // payload timestamp minus receipt
		maxAge time.Duration
	}{
		{name: "4 minutes ahead, max_age = dedup_window", skew: 4 * time.Minute, maxAge: window},
		{name: "at the future limit", skew: DefaultMaxFuture, maxAge: window},
		{name: "in step", skew: 0, maxAge: window},
		{name: "an hour behind", skew: -time.Hour, maxAge: window},
		{name: "4 minutes ahead, shorter max_age", skew: 4 * time.Minute, maxAge: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Payload{Timestamp: received.Add(tt.skew), HasTimestamp: true}
			if err := CheckFreshness(p, received, tt.maxAge, DefaultMaxFuture); err != nil {
				t.Fatalf("first receipt refused: %v", err)
			}
			remembered := received.Add(window)
			if until := FreshUntil(p, tt.maxAge); until.After(remembered) {
				remembered = until
			}
			end := received.Add(window + DefaultMaxFuture + time.Minute)
			for now := received; !now.After(end); now = now.Add(time.Second) {
				if !now.After(remembered) {
					continue // a duplicate
				}
				if CheckFreshness(p, now, tt.maxAge, DefaultMaxFuture) == nil {
					t.Fatalf("replay %s after receipt: ID forgotten %s after receipt, payload still fresh",
						now.Sub(received), remembered.Sub(received))
				}
			}
		})
	}
}

func TestFreshUntil(t *testing.T) {
	ts := time.Date(2024, 1, 20, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		name   string
		p      *Payload
		maxAge time.Duration
		want   time.Time
	}{
		{name: "timestamp plus max_age", p: &Payload{Timestamp: ts, HasTimestamp: true}, maxAge: time.Hour, want: ts.Add(time.Hour)},
		{name: "no timestamp", p: &Payload{}, maxAge: time.Hour},
		{name: "nil payload", p: nil, maxAge: time.Hour},
		{name: "age check disabled", p: &Payload{Timestamp: ts, HasTimestamp: true}, maxAge: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FreshUntil(tt.p, tt.maxAge)
			if !got.Equal(tt.want) {
				t.Fatalf("FreshUntil = %v, want %v", got, tt.want)
			}
			if got.IsZero() {
				return
			}
			if err := CheckFreshness(tt.p, got, tt.maxAge, 0); err != nil {
				t.Errorf("CheckFreshness at FreshUntil: %v, want fresh", err)
			}
			if err := CheckFreshness(tt.p, got.Add(1), tt.maxAge, 0); err == nil {
				t.Error("CheckFreshness 1ns after FreshUntil: fresh, want too old")
			}
		})
	}
}
