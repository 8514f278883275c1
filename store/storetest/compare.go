package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

func isErr(err, target error) bool {
	return errors.Is(err, target)
}

// wantErr fails unless err matches one of targets.
func wantErr(t testing.TB, call string, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if errors.Is(err, target) {
			return
		}
	}
	t.Fatalf("%s = %v, want %v", call, err, targets)
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// sameAttempts fails unless got holds want, in order, field by field.
func sameAttempts(t testing.TB, what string, got, want []store.Attempt) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d attempts, want %d:\n got %s\nwant %s", what, len(got), len(want), fmtAttempts(got), fmtAttempts(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.At.Equal(w.At) || g.Duration != w.Duration || g.Status != w.Status || g.Error != w.Error || g.Body != w.Body {
			t.Fatalf("%s: attempt %d = %s, want %s", what, i, fmtAttempts(got[i:i+1]), fmtAttempts(want[i:i+1]))
		}
	}
}

func fmtAttempts(as []store.Attempt) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = fmt.Sprintf("{At:%s Duration:%s Status:%d Error:%.40q Body:%.40q}",
			a.At.UTC().Format(time.RFC3339Nano), a.Duration, a.Status, a.Error, a.Body)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// sameTime fails unless got and want are the same instant.
func sameTime(t testing.TB, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", what, fmtTime(got), fmtTime(want))
	}
}

func fmtTime(tm time.Time) string {
	if tm.IsZero() {
		return "zero"
	}
	return tm.UTC().Format(time.RFC3339Nano)
}

// sameEvent fails unless got carries want's fields (ReceivedAt as given).
func sameEvent(t testing.TB, got store.Event, want *store.Event, withBody bool) {
	t.Helper()
	if got.ID != want.ID || got.Source != want.Source || got.Type != want.Type || got.ClientIP != want.ClientIP {
		t.Errorf("event = {ID:%q Source:%q Type:%q ClientIP:%q}, want {ID:%q Source:%q Type:%q ClientIP:%q}",
			got.ID, got.Source, got.Type, got.ClientIP, want.ID, want.Source, want.Type, want.ClientIP)
	}
	if !mapsEqual(got.Headers, want.Headers) {
		t.Errorf("headers = %v, want %v", got.Headers, want.Headers)
	}
	if !slices.Equal(sorted(got.Targets), sorted(want.Targets)) {
		t.Errorf("targets = %v, want %v", got.Targets, want.Targets)
	}
	if withBody && string(got.Body) != string(want.Body) {
		t.Errorf("body = %q, want %q", got.Body, want.Body)
	}
	sameTime(t, "received_at", got.ReceivedAt, want.ReceivedAt)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
