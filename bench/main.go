// Command bench measures the webhook_inbox gateway against what users run
// instead, Caddy's reverse_proxy, in front of the same trivial app:
//
//	go run ./bench                       # 3 rounds × 10 s, 64 connections, 400-byte events
//	go run ./bench -rounds 1 -duration 3s -warmup 1s
//	go run ./bench -conns 1,16,64,256 -size 400,8KiB,256KiB
//
// It builds ./caddy (or runs -caddy), starts a downstream app in this
// process, and for every combination of -conns and -size runs -rounds
// rounds of the -scenarios back to back, each in a fresh caddy process
// with fresh storage. The generator posts signed, seed-shaped UniCraft
// events with unique IDs over keep-alive connections in a closed loop,
// only ever to 127.0.0.1. Results are markdown on stdout, headed by the
// command line and machine facts so they can be pasted into
// BENCHMARKS.md; progress goes to stderr.
//
// The method is the baselines' in BENCHMARKS.md: the generator shares the
// CPUs with the server, so read ratios rather than absolute numbers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"
)

// settle is the pause between runs, so one run's teardown (killing caddy,
// deleting its storage) does not land in the next one's warm-up.
const settle = time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "bench: interrupted")
		os.Exit(130)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run is the whole command; it returns when every run is done and the
// report is printed.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// The generator allocates a little per request; collecting less
		// often leaves more of the shared CPUs to the server under test.
		debug.SetGCPercent(400)
	}

	if opts.profile != "" {
		f, err := os.Create(opts.profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	root, err := moduleRoot()
	if err != nil && opts.caddyBin == "" {
		return err
	}
	r := &rig{opts: opts, caddyBin: opts.caddyBin, clockTick: clockTicks()}
	if r.caddyBin == "" && needsCaddy(opts.scenarios) {
		dir, err := os.MkdirTemp("", "webhook-inbox-bench-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintf(stderr, "building %s/caddy ...\n", root)
		if r.caddyBin, err = buildCaddy(root, dir); err != nil {
			return err
		}
	}
	rp := &report{command: commandLine(args), facts: gatherFacts(root, r.caddyBin), opts: opts}

	total := len(opts.sizes) * len(opts.conns) * opts.rounds * len(opts.scenarios)
	n := 0
	for _, size := range opts.sizes {
		for _, conns := range opts.conns {
			for round := 1; round <= opts.rounds; round++ {
				for _, sc := range opts.scenarios {
					if n > 0 && !sleepCtx(ctx, settle) {
						return ctx.Err()
					}
					n++
					spec := runSpec{scenario: sc, conns: conns, size: size, round: round}
					fmt.Fprintf(stderr, "[%d/%d] %s, %d conns, %d B, round %d ... ", n, total, sc, conns, size, round)
					res, err := r.runScenario(ctx, spec)
					if err != nil {
						fmt.Fprintln(stderr, "failed")
						return err
					}
					fmt.Fprintln(stderr, progressLine(res))
					rp.results = append(rp.results, res)
				}
			}
		}
	}
	rp.write(stdout)
	return nil
}

// needsCaddy reports whether any scenario runs caddy.
func needsCaddy(scenarios []string) bool {
	return slices.ContainsFunc(scenarios, func(s string) bool { return s != scenarioDirect })
}

// progressLine is the one-line result of a run on stderr.
func progressLine(r *runResult) string {
	line := fmt.Sprintf("%s rps, p50 %s ms, p99 %s ms, %s; caddy %s µs/event; app got %s of %s",
		fmtInt(r.rps), fmtMs(ms(r.p50.Seconds())), fmtMs(ms(r.p99.Seconds())),
		fmtStatuses(r.statuses, r.netErrors, r.errSample), fmtFixed(r.caddyCPU, 1),
		fmtInt(float64(r.delivered)), fmtInt(float64(r.accepted)))
	if r.keptDir != "" {
		line += "; kept " + r.keptDir
	}
	if r.rps == 0 || math.IsNaN(r.rps) {
		line += " (WARNING: no 2xx answers)"
	}
	return line
}
