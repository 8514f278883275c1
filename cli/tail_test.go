package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// cliTailStandIn serves a growing event list, newest first, in pages
// continued by a numeric cursor, and fails one request when told to.
type cliTailStandIn struct {
	mu       sync.Mutex
	events   []adminapi.EventSummary // oldest first
	failNext bool
	queries  []string
	gets     []string // IDs asked for one by one
}

func (s *cliTailStandIn) add(id string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, adminapi.EventSummary{
		ID: id, Source: "unicraft", Type: "request.completed", Status: store.StatusPending, ReceivedAt: at,
		Targets: []adminapi.TargetSummary{{Target: "app", Status: store.StatusPending}},
	})
}

// settle sets an event's status and its target's, or deletes the event
// when status is empty.
func (s *cliTailStandIn) settle(id string, status store.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.events, func(e adminapi.EventSummary) bool { return e.ID == id })
	if status == "" {
		s.events = slices.Delete(s.events, i, i+1)
		return
	}
	s.events[i].Status, s.events[i].Targets[0].Status = status, status
	s.events[i].Targets[0].Attempts++
}

func (s *cliTailStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := strings.CutPrefix(r.URL.Path, adminapi.EventsPath+"/"); ok && r.Method == http.MethodGet {
		s.gets = append(s.gets, id+"?"+r.URL.RawQuery)
		i := slices.IndexFunc(s.events, func(e adminapi.EventSummary) bool { return e.ID == id })
		if i < 0 || r.URL.Query().Get("source") != s.events[i].Source {
			http.Error(w, `{"error":"event not found"}`, http.StatusNotFound)
			return
		}
		e := s.events[i]
		json.NewEncoder(w).Encode(adminapi.Event{ID: e.ID, Source: e.Source, Type: e.Type, Status: e.Status,
			ReceivedAt: e.ReceivedAt, Targets: []adminapi.TargetDetail{{Target: "app", Status: e.Targets[0].Status}}})
		return
	}
	s.queries = append(s.queries, r.URL.RawQuery)
	if r.Method != http.MethodGet || r.URL.Path != adminapi.EventsPath {
		http.Error(w, `{"error":"unexpected request"}`, http.StatusBadRequest)
		return
	}
	if s.failNext {
		s.failNext = false
		http.Error(w, `{"error":"store busy"}`, http.StatusServiceUnavailable)
		return
	}
	var listed []adminapi.EventSummary
	for _, e := range slices.Backward(s.events) {
		if st := r.URL.Query().Get("status"); st == "" || string(e.Status) == st {
			listed = append(listed, e)
		}
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	to := min(from+limit, len(listed))
	answer := adminapi.Events{Events: listed[min(from, to):to]}
	if to < len(listed) {
		answer.NextCursor = strconv.Itoa(to)
	}
	json.NewEncoder(w).Encode(answer)
}

func TestCommandTail(t *testing.T) {
	stand := &cliTailStandIn{}
	srv := cliTestServer(t, stand.ServeHTTP)
	base := time.Date(2024, 1, 20, 10, 30, 0, 0, time.UTC)
	for i := 1; i <= 3; i++ {
		stand.add(fmt.Sprintf("evt_%d", i), base.Add(time.Duration(i)*time.Second))
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut cliLockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- cliExecTo(ctx, &out, &errOut, nil, "tail", "--interval", "5ms", "--lines", "2", "--limit", "4",
			"--source", "unicraft", "--follow-status=false", "--address", strings.TrimPrefix(srv.URL, "http://"))
	}()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s; output:\n%s\nstderr:\n%s", what, out.String(), errOut.String())
			}
			select {
			case err := <-done:
				t.Fatalf("tail ended early: %v", err)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	printed := func(id string) func() bool {
		return func() bool { return strings.Contains(out.String(), " "+id+" ") }
	}

	// The start shows the --lines newest events.
	waitFor("evt_3", printed("evt_3"))

	// Events at one instant are told apart by ID, also across polls; a
	// failed poll is reported and the next one catches up.
	stand.mu.Lock()
	stand.failNext = true
	stand.mu.Unlock()
	stand.add("evt_4", base.Add(4*time.Second))
	stand.add("evt_5", base.Add(4*time.Second))
	waitFor("evt_5", printed("evt_5"))
	stand.add("evt_6", base.Add(4*time.Second))
	waitFor("evt_6", printed("evt_6"))

	// More new events than one page: the poll follows the cursor.
	for i := 7; i <= 16; i++ {
		stand.add(fmt.Sprintf("evt_%d", i), base.Add(time.Duration(i)*time.Second))
	}
	waitFor("evt_16", printed("evt_16"))

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("tail returned %v on interrupt", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail did not stop on interrupt")
	}

	var ids []string
	for line := range strings.Lines(out.String()) {
		f := strings.Fields(line)
		if len(f) != 6 {
			t.Fatalf("line %q: want 6 fields", line)
		}
		ids = append(ids, f[1])
	}
	var want []string
	for i := 2; i <= 16; i++ {
		want = append(want, fmt.Sprintf("evt_%d", i))
	}
	if !slices.Equal(ids, want) {
		t.Errorf("printed %v\nwant    %v", ids, want)
	}
	if !strings.Contains(errOut.String(), `HTTP 503: store busy`) {
		t.Errorf("the failed poll was not reported: %q", errOut.String())
	}
	stand.mu.Lock()
	defer stand.mu.Unlock()
	if len(stand.gets) > 0 {
		t.Errorf("--follow-status=false asked for events one by one: %v", stand.gets)
	}
	for _, q := range stand.queries {
		if !strings.Contains(q, "source=unicraft") || !strings.Contains(q, "limit=4") {
			t.Errorf("query %q lacks the filter or the page size", q)
		}
	}
}

func TestCommandTailFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "zero interval", args: []string{"tail", "--interval", "0s"}, wantErr: "--interval 0s"},
		{name: "negative lines", args: []string{"tail", "--lines", "-1"}, wantErr: "--lines -1"},
		{name: "bad status", args: []string{"tail", "--status", "gone"}, wantErr: `--status "gone"`},
		{name: "unreachable admin fails at once", args: []string{"tail", "--address", "127.0.0.1:1"}, wantErr: "GET /webhook_inbox/events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cliExec(t.Context(), nil, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestCommandTailFollowStatus prints a pending event again when it is
// delivered or dead-lettered (issue 16, item 5): from the listing when the
// event is on its first page, else by asking for it; an event no longer
// pending, or no longer stored, is not asked for again.
func TestCommandTailFollowStatus(t *testing.T) {
	stand := &cliTailStandIn{}
	srv := cliTestServer(t, stand.ServeHTTP)
	base := time.Date(2024, 1, 20, 10, 30, 0, 0, time.UTC)
	for i := 1; i <= 4; i++ {
		stand.add(fmt.Sprintf("evt_%d", i), base.Add(time.Duration(i)*time.Second))
	}
	stand.settle("evt_4", store.StatusDelivered)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut cliLockedBuffer
	done := make(chan error, 1)
	go func() {
		// A page of 2: evt_1 and evt_2 are only seen by asking for them.
		done <- cliExecTo(ctx, &out, &errOut, nil, "tail", "--interval", "5ms", "--limit", "2",
			"--address", strings.TrimPrefix(srv.URL, "http://"))
	}()
	lines := func() []string { return slices.Collect(strings.Lines(out.String())) }
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s; output:\n%s\nstderr:\n%s", what, out.String(), errOut.String())
			}
			select {
			case err := <-done:
				t.Fatalf("tail ended early: %v", err)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	gets := func(id string) int {
		stand.mu.Lock()
		defer stand.mu.Unlock()
		n := 0
		for _, g := range stand.gets {
			if strings.HasPrefix(g, id+"?") {
				n++
			}
		}
		return n
	}
	// The start prints the first page (the first poll follows no
	// cursor): evt_4, delivered, and evt_3, pending and followed.
	waitFor("evt_3 and evt_4 printed", func() bool { return len(lines()) >= 2 })
	stand.add("evt_5", base.Add(5*time.Second))
	waitFor("evt_5 printed", func() bool { return strings.Contains(out.String(), " evt_5 ") })

	stand.settle("evt_3", store.StatusDead)      // asked for: off the first page
	stand.settle("evt_5", store.StatusDelivered) // in the listing
	waitFor("evt_3 dead", func() bool {
		return strings.Contains(out.String(), " evt_3  unicraft  request.completed  dead  app:dead")
	})
	waitFor("evt_5 delivered", func() bool {
		return strings.Contains(out.String(), " evt_5  unicraft  request.completed  delivered  app:delivered")
	})
	stand.add("evt_6", base.Add(6*time.Second))
	stand.add("evt_7", base.Add(7*time.Second))
	waitFor("evt_7 printed", func() bool { return strings.Contains(out.String(), " evt_7 ") })
	stand.settle("evt_6", "") // purged: let go silently
	waitFor("evt_6 asked for after its purge", func() bool { return gets("evt_6") > 0 })

	// Settled or purged events are not asked for again.
	settled := map[string]int{"evt_3": gets("evt_3"), "evt_4": gets("evt_4"), "evt_5": gets("evt_5"), "evt_6": gets("evt_6")}
	stand.add("evt_8", base.Add(8*time.Second))
	waitFor("evt_8 printed", func() bool { return strings.Contains(out.String(), " evt_8 ") })
	polls := len(stand.queriesSnapshot())
	waitFor("a few more polls", func() bool { return len(stand.queriesSnapshot()) > polls+20 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("tail returned %v on interrupt", err)
	}
	for id, n := range settled {
		if got := gets(id); got != n {
			t.Errorf("%s asked for %d times after it settled, before %d", id, got, n)
		}
	}
	if gets("evt_4") != 0 {
		t.Error("an event delivered before it was printed was followed")
	}
	if strings.Count(out.String(), " evt_6 ") != 1 {
		t.Errorf("the purged event was printed again:\n%s", out.String())
	}
	if strings.Count(out.String(), " evt_5 ") != 2 {
		t.Errorf("evt_5 printed %d times, want pending then delivered:\n%s", strings.Count(out.String(), " evt_5 "), out.String())
	}
	if errOut.String() != "" {
		t.Errorf("stderr: %s", errOut.String())
	}
}

func (s *cliTailStandIn) queriesSnapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queries)
}

