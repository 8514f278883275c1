package testcaddy

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// Sink is a downstream app on a fixed 127.0.0.1 port that records every
// event ID it receives. It can be brought up and down so tests can
// simulate an app that is down for a while; it checks each delivery's
// X-UniCraft-Signature against its secret and counts bad ones.
type Sink struct {
	Port   int
	secret []byte
	t      testing.TB

	mu       sync.Mutex
	received map[string]int // event ID -> deliveries
	badSig   int
	srv      *http.Server
	changed  chan struct{} // closed and replaced whenever received changes
}

// NewSink reserves a port for a sink that verifies signatures made with
// secret; it is down until Up is called.
func NewSink(t testing.TB, secret string) *Sink {
	s := &Sink{
		Port:     FreePort(t),
		secret:   []byte(secret),
		t:        t,
		received: make(map[string]int),
		changed:  make(chan struct{}),
	}
	t.Cleanup(s.Down)
	return s
}

// URL is the sink's endpoint.
func (s *Sink) URL() string { return fmt.Sprintf("http://127.0.0.1:%d/hook", s.Port) }

// Up starts listening on the sink's port; it does nothing if the sink is
// already up.
func (s *Sink) Up() {
	s.t.Helper()
	s.mu.Lock()
	up := s.srv != nil
	s.mu.Unlock()
	if up {
		return
	}
	var l net.Listener
	var err error
	// the port may linger briefly after Down
	for deadline := time.Now().Add(10 * time.Second); ; {
		l, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("sink: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// Down stops listening and closes open connections.
func (s *Sink) Down() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			s.t.Logf("sink shutdown: %v", err)
		}
		_ = srv.Close()
	}
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	id := r.Header.Get(signature.UniCraftEventID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !hmac.Equal([]byte(want), []byte(r.Header.Get(signature.UniCraftSignature))) {
		s.badSig++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.received[id]++
	close(s.changed)
	s.changed = make(chan struct{})
	w.WriteHeader(http.StatusOK)
}

// Counts returns a copy of the deliveries per event ID and the number of
// deliveries with a bad signature.
func (s *Sink) Counts() (map[string]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.received))
	for k, v := range s.received {
		out[k] = v
	}
	return out, s.badSig
}

// WaitFor waits until every ID in ids has been received at least once, or
// the timeout passes; it returns the IDs still missing.
func (s *Sink) WaitFor(ids []string, timeout time.Duration) []string {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		var missing []string
		for _, id := range ids {
			if s.received[id] == 0 {
				missing = append(missing, id)
			}
		}
		changed := s.changed
		s.mu.Unlock()
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return missing
		}
	}
}

// Tally compares what was acknowledged with what the sink received:
// lost were acknowledged but never delivered, duplicates are deliveries
// beyond the first, phantoms were delivered but never sent.
type Tally struct {
	Sent, Acked, Delivered, Lost, Duplicates, Phantoms, BadSignatures int
}

// Tally counts against the acknowledged IDs and every ID that was sent.
func (s *Sink) Tally(acked, sent []string) Tally {
	got, bad := s.Counts()
	return CountDeliveries(got, bad, sent, acked)
}

// CountDeliveries tallies deliveries (per event ID, as a receiver counted
// them) and badSig deliveries with a bad signature against what was sent
// and acknowledged.
func CountDeliveries(delivered map[string]int, badSig int, sent, acked []string) Tally {
	isSent := make(map[string]bool, len(sent))
	for _, id := range sent {
		isSent[id] = true
	}
	tally := Tally{Sent: len(sent), Acked: len(acked), BadSignatures: badSig}
	for _, id := range acked {
		if delivered[id] == 0 {
			tally.Lost++
		}
	}
	for id, n := range delivered {
		tally.Delivered++
		tally.Duplicates += n - 1
		if !isSent[id] {
			tally.Phantoms++
		}
	}
	return tally
}
