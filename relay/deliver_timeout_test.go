package relay

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// rawTarget is a target on 127.0.0.1 that reads each request, writes a
// canned answer byte for byte and then holds the connection open until
// the test ends: what a proxy or a misbehaving app may do, and what
// httptest's well-behaved server cannot.
func rawTarget(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				go func() {
					<-done
					conn.Close()
				}()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				if _, err := io.WriteString(conn, answer); err != nil {
					return
				}
				// Hold: read until the client hangs up or the test ends.
				_, _ = io.Copy(io.Discard, conn)
			})
		}
	})
	return "http://" + ln.Addr().String() + "/hook"
}

// TestAttemptEndsWithinTimeout makes sure every attempt ends within the
// target's timeout whatever the target answers, and that Close is not
// held up by a target that never hangs up. A 101 answer used to hand the
// connection over to the caller, out of reach of the timeout, and the
// attempt lasted until the target hung up (issue 18).
func TestAttemptEndsWithinTimeout(t *testing.T) {
	tests := []struct {
		name       string
		answer     string
		want       store.Status
		wantStatus int
		wantError  string
	}{
		{name: "101 then silence", want: store.StatusPending, wantStatus: 101, wantError: "101",
			answer: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
		{name: "101 without upgrade headers", want: store.StatusPending, wantStatus: 101, wantError: "101",
			answer: "HTTP/1.1 101 Switching Protocols\r\n\r\n"},
		{name: "interim 103 then silence", want: store.StatusPending, wantError: "timeout after 200ms",
			answer: "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"},
		{name: "headers only, then silence", want: store.StatusPending, wantError: "timeout after 200ms",
			answer: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"},
		{name: "200 with a body that never ends", want: store.StatusDelivered, wantStatus: 200,
			answer: "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nstarted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "", DispatcherOptions{})
			cfg := target("app", rawTarget(t, tc.answer))
			cfg.Timeout = 200 * time.Millisecond
			h.d.SetTargets([]TargetConfig{cfg})
			mustAccept(t, h.in, testEvent("evt", "app"))
			waitFor(t, "the first attempt", h.runAttempts("evt", "app", 1))

			st := h.state(t, "evt", "app")
			if st.Status != tc.want || len(st.Attempts) != 1 {
				t.Fatalf("state %s with %d attempts, want %s with 1", st.Status, len(st.Attempts), tc.want)
			}
			a := st.Attempts[0]
			if a.Status != tc.wantStatus || !strings.Contains(a.Error, tc.wantError) {
				t.Errorf("attempt status %d error %q, want %d and an error containing %q",
					a.Status, a.Error, tc.wantStatus, tc.wantError)
			}

			closed := make(chan struct{})
			go func() {
				_ = h.d.Close()
				close(closed)
			}()
			select {
			case <-closed:
			case <-time.After(15 * time.Second):
				t.Fatal("Close did not return while the target held its connection")
			}
		})
	}
}
