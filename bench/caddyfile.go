package main

import (
	"fmt"
	"strings"
)

// secretEnv is the environment variable that carries the HMAC secret into
// the inbox config, so the Caddyfile holds a placeholder, not the secret.
const secretEnv = "BENCH_UNICRAFT_SECRET"

// hookPath is where the generator posts in every scenario.
const hookPath = "/webhooks/unicraft"

// defaultMaxBody is the handler's max_body when none is given.
const defaultMaxBody = 1 << 20

// siteConfig is what a scenario's Caddyfile is made of.
type siteConfig struct {
	admin    string // host:port of caddy's admin endpoint
	port     int    // plain-HTTP site port on 127.0.0.1
	appPort  int    // the downstream app's port on 127.0.0.1
	downPort int    // a port on 127.0.0.1 nothing listens on: the ingest scenario's app
	storage  string // inbox storage_dir (inbox only)
	bodySize int    // largest body the generator sends
	// concurrency is the inbox target's concurrency; zero leaves the
	// module's default (8).
	concurrency int
	// natsURLs are the JetStream cluster's client URLs (cluster scenarios).
	natsURLs []string
}

// renderCaddyfile returns the Caddyfile of scenario: reverse_proxy straight
// to the app; webhook_inbox storing events and relaying them to the app;
// or, for ingest, webhook_inbox relaying to a port where nothing listens,
// as when the app is down or being deployed. All bind to 127.0.0.1 only
// and log nothing per request.
func renderCaddyfile(scenario string, c siteConfig) (string, error) {
	var b strings.Builder
	switch scenario {
	case scenarioProxy:
		fmt.Fprintf(&b, "{\n\tadmin %s\n}\n\n", c.admin)
		fmt.Fprintf(&b, "http://:%d {\n\tbind 127.0.0.1\n\treverse_proxy 127.0.0.1:%d\n}\n", c.port, c.appPort)
	case scenarioInbox, scenarioIngest, scenarioCluster1, scenarioCluster3:
		if isCluster(scenario) && len(c.natsURLs) == 0 {
			return "", fmt.Errorf("scenario %s needs NATS servers", scenario)
		}
		if !isCluster(scenario) && c.storage == "" {
			return "", fmt.Errorf("scenario %s needs a storage dir", scenario)
		}
		appPort := c.appPort
		if scenario == scenarioIngest {
			if c.downPort == 0 {
				return "", fmt.Errorf("scenario %s needs a port for the app that is down", scenario)
			}
			appPort = c.downPort
		}
		fmt.Fprintf(&b, "{\n\tadmin %s\n\twebhook_inbox {\n", c.admin)
		if isCluster(scenario) {
			fmt.Fprintf(&b, "\t\tstorage nats {\n\t\t\tservers %s\n\t\t\treplicas %d\n\t\t\tprefix %s\n\t\t}\n",
				strings.Join(c.natsURLs, " "), clusterReplicas, natsPrefix)
		} else {
			fmt.Fprintf(&b, "\t\tstorage_dir %s\n", quoteToken(c.storage))
		}
		fmt.Fprintf(&b, "\t\ttarget app {\n\t\t\turl http://127.0.0.1:%d/hook\n", appPort)
		if c.concurrency > 0 {
			fmt.Fprintf(&b, "\t\t\tconcurrency %d\n", c.concurrency)
		}
		b.WriteString("\t\t}\n\t}\n}\n\n")
		fmt.Fprintf(&b, "http://:%d {\n\tbind 127.0.0.1\n\twebhook_inbox unicraft {\n\t\tsecret {env.%s}\n", c.port, secretEnv)
		if c.bodySize > defaultMaxBody {
			fmt.Fprintf(&b, "\t\tmax_body %d\n", c.bodySize)
		}
		b.WriteString("\t\tdefault app\n\t}\n}\n")
	default:
		return "", fmt.Errorf("scenario %s runs no caddy", scenario)
	}
	return b.String(), nil
}

// quoteToken quotes a Caddyfile token that contains spaces or quotes.
func quoteToken(s string) string {
	if !strings.ContainsAny(s, " \t\"{}#") {
		return s
	}
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}
