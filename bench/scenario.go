package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"
)

// runSpec is one run: a scenario at one connection count and body size,
// in one round.
type runSpec struct {
	scenario string
	conns    int
	size     int
	round    int
}

// runResult is what one run measured. CPU and memory figures of caddy are
// NaN in the direct scenario, which runs no caddy, and summed over the
// gateways in cluster3.
type runResult struct {
	runSpec
	rps       float64       // 2xx answers per second in the window
	p50, p99  time.Duration // latency of the window's 2xx answers
	errors    int64         // non-2xx answers and connection errors in the window
	statuses  map[int]int64 // the window's answers by status
	netErrors int64
	errSample string

	caddyCPU float64 // caddy's utime+stime in the window per 2xx answer, µs
	caddyRSS float64 // caddy's VmHWM at the end of the run, MiB
	benchCPU float64 // this process (generator + app) in the window per 2xx answer, µs
	hostBusy float64 // share of all CPUs busy during the window, %

	appWindowRate  float64       // distinct events the app received per second in the window
	appOverallRate float64       // distinct events received / (last new event − load start)
	accepted       int64         // 2xx answers in the whole run: events the gateway took
	delivered      int64         // distinct events the app had when the drain ended
	drained        bool          // delivered reached accepted
	appDown        bool          // the app was down on purpose: nothing to deliver or drain
	drainTime      time.Duration // from the end of load until the drain ended
	keptDir        string        // the run's folder, with -keep
}

// rig is what every run shares.
type rig struct {
	opts      *options
	caddyBin  string
	clockTick int64
}

// runScenario starts a fresh app and, unless spec.scenario is direct, a
// fresh caddy with fresh storage in front of it (in the cluster
// scenarios, a fresh JetStream cluster and one or three caddies on it); loads it; waits for the
// app to drain; and tears everything down.
func (r *rig) runScenario(ctx context.Context, spec runSpec) (*runResult, error) {
	a, err := startApp(r.opts.appLatency)
	if err != nil {
		return nil, fmt.Errorf("starting the app: %w", err)
	}
	defer a.stop()

	secret, runID := randomHex(16), randomHex(runIDLen/2)
	res := &runResult{runSpec: spec, caddyCPU: math.NaN(), caddyRSS: math.NaN()}
	target := fmt.Sprintf("http://127.0.0.1:%d%s", a.port, hookPath)

	var gws []*gateway
	var urls []string
	if n := gatewayCount(spec.scenario); n > 0 {
		dir, err := os.MkdirTemp("", "webhook-inbox-bench-"+spec.scenario+"-")
		if err != nil {
			return nil, err
		}
		if r.opts.keep {
			res.keptDir = dir
		} else {
			defer os.RemoveAll(dir)
		}
		var natsURLs []string
		if isCluster(spec.scenario) {
			nc, err := startNATSCluster(ctx, dir, clusterNodes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", spec.scenario, err)
			}
			defer nc.stop()
			natsURLs = nc.urls
		}
		for i := range n {
			gdir := dir
			if n > 1 {
				gdir = filepath.Join(dir, fmt.Sprintf("gw%d", i+1))
				if err := os.Mkdir(gdir, 0o700); err != nil {
					return nil, err
				}
			}
			gw, err := r.startCaddy(spec, gdir, a.port, secret, natsURLs, n)
			if err != nil {
				return nil, err
			}
			defer gw.kill()
			gws = append(gws, gw)
			urls = append(urls, fmt.Sprintf("http://127.0.0.1:%d%s", gw.port, hookPath))
		}
		target = urls[0]
	}

	var startCPU, endCPU, startSelf, endSelf int64
	var startHost, endHost hostCPU
	var appAtStart, appAtEnd appCounts
	var prof *caddyProfile
	sample := func(caddy, self *int64, host *hostCPU, counts *appCounts) {
		*caddy = 0
		for _, gw := range gws {
			t, _ := processCPUTicks(gw.pid())
			*caddy += t
		}
		*self, _ = processCPUTicks(os.Getpid())
		*host, _ = readHostCPU()
		*counts = a.counts()
	}
	loadStart := time.Now()
	load, err := runLoad(ctx, loadConfig{
		url:      target,
		urls:     urls,
		conns:    spec.conns,
		size:     spec.size,
		secret:   []byte(secret),
		runID:    runID,
		warmup:   r.opts.warmup,
		duration: r.opts.duration,
	},
		func() {
			sample(&startCPU, &startSelf, &startHost, &appAtStart)
			if len(gws) > 0 && r.opts.caddyProf != "" { // the first gateway's
				prof = startCaddyProfile(gws[0].admin, r.opts.duration, profilePath(r.opts.caddyProf, spec))
			}
		},
		func() { sample(&endCPU, &endSelf, &endHost, &appAtEnd) },
	)
	if err != nil {
		return nil, err
	}
	if prof != nil {
		if err := prof.wait(); err != nil {
			return nil, fmt.Errorf("%s: caddy CPU profile: %w", spec.scenario, err)
		}
	}
	loadEnd := time.Now()
	var final appCounts
	if spec.scenario != scenarioIngest {
		final = a.waitUnique(load.accepted, r.opts.drain)
	}
	res.drainTime = time.Since(loadEnd)

	for i, gw := range gws {
		if !gw.alive() {
			return nil, fmt.Errorf("%s: caddy died during the run:\n%s", spec.scenario, gw.logTail())
		}
		if rss, err := peakRSSBytes(gw.pid()); err == nil {
			if i == 0 {
				res.caddyRSS = 0
			}
			res.caddyRSS += float64(rss) / (1 << 20)
		}
	}

	secs := load.window.Seconds()
	res.rps = float64(load.ok) / secs
	res.p50, res.p99 = load.latency.Percentile(50), load.latency.Percentile(99)
	res.errors, res.statuses, res.netErrors, res.errSample = load.errors, load.statuses, load.netErrors, load.errSample
	if len(gws) > 0 {
		res.caddyCPU = perEvent(endCPU-startCPU, r.clockTick, load.ok)
	}
	res.benchCPU = perEvent(endSelf-startSelf, r.clockTick, load.ok)
	res.hostBusy = busyPercent(startHost, endHost)
	res.appWindowRate = float64(appAtEnd.unique-appAtStart.unique) / secs
	res.accepted, res.delivered = load.accepted, final.unique
	res.drained = final.unique >= load.accepted
	res.appDown = spec.scenario == scenarioIngest
	if !final.lastNew.IsZero() {
		res.appOverallRate = float64(final.unique) / final.lastNew.Sub(loadStart).Seconds()
	}
	return res, nil
}

