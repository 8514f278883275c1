package main

import (
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// eventIDHeader names the event in both setups: the generator sends it,
// reverse_proxy passes it on, and the inbox's relay sets it on delivery.
const eventIDHeader = signature.UniCraftEventID

// idShards spreads the set of seen IDs over several locks, so concurrent
// deliveries rarely wait on each other.
const idShards = 16

// app is the trivial downstream that both setups deliver to: it answers
// 200 to every POST, after latency if set, and counts requests and
// distinct event IDs.
type app struct {
	srv      *http.Server
	port     int
	latency  time.Duration // time each request takes, like an app's own work
	requests atomic.Int64  // POSTs received
	unique   atomic.Int64  // distinct X-UniCraft-Event-Id values
	noID     atomic.Int64  // POSTs without the header
	lastNew  atomic.Int64  // unix nanoseconds of the latest new ID
	shards   [idShards]struct {
		mu   sync.Mutex
		seen map[string]struct{}
	}
}

// appCounts is a snapshot of an app's counters.
type appCounts struct {
	requests, unique, noID int64
	lastNew                time.Time
}

// startApp listens on a free 127.0.0.1 port and serves until stop; each
// POST takes at least latency.
func startApp(latency time.Duration) (*app, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &app{port: ln.Addr().(*net.TCPAddr).Port, latency: latency}
	for i := range a.shards {
		a.shards[i].seen = make(map[string]struct{})
	}
	a.srv = &http.Server{
		Handler:           a,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() { _ = a.srv.Serve(ln) }() // returns http.ErrServerClosed on stop
	return a, nil
}

// ServeHTTP reads the body, counts the event and answers 200.
func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)
	if a.latency > 0 {
		time.Sleep(a.latency)
	}
	a.requests.Add(1)
	if id := r.Header.Get(eventIDHeader); id != "" {
		a.see(id)
	} else {
		a.noID.Add(1)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// see records id and counts it if it is new.
func (a *app) see(id string) {
	s := &a.shards[fnv32(id)%idShards]
	s.mu.Lock()
	_, dup := s.seen[id]
	if !dup {
		s.seen[id] = struct{}{}
	}
	s.mu.Unlock()
	if !dup {
		a.unique.Add(1)
		a.lastNew.Store(time.Now().UnixNano())
	}
}

// counts returns the current counters.
func (a *app) counts() appCounts {
	c := appCounts{requests: a.requests.Load(), unique: a.unique.Load(), noID: a.noID.Load()}
	if ns := a.lastNew.Load(); ns != 0 {
		c.lastNew = time.Unix(0, ns)
	}
	return c
}

// waitUnique polls until the app has seen want distinct IDs or timeout
// passes, and returns the counters then.
func (a *app) waitUnique(want int64, timeout time.Duration) appCounts {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for a.unique.Load() < want && time.Now().Before(deadline) {
		<-tick.C
	}
	return a.counts()
}

// stop closes the listener and every connection at once.
func (a *app) stop() { _ = a.srv.Close() }

// fnv32 is FNV-1a, inline so picking a shard does not allocate.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
