package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// TestBenchClusterSmoke runs the cluster scenarios very briefly: a
// JetStream cluster in this process, one and three gateways on it, each
// event delivered to the app. It measures nothing.
func TestBenchClusterSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node JetStream cluster twice")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	args := []string{"-caddy", testcaddy.Binary(t), "-rounds", "1", "-warmup", "0",
		"-duration", "1s", "-drain", "10s", "-conns", "6", "-scenarios", "proxy,cluster1,cluster3"}
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"| cluster1 |", "| cluster3 |", "cluster1 / proxy", "cluster3 / proxy", "storage nats"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(errOut.String(), "WARNING") {
		t.Errorf("a run had no 2xx answers:\n%s", errOut.String())
	}
	// Every event a gateway accepted reached the app.
	for _, sc := range []string{"cluster1", "cluster3"} {
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(line, "| "+sc+" |") && !strings.Contains(line, "(1/1 rounds complete)") {
				t.Errorf("%s did not deliver everything: %s", sc, line)
			}
		}
	}
}

// TestClusterCaddyfile checks the cluster scenarios store in NATS with
// three replicas and relay to the app, with no storage_dir.
func TestClusterCaddyfile(t *testing.T) {
	c := siteConfig{admin: "127.0.0.1:2019", port: 8080, appPort: 9090, natsURLs: []string{"nats://127.0.0.1:1", "nats://127.0.0.1:2"}}
	for _, sc := range []string{scenarioCluster1, scenarioCluster3} {
		got, err := renderCaddyfile(sc, c)
		if err != nil {
			t.Fatalf("%s: %v", sc, err)
		}
		for _, want := range []string{"storage nats {", "servers nats://127.0.0.1:1 nats://127.0.0.1:2", "replicas 3", "prefix bench", "url http://127.0.0.1:9090/hook", "default app"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: Caddyfile lacks %q:\n%s", sc, want, got)
			}
		}
		if strings.Contains(got, "storage_dir") {
			t.Errorf("%s: Caddyfile has a storage_dir:\n%s", sc, got)
		}
	}
	if _, err := renderCaddyfile(scenarioCluster1, siteConfig{admin: "127.0.0.1:2019", port: 8080}); err == nil {
		t.Error("cluster1 without NATS servers rendered")
	}
}
