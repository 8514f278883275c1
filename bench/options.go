package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Scenario names accepted by -scenarios.
const (
	scenarioProxy  = "proxy"  // caddy reverse_proxy in front of the app
	scenarioInbox  = "inbox"  // caddy webhook_inbox storing and relaying to the app
	scenarioIngest = "ingest" // webhook_inbox while its app is down: durable ingest alone, nothing delivered
	scenarioDirect = "direct" // the generator posting to the app, no caddy: the rig's own ceiling
	// The cluster scenarios run the inbox on `storage nats` against a
	// 3-node R3 JetStream cluster in this process, relaying to the app.
	scenarioCluster1 = "cluster1" // one gateway
	scenarioCluster3 = "cluster3" // three gateways, connections spread round robin over them
)

var knownScenarios = []string{scenarioProxy, scenarioInbox, scenarioIngest, scenarioDirect, scenarioCluster1, scenarioCluster3}

// gatewayCount is how many caddy processes scenario runs.
func gatewayCount(scenario string) int {
	switch scenario {
	case scenarioDirect:
		return 0
	case scenarioCluster3:
		return 3
	}
	return 1
}

// isCluster reports whether scenario stores in the NATS cluster.
func isCluster(scenario string) bool {
	return scenario == scenarioCluster1 || scenario == scenarioCluster3
}

// options are the command's settings, from its flags.
type options struct {
	caddyBin  string
	scenarios []string
	rounds    int
	conns     []int
	sizes     []int
	warmup    time.Duration
	duration  time.Duration
	drain     time.Duration
	keep      bool
	profile   string
	caddyProf string
	// concurrency is the inbox target's concurrency: -1 (the default)
	// means as many as the run's connections, 0 the module's default.
	concurrency int
	// appLatency is how long the app takes over each request.
	appLatency time.Duration
}

// parseOptions reads the command's flags from args (without the program
// name); usage and errors go to out.
func parseOptions(args []string, out io.Writer) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: go run ./bench [flags]\n\n"+
			"Measures caddy reverse_proxy against caddy webhook_inbox in front of the same\n"+
			"trivial app, each scenario in a fresh caddy process, and prints markdown tables.\n\n")
		fs.PrintDefaults()
	}
	o := new(options)
	var scenarios, conns, sizes string
	fs.StringVar(&o.caddyBin, "caddy", "", "caddy binary to run (default: build ./caddy into a temp dir)")
	fs.StringVar(&scenarios, "scenarios", "proxy,inbox,ingest", "comma list of scenarios: proxy, inbox, ingest (the inbox while its app is down), direct (the app alone, no caddy), cluster1 (the inbox on storage nats, a 3-node R3 JetStream cluster in this process), cluster3 (three such gateways on that cluster, connections round robin)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; each runs every scenario once, back to back, and the table shows medians")
	fs.StringVar(&conns, "conns", "64", "keep-alive connections, one closed-loop sender each; a comma list prints a scaling table")
	fs.StringVar(&sizes, "size", "400", "request body bytes (KiB/MiB suffixes allowed); a comma list prints a scaling table")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before the measured window")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&o.drain, "drain", 10*time.Second, "after load stops, how long to wait for the app to receive every accepted event")
	fs.BoolVar(&o.keep, "keep", false, "keep each run's temp dir (Caddyfile, caddy.log, storage) and print where it is")
	fs.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of this process (generator and app) to this file")
	fs.IntVar(&o.concurrency, "concurrency", -1, "the inbox target's concurrency (attempts in flight to the app); -1 means as many as -conns, like the requests reverse_proxy has in flight, and 0 the module's default of 8")
	fs.DurationVar(&o.appLatency, "app-latency", 0, "how long the app takes over each request, like a real app's own work (default: answers at once)")
	fs.StringVar(&o.caddyProf, "caddyprofile", "", "write a CPU profile of caddy over each measured window into this folder, one file per run")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var err error
	if o.scenarios, err = parseScenarios(scenarios); err != nil {
		return nil, err
	}
	if o.conns, err = parseList(conns, strconv.Atoi); err != nil {
		return nil, fmt.Errorf("-conns: %w", err)
	}
	if o.sizes, err = parseList(sizes, parseSize); err != nil {
		return nil, fmt.Errorf("-size: %w", err)
	}
	for _, c := range o.conns {
		if c < 1 || c > maxConns {
			return nil, fmt.Errorf("-conns: %d is outside 1..%d", c, maxConns)
		}
	}
	for _, s := range o.sizes {
		if s < minBodySize {
			return nil, fmt.Errorf("-size: %d is below the smallest seed-shaped event, %d bytes", s, minBodySize)
		}
	}
	switch {
	case o.rounds < 1:
		return nil, errors.New("-rounds must be at least 1")
	case o.duration <= 0:
		return nil, errors.New("-duration must be positive")
	case o.concurrency < -1:
		return nil, errors.New("-concurrency must be -1 (as -conns), 0 (default) or positive")
	case o.appLatency < 0:
		return nil, errors.New("-app-latency may not be negative")
	case o.warmup < 0 || o.drain < 0:
		return nil, errors.New("-warmup and -drain may not be negative")
	}
	return o, nil
}

// parseScenarios checks a comma list of scenario names, keeping its order
// and dropping repeats.
func parseScenarios(s string) ([]string, error) {
	names, err := parseList(s, func(v string) (string, error) {
		for _, k := range knownScenarios {
			if v == k {
				return v, nil
			}
		}
		return "", fmt.Errorf("unknown scenario %q (want %s)", v, strings.Join(knownScenarios, ", "))
	})
	if err != nil {
		return nil, fmt.Errorf("-scenarios: %w", err)
	}
	seen := make(map[string]bool)
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// parseList splits a comma list and parses each trimmed item.
func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		v, err := parse(item)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

// parseSize reads a byte count: a plain integer or one with a k/KiB or
// m/MiB suffix (powers of 1024, case-insensitive).
func parseSize(s string) (int, error) {
	num, mult := strings.ToLower(s), 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}} {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSuffix(num, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}

// commandLine is how to repeat this run: "go run ./bench" and the flags as
// given, shell-quoted where needed.
func commandLine(args []string) string {
	parts := []string{"go", "run", "./bench"}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// shellQuote single-quotes s unless it is made only of characters that a
// POSIX shell passes through unchanged.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=.,/:+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
