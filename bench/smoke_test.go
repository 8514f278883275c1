package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// TestBenchSmoke runs the README's `go run ./bench`, shortened to one
// brief round, and checks both scenarios answered and the table printed.
// It measures nothing: speed is for the full command.
func TestBenchSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	args := []string{"-caddy", testcaddy.Binary(t), "-rounds", "1", "-warmup", "200ms",
		"-duration", "1s", "-drain", "10s", "-conns", "4"}
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"| proxy |", "| inbox |", "inbox / proxy"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