// TestCLIFollowedBounded keeps at most its size in memory and checks the
// followed events in turn.
func TestCLIFollowedBounded(t *testing.T) {
	f := newCLIFollowed(3)
	key := func(i int) cliEventKey { return cliEventKey{"s", fmt.Sprint(i)} }
	for i := range 10 {
		f.add(key(i), "line")
	}
	if len(f.lines) != 3 || len(f.order) > 2*3+16 {
		t.Fatalf("%d followed, order of %d: want 3, bounded", len(f.lines), len(f.order))
	}
	for i := range 7 {
		if f.has(key(i)) {
			t.Errorf("%d still followed: the oldest are let go", i)
		}
	}
	if got := f.due(2, nil); !slices.Equal(got, []cliEventKey{key(7), key(8)}) {
		t.Errorf("first due %v", got)
	}
	if got := f.due(2, map[cliEventKey]bool{key(7): true}); !slices.Equal(got, []cliEventKey{key(9), key(8)}) {
		t.Errorf("next due %v, want the unchecked first and the listed one skipped", got)
	}
	for i := range 1000 {
		f.add(key(100+i), "line")
		f.remove(key(100 + i))
	}
	if len(f.order) > 2*3+16 {
		t.Errorf("order grew to %d after adds and removes", len(f.order))
	}
}

// TestCommandTailJSON prints each event as a line of JSON in the events
// list's shape, escaped for a terminal.
func TestCommandTailJSON(t *testing.T) {
	stand := &cliTailStandIn{}
	srv := cliTestServer(t, stand.ServeHTTP)
	stand.add("evt\u202e1", time.Date(2024, 1, 20, 10, 30, 0, 0, time.UTC))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut cliLockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- cliExecTo(ctx, &out, &errOut, nil, "tail", "--json", "--interval", "5ms",
			"--address", strings.TrimPrefix(srv.URL, "http://"))
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "\n"); {
		if time.Now().After(deadline) {
			t.Fatalf("nothing printed; stderr: %s", errOut.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(out.String(), "\n")
	var ev adminapi.EventSummary
	if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.ID != "evt\u202e1" || ev.Status != store.StatusPending {
		t.Errorf("line %q: %+v, %v", line, ev, err)
	}
	if !strings.Contains(line, `"id":"evt\u202e1"`) {
		t.Errorf("line %q does not escape the bidi control", line)
	}
}