// startCaddy renders the scenario's Caddyfile into dir and starts caddy on
// fresh ports: one of gateways caddies, storing in the NATS servers at
// natsURLs in the cluster scenarios.
func (r *rig) startCaddy(spec runSpec, dir string, appPort int, secret string, natsURLs []string, gateways int) (*gateway, error) {
	adminPort, err := freePort()
	if err != nil {
		return nil, err
	}
	sitePort, err := freePort()
	if err != nil {
		return nil, err
	}
	// Nothing listens here: connecting is refused at once, as for an app
	// that is down. The port is only reused if the OS hands it out again.
	downPort, err := freePort()
	if err != nil {
		return nil, err
	}
	c := siteConfig{
		admin:    fmt.Sprintf("127.0.0.1:%d", adminPort),
		port:     sitePort,
		appPort:  appPort,
		downPort: downPort,
		storage:  filepath.Join(dir, "data"),
		bodySize: spec.size,
		natsURLs: natsURLs,
	}
	c.concurrency = r.opts.concurrency
	if c.concurrency < 0 {
		// As many as the gateway's share of the connections.
		c.concurrency = (spec.conns + gateways - 1) / gateways
	}
	caddyfile, err := renderCaddyfile(spec.scenario, c)
	if err != nil {
		return nil, err
	}
	gw, err := startGateway(r.caddyBin, dir, caddyfile, c, []string{secretEnv + "=" + secret})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.scenario, err)
	}
	return gw, nil
}

// perEvent converts CPU clock ticks spent on events into µs per event;
// NaN when there were no events.
func perEvent(ticks, clockTick, events int64) float64 {
	if events <= 0 || clockTick <= 0 {
		return math.NaN()
	}
	return float64(ticks) * 1e6 / float64(clockTick) / float64(events)
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
