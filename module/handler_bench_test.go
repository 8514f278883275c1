package module

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// BenchmarkHandler measures the whole ingress path of an in-process Caddy
// over loopback HTTP: allow_ips, rate limit, body read, signature, JSON,
// freshness, ID, two CEL routes and the durable (fsynced, group-committed)
// accept, at 1, 16 and 64 concurrent keep-alive clients. Each op is one
// unique signed ~400-byte event answered 202. Allocations include the
// client's.
func BenchmarkHandler(b *testing.B) {
	for _, clients := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			benchHandler(b, clients)
		})
	}
}

func benchHandler(b *testing.B, clients int) {
	const secret = "bench-secret"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cf := fmt.Sprintf(`{
	admin off
	webhook_inbox {
		storage_dir %s
		min_free_space off
		target app {
			url http://127.0.0.1:9/hook
		}
		target pager {
			url http://127.0.0.1:9/pager
		}
	}
}
http://:%d {
	bind 127.0.0.1
	webhook_inbox unicraft {
		secret %s
		allow_ips 127.0.0.1
		rate_limit 1000000 1s
		route `+"`event.event == \"cost.exceeded\" && event.data.excess > 100.0`"+` pager app
		route `+"`event.event.startsWith(\"request.\")`"+` app
	}
}
`, b.TempDir(), port, secret)
	cfg, err := adaptCaddyfile(cf)
	if err != nil {
		b.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = caddy.Stop() }()

	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: clients,
		MaxConnsPerHost:     clients,
		DisableCompression:  true,
	}}
	pad := strings.Repeat("x", 120)
	ts := time.Now().UTC().Format(time.RFC3339)
	var seq atomic.Int64
	b.SetParallelism((clients + 1) / 2) // RunParallel starts GOMAXPROCS*p goroutines; 2 cores here
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			body := []byte(fmt.Sprintf(`{"id":"evt_%d","event":"request.completed","timestamp":%q,"data":{"request_id":"req_%d","model":"gpt-3.5-turbo","provider":"openai","cost":0.000042,"response_time":1250,"tokens":{"prompt":50,"completion":25,"total":75},"user_id":"user_123","project_id":"proj_456","pad":%q}}`, n, ts, n, pad))
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-UniCraft-Signature", signature.SignUniCraft([]byte(secret), body))
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

func adaptCaddyfile(cf string) ([]byte, error) {
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
	return out, err
}
