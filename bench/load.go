package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// loadConfig says what the generator sends and for how long.
type loadConfig struct {
	url string // must be on 127.0.0.1
	// urls, when set, replace url: sender i posts to urls[i%len(urls)],
	// spreading the connections round robin over several gateways.
	urls     []string
	conns    int    // keep-alive connections, one closed-loop sender each
	size     int    // body bytes
	secret   []byte // HMAC-SHA256 secret of X-UniCraft-Signature
	runID    string // 8 hex digits that make this run's event IDs unique
	warmup   time.Duration
	duration time.Duration
}

// Phases of a load run. An answer belongs to the phase in which it
// arrives; the window's figures are only answers that arrived inside it.
const (
	phaseWarmup = iota
	phaseWindow
	phaseTail // no new requests; the ones in flight finish
	phaseCount
)

// requestTimeout bounds one request, so the run always ends.
const requestTimeout = 30 * time.Second

// errorPause is how long a sender waits after a connection error before it
// sends again, so a dead server does not turn the generator into a busy loop.
const errorPause = 10 * time.Millisecond

// loadResult is what the generator saw.
type loadResult struct {
	window    time.Duration     // measured length of the window
	statuses  map[int]int64     // answers in the window, by status code
	ok        int64             // 2xx answers in the window
	errors    int64             // non-2xx answers and connection errors in the window
	netErrors int64             // connection errors in the window (part of errors)
	latency   histogram         // latency of the window's 2xx answers
	accepted  int64             // 2xx answers in every phase: events the server took
	sent      int64             // requests sent in every phase
	errSample string            // one connection error, for the report
	byPhase   [phaseCount]int64 // answers and connection errors per phase
}

// senderStats is one sender's tally; it is merged after the run, so
// recording needs no locks or atomics.
type senderStats struct {
	statuses  [phaseCount]map[int]int64
	netErrors [phaseCount]int64
	latency   histogram
	sent      int64
	errSample string
}

// runLoad sends signed events over cfg.conns connections: cfg.warmup, then
// the measured window of cfg.duration, between which it calls
// atWindowStart and atWindowEnd (to sample CPU and counters). It returns
// once every request in flight has finished.
func runLoad(ctx context.Context, cfg loadConfig, atWindowStart, atWindowEnd func()) (*loadResult, error) {
	urls := cfg.urls
	if len(urls) == 0 {
		urls = []string{cfg.url}
	}
	for _, u := range urls {
		if err := checkLoopback(u); err != nil {
			return nil, err
		}
	}
	head, err := eventHead(cfg.size)
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{
		Proxy:               nil, // never an HTTP(S)_PROXY from the environment
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.conns,
		MaxIdleConnsPerHost: cfg.conns,
		MaxConnsPerHost:     cfg.conns,
		DisableCompression:  true,
		IdleConnTimeout:     90 * time.Second,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport:     transport,
		Timeout:       requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	var phase atomic.Int32
	stats := make([]*senderStats, cfg.conns)
	var wg sync.WaitGroup
	for i := range cfg.conns {
		s := new(senderStats)
		for p := range s.statuses {
			s.statuses[p] = make(map[int]int64)
		}
		stats[i] = s
		events := newEventMaker(head, cfg.secret, cfg.runID, i)
		target := urls[i%len(urls)]
		wg.Go(func() { sendLoop(ctx, client, target, head, events, &phase, s) })
	}

	var result loadResult
	if sleepCtx(ctx, cfg.warmup) {
		atWindowStart()
		start := time.Now()
		phase.Store(phaseWindow)
		sleepCtx(ctx, cfg.duration)
		phase.Store(phaseTail)
		result.window = time.Since(start)
		atWindowEnd()
	}
	phase.Store(phaseTail)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	result.statuses = make(map[int]int64)
	for _, s := range stats {
		result.sent += s.sent
		result.netErrors += s.netErrors[phaseWindow]
		result.latency.Merge(&s.latency)
		if result.errSample == "" {
			result.errSample = s.errSample
		}
		for p, m := range s.statuses {
			result.byPhase[p] += s.netErrors[p]
			for code, n := range m {
				result.byPhase[p] += n
				if code >= 200 && code < 300 {
					result.accepted += n
				}
				if p == phaseWindow {
					result.statuses[code] += n
				}
			}
		}
	}
	for code, n := range result.statuses {
		if code >= 200 && code < 300 {
			result.ok += n
		} else {
			result.errors += n
		}
	}
	result.errors += result.netErrors
	return &result, nil
}

// sendLoop is one sender: post, wait for the whole answer, record, repeat,
// until the window is over.
func sendLoop(ctx context.Context, client *http.Client, target string, head []byte, events *eventMaker, phase *atomic.Int32, s *senderStats) {
	for phase.Load() < phaseTail && ctx.Err() == nil {
		status, latency, err := post(ctx, client, target, head, events)
		s.sent++
		p := phase.Load()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.netErrors[p]++
			if s.errSample == "" {
				s.errSample = err.Error()
			}
			sleepCtx(ctx, errorPause)
			continue
		}
		s.statuses[p][status]++
		if p == phaseWindow && status >= 200 && status < 300 {
			s.latency.Record(latency)
		}
	}
}

// post sends the next event and reads the whole answer; the latency runs
// from just before the request is handed to the transport until the last
// byte of the answer.
func post(ctx context.Context, client *http.Client, target string, head []byte, events *eventMaker) (int, time.Duration, error) {
	tail, id, signature := events.next(time.Now())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, nil)
	if err != nil {
		return 0, 0, err
	}
	req.GetBody = func() (io.ReadCloser, error) { return &eventBody{head: head, tail: tail}, nil }
	req.Body, _ = req.GetBody()
	req.ContentLength = int64(len(head) + len(tail))
	req.Header = http.Header{
		"Content-Type":         {"application/json"},
		"User-Agent":           {"caddy-webhook-inbox-bench"},
		"X-Unicraft-Event":     {eventType},
		"X-Unicraft-Event-Id":  {id},
		"X-Unicraft-Signature": {signature},
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, 0, fmt.Errorf("reading answer: %w", err)
	}
	return resp.StatusCode, time.Since(start), nil
}

// eventBody reads the shared head and then an event's tail, so a body is
// never copied into one buffer (at -size 256KiB that copy would cost more
// than the signature). It has no WriteTo on purpose: io.MultiReader's
// allocates a 32 KiB buffer each time the transport drains the body.
type eventBody struct {
	head, tail []byte
	off        int
}

// Read implements io.Reader.
func (b *eventBody) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		var src []byte
		switch {
		case b.off < len(b.head):
			src = b.head[b.off:]
		case b.off < len(b.head)+len(b.tail):
			src = b.tail[b.off-len(b.head):]
		default:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		c := copy(p[n:], src)
		n += c
		b.off += c
	}
	return n, nil
}

// Close implements io.Closer.
func (b *eventBody) Close() error { return nil }

// checkLoopback refuses any target but 127.0.0.1: this command loads a
// server flat out and must never be pointed elsewhere.
func checkLoopback(target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("load target %q: %w", target, err)
	}
	if u.Scheme != "http" || u.Hostname() != "127.0.0.1" {
		return errors.New("load target must be http://127.0.0.1:PORT/...")
	}
	return nil
}

// sleepCtx waits d or until ctx is done, and reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
