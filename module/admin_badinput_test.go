package module_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/webhookinbox/caddy-webhook-inbox/ingress"
	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/badger"
)

// seedStore writes events straight into an instance's store before it
// starts, as a store written by an earlier version (or by a sender before
// a limit existed) would hold them: the admin API must cope with whatever
// is stored.
func seedStore(t *testing.T, in *testcaddy.Instance, events ...*store.Event) {
	t.Helper()
	st, err := badger.Open(in.Data, badger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.ReceivedAt.IsZero() {
			ev.ReceivedAt = time.Now()
		}
		if ev.Body == nil {
			ev.Body = []byte(fmt.Sprintf(`{"id":%q}`, ev.ID))
		}
		if _, err := st.Accept(context.Background(), ev); err != nil {
			t.Fatalf("seeding %q: %v", ev.ID, err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAdminEventTypeBounded sends events whose "event" is 1 MB: the
// stored type is cut to ingress.MaxEventTypeLength on a UTF-8 boundary,
// so a listing of them stays small, while the body is kept whole.
func TestAdminEventTypeBounded(t *testing.T) {
	in := startAdmin(t, newStandIn(t, always(http.StatusOK)))
	// "é" is two bytes: a cut at an odd offset would split one.
	long := "x" + strings.Repeat("é", 500_000)
	const n = 5
	for i := range n {
		body := event(long, fmt.Sprintf("long-%d", i), "")
		if got := post(t, in.URL("/hook"), body, signed(body)); got.status != http.StatusAccepted {
			t.Fatalf("posting long-%d: %d %s", i, got.status, got.body)
		}
	}
	got := adminCall(t, in, http.MethodGet, "/webhook_inbox/events?limit=100", "")
	if got.status != http.StatusOK {
		t.Fatalf("listing: %d %.300s", got.status, got.body)
	}
	if len(got.body) > 64<<10 {
		t.Errorf("listing %d events is %d bytes", n, len(got.body))
	}
	var list eventsJSON
	adminGet(t, in, "/webhook_inbox/events?limit=100", &list)
	if len(list.Events) != n {
		t.Fatalf("listed %d events, want %d", len(list.Events), n)
	}
	for _, ev := range list.Events {
		if len(ev.Type) > ingress.MaxEventTypeLength || !utf8.ValidString(ev.Type) || !strings.HasPrefix(long, ev.Type) || len(ev.Type) < ingress.MaxEventTypeLength-1 {
			t.Errorf("%s: type of %d bytes (valid UTF-8 %v), want a prefix of at most %d", ev.ID, len(ev.Type), utf8.ValidString(ev.Type), ingress.MaxEventTypeLength)
		}
	}
	var one struct {
		Type     string `json:"type"`
		BodySize int    `json:"body_size"`
	}
	adminGet(t, in, "/webhook_inbox/events/long-0", &one)
	if len(one.Type) > ingress.MaxEventTypeLength || one.BodySize < len(long) {
		t.Errorf("one event: type of %d bytes, body of %d; want the type cut and the body whole", len(one.Type), one.BodySize)
	}
}

// TestAdminEventsPageBytes lists stored events whose types are far longer
// than ingress keeps today: a page stops before it would pass the byte
// budget, always holds at least one event, and its cursor continues the
// list without losing or repeating any.
func TestAdminEventsPageBytes(t *testing.T) {
	env := append([]string{"TEST_APP_SECRET=" + appSecret}, secretEnv...)
	in := testcaddy.New(t, strings.ReplaceAll(adminConfig, "STANDIN", "http://127.0.0.1:9"), env...)
	t0 := time.Now().Add(-time.Minute)
	var seeded []*store.Event
	var want []string // newest first
	add := func(id string, typeLen int) {
		seeded = append(seeded, &store.Event{ID: id, Source: "unicraft", Type: strings.Repeat("t", typeLen),
			ReceivedAt: t0.Add(time.Duration(len(seeded)) * time.Second)})
		want = append([]string{id}, want...)
	}
	add("small-0", 10)
	add("huge-1", 2<<20) // alone over the budget: a page of its own
	for i := 2; i < 6; i++ {
		add(fmt.Sprintf("mid-%d", i), 400<<10)
	}
	add("small-6", 10)
	add("small-7", 10)
	seedStore(t, in, seeded...)
	in.Start()

	const budget = 1 << 20
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > len(want) {
			t.Fatalf("no end after %d pages: %v", pages, got)
		}
		path := "/webhook_inbox/events?limit=100&cursor=" + url.QueryEscape(cursor)
		reply := adminCall(t, in, http.MethodGet, path, "")
		var page eventsJSON
		adminGet(t, in, path, &page)
		if len(page.Events) == 0 {
			t.Fatalf("page %d is empty (next cursor %q)", pages, page.NextCursor)
		}
		if len(page.Events) > 1 && len(reply.body) > budget {
			t.Errorf("page %d: %d events in %d bytes, over the %d-byte budget", pages, len(page.Events), len(reply.body), budget)
		}
		got = append(got, page.ids()...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("paged %v, want %v", got, want)
	}
}
