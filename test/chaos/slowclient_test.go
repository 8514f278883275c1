package chaos

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// slowConfig has the server timeouts and header limit of the quick-start
// Caddyfile, with read_header shortened so the test is quick.
const slowConfig = `{
	admin [[.Admin]]
	servers {
		timeouts {
			read_header 1s
			read_body 2s
			write 30s
			idle 2m
		}
		max_header_size 64KiB
	}
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space off
		target app {
			url http://127.0.0.1:9/hook
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	webhook_inbox chaos {
		secret {env.CHAOS_SOURCE_SECRET}
		default app
	}
}
`

// TestSlowAndFloodingClients checks the server-level defences the README
// documents: a slowloris client that never finishes its headers is cut
// off by read_header, one that drips its body by read_body, a header
// flood beyond max_header_size gets 431, and a normal sender is served
// throughout.
func TestSlowAndFloodingClients(t *testing.T) {
	in := testcaddy.Start(t, slowConfig, "CHAOS_SOURCE_SECRET="+sourceSecret)
	addr := fmt.Sprintf("127.0.0.1:%d", in.HTTP)

	// closedWithin reports whether the server closes conn within d.
	closedWithin := func(conn net.Conn, d time.Duration) bool {
		_ = conn.SetReadDeadline(time.Now().Add(d))
		buf := make([]byte, 512)
		for {
			if _, err := conn.Read(buf); err != nil {
				return !isTimeout(err)
			}
		}
	}

	t.Run("slowloris headers are cut off", func(t *testing.T) {
		var conns []net.Conn
		for range 20 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
			conns = append(conns, c)
		}
		// a normal sender is served while the slow ones hold connections
		body := payload("request.completed", "slowloris-bystander")
		if got := post(t, in.URL("/"), body, signedBy(sourceSecret, body)); got.status != http.StatusAccepted {
			t.Fatalf("bystander got %d %s", got.status, got.body)
		}
		for i, c := range conns {
			if !closedWithin(c, 5*time.Second) {
				t.Fatalf("slow connection %d still open after read_header 1s + 4s", i)
			}
		}
	})

	t.Run("a dripping body is cut off", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\nX-UniCraft-Signature: 00\r\n\r\n{")
		if !closedWithin(c, 8*time.Second) {
			t.Fatal("dripping body still open after read_body 2s + 6s")
		}
	})

	t.Run("header flood gets 431", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var b strings.Builder
		b.WriteString("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
		for i := range 2000 {
			fmt.Fprintf(&b, "X-Flood-%d: %s\r\n", i, strings.Repeat("f", 64))
		}
		b.WriteString("Content-Length: 0\r\n\r\n")
		// the server may answer and close before reading everything
		_, _ = c.Write([]byte(b.String()))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer to a header flood: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("header flood got %d, want 431", resp.StatusCode)
		}
	})
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
