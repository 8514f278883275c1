package chaos

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

var soak = flag.Bool("soak", false, "run the fault tests for many more rounds")

// rounds returns n, or ten times n with -soak.
func rounds(n int) int {
	if *soak {
		return 10 * n
	}
	return n
}

// sourceSecret signs what the tests send; it is a canary too: it must
// never show up in a log line or an answer.
const sourceSecret = "chaos-canary-source-3a7f09e1"

// client bounds every request, so a hanging gateway fails a test instead
// of stalling the suite. It has its own connection pool, apart from
// http.DefaultClient's, which testcaddy uses for the admin API.
var client = &http.Client{Timeout: 15 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}

type reply struct {
	status int
	header http.Header
	body   string
}

// post sends body with the given headers and returns the answer.
func post(t testing.TB, target string, body []byte, headers map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	got, err := send(req)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	return got
}

func send(req *http.Request) (reply, error) {
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}, err
}

// signedBy returns the signature header of body under secret.
func signedBy(secret string, body []byte) map[string]string {
	return map[string]string{"X-UniCraft-Signature": signature.SignUniCraft([]byte(secret), body)}
}

// payload is a seed-shaped event with a fresh timestamp.
func payload(typ, id string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"event":%q,"timestamp":%q,"data":{"request_id":"req_%s","user_id":"user_123"}}`,
		id, typ, time.Now().UTC().Format(time.RFC3339Nano), id))
}

// adminGet GETs path on the admin endpoint and returns status and body.
func adminGet(t testing.TB, in *testcaddy.Instance, path string) (int, string) {
	t.Helper()
	resp, err := client.Get("http://" + in.Admin + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// adminJSON GETs path, wants 200 and decodes the answer into v; it
// returns the raw body.
func adminJSON(t testing.TB, in *testcaddy.Instance, path string, v any) string {
	t.Helper()
	status, body := adminGet(t, in, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
	return body
}

type eventList struct {
	Events []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"events"`
	NextCursor string `json:"next_cursor"`
}

// storedEvents lists every stored event (ID -> status), following the
// cursor, and returns the raw pages too.
func storedEvents(t testing.TB, in *testcaddy.Instance) (map[string]string, []string) {
	t.Helper()
	out := map[string]string{}
	var pages []string
	cursor := ""
	for range 1000 {
		var page eventList
		pages = append(pages, adminJSON(t, in, "/webhook_inbox/events?limit=1000&cursor="+url.QueryEscape(cursor), &page))
		for _, ev := range page.Events {
			out[ev.ID] = ev.Status
		}
		if page.NextCursor == "" {
			return out, pages
		}
		cursor = page.NextCursor
	}
	t.Fatal("event list did not end after 1000 pages")
	return nil, nil
}

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkLogLines fails unless every line caddy wrote is one JSON object
// (the harness's "==== run N ====" markers aside).
func checkLogLines(t testing.TB, in *testcaddy.Instance) int {
	t.Helper()
	n := 0
	for i, line := range strings.Split(in.Log(), "\n") {
		if line == "" || strings.HasPrefix(line, "==== run ") {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Errorf("log line %d is not one JSON object (%v): %q", i+1, err, line)
			continue
		}
		n++
	}
	return n
}

// verdict is what a fault did with one delivery.
type verdict int

const (
	pass     verdict = iota // no fault: the receiver answers 200 and counts it
	refused                 // the fault answered (or dropped) it: not delivered
	answered                // the fault answered 2xx itself: delivered
)

// receiver is a downstream app: it verifies each delivery's signature
// with its secret and counts the deliveries it acknowledged with 2xx per
// event ID. fault decides, per event ID and arrival number (1-based),
// whether this arrival misbehaves.
type receiver struct {
	secret []byte
	fault  func(w http.ResponseWriter, r *http.Request, n int) verdict

	mu       sync.Mutex
	arrivals map[string]int
	ok       map[string]int
	badSig   int
	hits     int // arrivals a fault refused or answered itself
	firstAt  map[string]time.Time
	gaps     []time.Duration // first arrival to second, per event
}

func newReceiver(secret string, fault func(w http.ResponseWriter, r *http.Request, n int) verdict) *receiver {
	return &receiver{secret: []byte(secret), fault: fault, arrivals: map[string]int{}, ok: map[string]int{}, firstAt: map[string]time.Time{}}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	id := r.Header.Get("X-UniCraft-Event-Id")
	rc.mu.Lock()
	rc.arrivals[id]++
	n := rc.arrivals[id]
	now := time.Now()
	if n == 1 {
		rc.firstAt[id] = now
	} else if n == 2 {
		rc.gaps = append(rc.gaps, now.Sub(rc.firstAt[id]))
	}
	good := signature.SignUniCraft(rc.secret, body) == r.Header.Get("X-UniCraft-Signature")
	if !good {
		rc.badSig++
	}
	rc.mu.Unlock()
	if !good {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	v := pass
	if rc.fault != nil {
		v = rc.fault(w, r, n)
	}
	if v != pass {
		rc.mu.Lock()
		rc.hits++
		rc.mu.Unlock()
	}
	if v == refused {
		return
	}
	rc.mu.Lock()
	rc.ok[id]++
	rc.mu.Unlock()
	if v == pass {
		w.WriteHeader(http.StatusOK)
	}
}

// faulted returns how many deliveries arrived and how many of them a
// fault handled.
func (rc *receiver) faulted() (arrivals, hits int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, n := range rc.arrivals {
		arrivals += n
	}
	return arrivals, rc.hits
}

// minGap returns the shortest time between an event's first and second
// arrival, or 0 if none arrived twice.
func (rc *receiver) minGap() time.Duration {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var m time.Duration
	for i, g := range rc.gaps {
		if i == 0 || g < m {
			m = g
		}
	}
	return m
}

// tally compares what was acknowledged and sent with what was delivered.
type tally = testcaddy.Tally

func (rc *receiver) tally(sent, acked []string) tally {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return testcaddy.CountDeliveries(rc.ok, rc.badSig, sent, acked)
}

// waitDelivered waits until every acked ID was delivered or timeout
// passes, and returns the IDs still missing.
func (rc *receiver) waitDelivered(acked []string, timeout time.Duration) []string {
	var missing []string
	deadline := time.Now().Add(timeout)
	for {
		missing = missing[:0]
		rc.mu.Lock()
		for _, id := range acked {
			if rc.ok[id] == 0 {
				missing = append(missing, id)
			}
		}
		rc.mu.Unlock()
		if len(missing) == 0 || time.Now().After(deadline) {
			sort.Strings(missing)
			return missing
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// report logs a tally the way every fault test prints it and fails on
// loss, phantoms or bad signatures.
func report(t testing.TB, what string, tl tally) {
	t.Helper()
	t.Logf("%s: sent %d, acked %d, delivered %d, lost %d, duplicates %d, phantoms %d, bad signatures %d",
		what, tl.Sent, tl.Acked, tl.Delivered, tl.Lost, tl.Duplicates, tl.Phantoms, tl.BadSignatures)
	if tl.Lost > 0 || tl.Phantoms > 0 || tl.BadSignatures > 0 {
		t.Errorf("%s: lost %d, phantoms %d, bad signatures %d; want 0", what, tl.Lost, tl.Phantoms, tl.BadSignatures)
	}
	if tl.Acked == 0 {
		t.Errorf("%s: nothing was acknowledged, so loss could not be seen", what)
	}
}

// hexSHA256 is the default event ID of a body without an id.
func hexSHA256(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:])
}
