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
)

// cliTailStandIn serves a growing event list, newest first, in pages
// continued by a numeric cursor, and fails one request when told to.
type cliTailStandIn struct {
	mu       sync.Mutex
	events   []map[string]any // oldest first
	failNext bool
	queries  []string
}

func (s *cliTailStandIn) add(id string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, map[string]any{
		"id": id, "source": "unicraft", "type": "request.completed", "status": "pending",
		"received_at": at.Format(time.RFC3339Nano), "targets": []string{"app"},
	})
}

func (s *cliTailStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
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
	newest := slices.Clone(s.events)
	slices.Reverse(newest)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	to := min(from+limit, len(newest))
	answer := map[string]any{"events": newest[min(from, to):to]}
	if to < len(newest) {
		answer["next_cursor"] = strconv.Itoa(to)
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
			"--source", "unicraft", "--address", strings.TrimPrefix(srv.URL, "http://"))
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
	if !strings.Contains(errOut.String(), `HTTP 503: {"error":"store busy"}`) {
		t.Errorf("the failed poll was not reported: %q", errOut.String())
	}
	stand.mu.Lock()
	defer stand.mu.Unlock()
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
