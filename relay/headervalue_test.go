package relay

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/webhookinbox/caddy-webhook-inbox/relay/reencode"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// h2Receiver is an HTTP/2 target over TLS whose server advertises a
// header list limit derived from maxHeaderBytes, like a proxy or an app
// server configured with a small one. It counts the requests its handler
// saw. The target's transport is told to trust its certificate.
func h2Receiver(t *testing.T, maxHeaderBytes int, respond func(http.ResponseWriter, *http.Request)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.ProtoMajor != 2 {
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
			return
		}
		respond(w, r)
	}))
	srv.EnableHTTP2 = true
	srv.Config.MaxHeaderBytes = maxHeaderBytes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &hits
}

// trustTarget makes target name's transport trust srv's certificate. Call
// it after SetTargets and before the first event is accepted, so no
// attempt has used the transport yet.
func trustTarget(h *harness, name string, srv *httptest.Server) {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	tr := h.d.runners[name].settings().transport
	tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
}

// TestPayloadHeaderValues delivers events whose type, copied into
// X-UniCraft-Event, is no valid or no reasonable header value. Such an
// event used to fail every attempt on our side, retried for hours as if
// the target were down (issue 18); each must be delivered with a valid,
// bounded value instead.
func TestPayloadHeaderValues(t *testing.T) {
	long := strings.Repeat("x", 20000)
	tests := []struct {
		name       string
		eventType  string
		http2      bool
		want       string // the header the target reads; empty: check bounds only
		wantAbsent bool
	}{
		{name: "plain type is sent as it is", eventType: "request.completed", want: "request.completed"},
		{name: "newline", eventType: "request.completed\nX-Injected: 1", want: "request.completed?X-Injected: 1"},
		{name: "carriage return", eventType: "a\rb", want: "a?b"},
		{name: "NUL", eventType: "a\x00b", want: "a?b"},
		{name: "DEL", eventType: "a\x7fb", want: "a?b"},
		{name: "C1 control", eventType: "a\u0085b\u009bc", want: "a?b?c"},
		{name: "tab", eventType: "a\tb", want: "a?b"},
		{name: "invalid UTF-8", eventType: "a\xffb", want: "a?b"},
		{name: "non-ASCII kept", eventType: "paiement.reçu", want: "paiement.reçu"},
		{name: "only control characters", eventType: "\n\n", want: "??"},
		{name: "20,000 characters over HTTP/1", eventType: long},
		{name: "20,000 characters over HTTP/2", eventType: long, http2: true},
		{name: "cut on a character boundary", eventType: "a" + strings.Repeat("é", 300)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got atomic.Pointer[[]string]
			respond := func(w http.ResponseWriter, r *http.Request) {
				vs := r.Header.Values(headerEventType)
				got.Store(&vs)
				w.WriteHeader(http.StatusOK)
			}
			h := newHarness(t, "", DispatcherOptions{})
			var url string
			var srv *httptest.Server
			if tc.http2 {
				// Go's default: a 1 MiB header list would pass unbounded.
				srv, _ = h2Receiver(t, 4096, respond)
				url = srv.URL
			} else {
				url = newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) { respond(w, r) }).URL
			}
			h.d.SetTargets([]TargetConfig{target("app", url)})
			if srv != nil {
				trustTarget(h, "app", srv)
			}
			ev := testEvent("evt", "app")
			ev.Type = tc.eventType
			mustAccept(t, h.in, ev)
			waitFor(t, "the first attempt", h.runAttempts("evt", "app", 1))
			if st := h.state(t, "evt", "app"); st.Status != store.StatusDelivered {
				t.Fatalf("%s after %+v, want delivered", st.Status, st.Attempts)
			}
			vs := *got.Load()
			if len(vs) != 1 {
				t.Fatalf("%s sent %d times, want once", headerEventType, len(vs))
			}
			v := vs[0]
			if tc.want != "" && v != tc.want {
				t.Errorf("%s = %q, want %q", headerEventType, v, tc.want)
			}
			if len(v) > 256 || !utf8.ValidString(v) {
				t.Errorf("%s is %d bytes (valid UTF-8: %v), want at most %d of valid UTF-8",
					headerEventType, len(v), utf8.ValidString(v), 256)
			}
			if tc.want == "" && !strings.HasPrefix(tc.eventType, v[:len(v)-1]) {
				t.Errorf("%s = %q…, want a prefix of the type", headerEventType, v[:min(len(v), 20)])
			}
		})
	}
}

