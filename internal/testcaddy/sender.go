package testcaddy

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// Sender posts uniquely numbered, signed events as a webhook sender does
// and records what was sent and what was acknowledged: a 202, or a 200
// duplicate of a post it had to resend. A connection error before any
// answer (a keep-alive connection closed by a reload, a gateway being
// killed) is retried with the same bytes after a short backoff.
type Sender struct {
	url    string
	prefix string
	secret []byte
	tries  int
	body   func(id string) []byte
	client *http.Client

	mu      sync.Mutex
	next    int
	sent    []string
	acked   []string
	other   map[string]int // any other outcome, by status or last error
	resends int
}

// NewSender returns a sender posting body(id) to url, signed with secret,
// with IDs "<prefix>-<n>", trying each post up to tries times.
func NewSender(url, prefix, secret string, tries int, body func(id string) []byte) *Sender {
	return &Sender{
		url: url, prefix: prefix, secret: []byte(secret), tries: tries, body: body,
		client: &http.Client{Timeout: 15 * time.Second},
		other:  map[string]int{},
	}
}

// PostOne sends one new event.
func (s *Sender) PostOne() {
	s.mu.Lock()
	id := fmt.Sprintf("%s-%d", s.prefix, s.next)
	s.next++
	s.sent = append(s.sent, id)
	s.mu.Unlock()
	body := s.body(id)
	var outcome string
	for attempt := range s.tries {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 10 * time.Millisecond) // a sender's retry backoff
			s.mu.Lock()
			s.resends++
			s.mu.Unlock()
		}
		req, _ := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(signature.UniCraftSignature, signature.SignUniCraft(s.secret, body))
		resp, err := s.client.Do(req)
		if err != nil {
			outcome = "error: " + err.Error()
			continue
		}
		resp.Body.Close()
		s.mu.Lock()
		if resp.StatusCode == http.StatusAccepted || (resp.StatusCode == http.StatusOK && attempt > 0) {
			s.acked = append(s.acked, id)
		} else {
			s.other[fmt.Sprint(resp.StatusCode)]++
		}
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	s.other[outcome]++
	s.mu.Unlock()
}

// Run posts from workers goroutines until stop is closed; wait for the
// returned group.
func (s *Sender) Run(workers int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					s.PostOne()
				}
			}
		}()
	}
	return &wg
}

// IDs returns the IDs sent and those acknowledged so far.
func (s *Sender) IDs() (sent, acked []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sent...), append([]string(nil), s.acked...)
}

// Other returns the outcomes that were neither acknowledgements nor
// resolved by a resend: HTTP statuses, or the last error of a post that
// never got an answer.
func (s *Sender) Other() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.other)
}

// Resends returns how many posts were sent again after a connection error.
func (s *Sender) Resends() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resends
}
