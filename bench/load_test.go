package main

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"testing"
	"testing/iotest"
	"time"
)

func TestEventBody(t *testing.T) {
	tests := []struct {
		name       string
		head, tail string
	}{
		{"both parts", "head-part-", "tail"},
		{"empty tail", "only head", ""},
		{"empty head", "", "only tail"},
		{"long", string(bytes.Repeat([]byte("h"), 70000)), "the tail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := []byte(tt.head + tt.tail)
			if err := iotest.TestReader(&eventBody{head: []byte(tt.head), tail: []byte(tt.tail)}, want); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(iotest.OneByteReader(&eventBody{head: []byte(tt.head), tail: []byte(tt.tail)}))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("one byte at a time: %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		name   string
		url    string
		wantOK bool
	}{
		{"loopback", "http://127.0.0.1:8080/webhooks/unicraft", true},
		{"localhost may resolve elsewhere", "http://localhost:8080/", false},
		{"another host", "http://10.0.0.1:80/", false},
		{"https", "https://127.0.0.1:8443/", false},
		{"ipv6 loopback", "http://[::1]:80/", false},
		{"garbage", "http://%zz", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkLoopback(tt.url); (err == nil) != tt.wantOK {
				t.Fatalf("checkLoopback(%q) = %v, want ok %v", tt.url, err, tt.wantOK)
			}
		})
	}
}

// TestRunLoadAgainstApp drives the generator straight at the app (the
// direct scenario) and checks the bookkeeping, not the speed.
func TestRunLoadAgainstApp(t *testing.T) {
	a, err := startApp(0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.stop()
	var started, ended bool
	res, err := runLoad(context.Background(), loadConfig{
		url:      "http://127.0.0.1:" + strconv.Itoa(a.port) + hookPath,
		conns:    4,
		size:     1000,
		secret:   []byte("s"),
		runID:    "00c0ffee",
		warmup:   50 * time.Millisecond,
		duration: 200 * time.Millisecond,
	}, func() { started = true }, func() { ended = true })
	if err != nil {
		t.Fatal(err)
	}
	if !started || !ended {
		t.Fatalf("window hooks called: start %v, end %v", started, ended)
	}
	if res.ok == 0 || res.errors != 0 || res.statuses[200] != res.ok {
		t.Fatalf("ok %d, errors %d, statuses %v: want only 200s", res.ok, res.errors, res.statuses)
	}
	if res.latency.Count() != uint64(res.ok) {
		t.Fatalf("%d latencies for %d answers", res.latency.Count(), res.ok)
	}
	if res.window < 200*time.Millisecond {
		t.Fatalf("window %s shorter than asked", res.window)
	}
	sum := res.byPhase[phaseWarmup] + res.byPhase[phaseWindow] + res.byPhase[phaseTail]
	if res.sent != sum || res.accepted != sum {
		t.Fatalf("sent %d, accepted %d, answers by phase %v", res.sent, res.accepted, res.byPhase)
	}
	// the app answers only after reading the body: every accepted event
	// has arrived, each with its own ID
	if c := a.counts(); c.unique != res.accepted || c.requests != res.accepted {
		t.Fatalf("app counted %+v, generator had %d accepted", c, res.accepted)
	}
}

func TestRunLoadRefusesOtherHosts(t *testing.T) {
	_, err := runLoad(context.Background(), loadConfig{url: "http://example.com/", conns: 1, size: 400},
		func() {}, func() {})
	if err == nil {
		t.Fatal("runLoad accepted a non-loopback target")
	}
}