// TestUnsendableEvents covers events whose request fails on our side: it
// cannot be built, encoded or sent as it is. That is the event's problem,
// not the target's: it is dead-lettered at once with the reason, and the
// target's circuit learns nothing, so a handful of such events cannot
// pause a healthy target (issue 18).
func TestUnsendableEvents(t *testing.T) {
	const events = DefaultBreakerThreshold + 1
	tests := []struct {
		name     string
		event    func(id string) *store.Event
		encoding string
		http2    int      // > 0: an HTTP/2 target advertising this MaxHeaderBytes
		wantText []string // the reason contains one of them
	}{
		{name: "control character in the event id", wantText: []string{"header " + http.CanonicalHeaderKey(headerEventID)},
			event: func(id string) *store.Event { return testEvent(id+"\x01", "app") }},
		{name: "headers over the peer's advertised limit", http2: 1,
			// Until the server's settings arrive, the first request is
			// sent and refused with 431, also a dead letter at once.
			wantText: []string{"request header list larger than peer's advertised limit", "status 431"},
			event:    func(id string) *store.Event { return testEvent(id, "app") }},
		{name: "body the encoding cannot express", encoding: reencode.Python, wantText: []string{"not valid UTF-8"},
			event: func(id string) *store.Event {
				ev := testEvent(id, "app")
				ev.Body = []byte("{\"id\":\"\xff\"}")
				return ev
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs := &recordingObserver{}
			h := newHarness(t, "", DispatcherOptions{Observer: obs})
			var hits *atomic.Int64
			var srv *httptest.Server
			url := ""
			if tc.http2 > 0 {
				srv, hits = h2Receiver(t, tc.http2, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
				url = srv.URL
			} else {
				rv := newReceiver(t, status(http.StatusOK))
				hits, url = &rv.total, rv.URL
			}
			cfg := target("app", url)
			cfg.BodyEncoding = tc.encoding
			h.d.SetTargets([]TargetConfig{cfg})
			if srv != nil {
				trustTarget(h, "app", srv)
			}
			var ids []string
			for i := range events {
				ev := tc.event(string(rune('a' + i)))
				ids = append(ids, ev.ID)
				mustAccept(t, h.in, ev)
			}
			for _, id := range ids {
				waitFor(t, "dead letter "+id, h.statusIs(id, "app", store.StatusDead))
				st := h.state(t, id, "app")
				if len(st.Attempts) != 1 || !slices.ContainsFunc(tc.wantText, func(w string) bool { return strings.Contains(st.Reason, w) }) {
					t.Errorf("%q: dead after %d attempts with reason %q, want 1 and a reason containing one of %q",
						id, len(st.Attempts), st.Reason, tc.wantText)
				}
			}
			if c := h.d.Circuits()["app"]; c.Open || c.ConsecutiveFailures != 0 {
				t.Errorf("circuit %+v, want closed with no failures counted", c)
			}
			if log := obs.circuitLog(); len(log) != 0 {
				t.Errorf("circuit changes %v, want none", log)
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("target saw %d requests, want none", n)
			}
		})
	}
}

func TestHeaderValue(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "empty", in: "", want: ""},
		{name: "plain", in: "cost.exceeded", want: "cost.exceeded"},
		{name: "spaces kept", in: "a b", want: "a b"},
		{name: "C0 controls", in: "a\x00\x01\n\r\x1fb", want: "a?????b"},
		{name: "tab", in: "\t", want: "?"},
		{name: "DEL", in: "\x7f", want: "?"},
		{name: "C1 controls", in: "\u0080\u009f", want: "??"},
		{name: "just above C1 kept", in: "\u00a0é", want: "\u00a0é"},
		{name: "invalid byte", in: "a\xc3", want: "a?"},
		{name: "a real replacement character kept", in: "\ufffd", want: "\ufffd"},
		{name: "at the bound", in: strings.Repeat("x", maxHeaderValue), want: strings.Repeat("x", maxHeaderValue)},
		{name: "cut at the bound", in: strings.Repeat("x", maxHeaderValue+1), want: strings.Repeat("x", maxHeaderValue)},
		{name: "cut before a character that does not fit", in: "x" + strings.Repeat("é", maxHeaderValue),
			want: "x" + strings.Repeat("é", (maxHeaderValue-1)/2)},
		{name: "controls counted once replaced", in: strings.Repeat("\u0085", maxHeaderValue), want: strings.Repeat("?", maxHeaderValue)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := headerValue(tc.in)
			if got != tc.want {
				t.Errorf("headerValue(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if !validHeaderValue(got) || !utf8.ValidString(got) || len(got) > maxHeaderValue {
				t.Errorf("headerValue(%q) = %q, not a valid bounded header value", tc.in, got)
			}
		})
	}
}

func FuzzHeaderValue(f *testing.F) {
	for _, s := range []string{"", "request.completed", "a\nb", "\xff\xfe", strings.Repeat("é", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := headerValue(s)
		if !validHeaderValue(got) || !utf8.ValidString(got) || len(got) > maxHeaderValue {
			t.Fatalf("headerValue(%q) = %q, not a valid bounded header value", s, got)
		}
		for _, r := range got {
			if isControl(r) {
				t.Fatalf("headerValue(%q) = %q keeps control character %U", s, got, r)
			}
		}
	})
}
