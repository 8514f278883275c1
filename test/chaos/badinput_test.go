package chaos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// badInputConfig has nothing listening on its target: these tests are
// about what is stored, not delivered. The access log copies request
// headers, so header injection reaches caddy's log.
const badInputConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		dedup_window 2h
		min_free_space off
		target app {
			url http://127.0.0.1:9/hook
			retry {
				backoff 1s 1m
			}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	log {
		output stderr
		level DEBUG
		format filter {
			request>headers>X-Unicraft-Signature delete
		}
	}
	route /hook {
		webhook_inbox chaos {
			secret {env.CHAOS_SOURCE_SECRET}
			max_age 1h
			keep_headers x-partner-trace
			route ` + "`event.event == \"cheap\"`" + ` app
			EXPENSIVE
		}
	}
	route /allow {
		webhook_inbox allowlisted {
			secret {env.CHAOS_SOURCE_SECRET}
			allow_ips 192.168.1.100
			default app
		}
	}
}
`

// expensiveRule loops over the event inside a loop over the event: its
// estimated cost is far above the limit.
const expensiveRule = "route `event.data.items.exists(x, event.data.items.exists(y, event.data.items.exists(z, x == y && y == z)))` app"

// rawPost writes one HTTP/1.1 request byte for byte, for header values
// Go's client refuses to send. It writes the body while it reads the
// answer, as RFC 9112 asks of a client, so an early 413 is seen even when
// the server closes without reading the rest. hung reports whether the
// connection stayed open after an answer that said Connection: close.
func rawPost(t testing.TB, addr string, headers string, body []byte, chunked bool) (r reply, hung bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	framing := fmt.Sprintf("Content-Length: %d", len(body))
	if chunked {
		framing = "Transfer-Encoding: chunked"
	}
	head := fmt.Sprintf("POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%s\r\nConnection: close\r\n%s\r\n", framing, headers)
	written := make(chan struct{})
	go func() {
		defer close(written)
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, head); err != nil {
			return
		}
		if !chunked {
			_, _ = c.Write(body) // fails once the server has closed: expected
			return
		}
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 64<<10)
			if _, err := fmt.Fprintf(c, "%x\r\n%s\r\n", n, rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
		_, _ = io.WriteString(c, "0\r\n\r\n")
	}()
	defer func() { <-written }()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Close {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := br.ReadByte()
		var ne net.Error
		hung = errors.As(err, &ne) && ne.Timeout()
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}, hung
}

// TestBadInput sends hostile and borderline requests through real caddy
// and checks, per case, the status and that nothing was stored unless
// the answer was 202 (and then under the expected ID).
func TestBadInput(t *testing.T) {
	cfg := strings.Replace(badInputConfig, "EXPENSIVE", "", 1)
	in := testcaddy.Start(t, cfg, "CHAOS_SOURCE_SECRET="+sourceSecret)
	hook := in.URL("/hook")
	addr := strings.TrimPrefix(in.URL(""), "http://")

	sig := func(b []byte) string { return signature.SignUniCraft([]byte(sourceSecret), b) }
	withSig := func(b []byte, s string) map[string]string { return map[string]string{"X-UniCraft-Signature": s} }
	// at returns an event whose timestamp is now+offset, made when sent.
	at := func(id string, offset time.Duration) func() []byte {
		return func() []byte {
			return []byte(fmt.Sprintf(`{"id":%q,"event":"request.completed","timestamp":%q}`, id, time.Now().Add(offset).UTC().Format(time.RFC3339Nano)))
		}
	}
	fixed := func(b []byte) func() []byte { return func() []byte { return b } }
	signedRaw := func(b []byte) string { return "X-UniCraft-Signature: " + sig(b) + "\r\n" }
	reordered := payload("request.completed", "sig-reordered")
	var obj map[string]any
	if err := json.Unmarshal(reordered, &obj); err != nil {
		t.Fatal(err)
	}
	canonical, _ := json.Marshal(obj) // same JSON, keys sorted: other bytes

	deep := []byte(`{"id":"deep","a":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}`)
	big := []byte(`{"id":"big","pad":"` + strings.Repeat("x", 10<<20) + `"}`)

	tests := []struct {
		name string
		body func() []byte
		// headers gets the body about to be sent; nil means signed.
		headers func(b []byte) map[string]string
		raw     func(b []byte) string // raw header lines; replaces headers
		chunked bool
		want    int
		// wantID is the ID the 202 answer must name; ids must not be stored
		// otherwise.
		wantID string
		ids    []string
	}{
		{name: "empty signature header", body: fixed(payload("x", "sig-empty")), headers: func(b []byte) map[string]string { return withSig(b, "") }, want: 401, ids: []string{"sig-empty"}},
		{name: "63 hex chars", body: fixed(payload("x", "sig-63")), headers: func(b []byte) map[string]string { return withSig(b, sig(b)[:63]) }, want: 401, ids: []string{"sig-63"}},
		{name: "65 hex chars", body: fixed(payload("x", "sig-65")), headers: func(b []byte) map[string]string { return withSig(b, sig(b)+"0") }, want: 401, ids: []string{"sig-65"}},
		{name: "odd length", body: fixed(payload("x", "sig-odd")), headers: func(b []byte) map[string]string { return withSig(b, "abc") }, want: 401, ids: []string{"sig-odd"}},
		{name: "non-hex at the right length", body: fixed(payload("x", "sig-nonhex")), headers: func(b []byte) map[string]string { return withSig(b, sig(b)[:63]+"g") }, want: 401, ids: []string{"sig-nonhex"}},
		{name: "uppercase valid", body: fixed(payload("x", "sig-upper")), headers: func(b []byte) map[string]string { return withSig(b, strings.ToUpper(sig(b))) }, want: 202, wantID: "sig-upper"},
		{name: "doubled sha256= prefix", body: fixed(payload("x", "sig-doubled")), headers: func(b []byte) map[string]string { return withSig(b, "sha256=sha256="+sig(b)) }, want: 401, ids: []string{"sig-doubled"}},
		{name: "10 KB signature header", body: fixed(payload("x", "sig-10k")), headers: func(b []byte) map[string]string { return withSig(b, sig(b)+strings.Repeat("a", 10<<10)) }, want: 401, ids: []string{"sig-10k"}},
		{name: "valid signature of the same JSON with keys re-ordered", body: fixed(canonical), headers: func([]byte) map[string]string { return withSig(nil, sig(reordered)) }, want: 401, ids: []string{"sig-reordered"}},
		{name: "10 MB body with Content-Length", body: fixed(big), raw: signedRaw, want: 413, ids: []string{"big"}},
		{name: "10 MB body chunked", body: fixed(big), raw: signedRaw, chunked: true, want: 413, ids: []string{"big"}},
		{name: "10 MB body with Expect: 100-continue (Go client)", body: fixed(big), headers: func(b []byte) map[string]string {
			h := signedBy(sourceSecret, b)
			h["Expect"] = "100-continue"
			return h
		}, want: 413, ids: []string{"big"}},
		{name: "100k-deep nesting", body: fixed(deep), want: 400, ids: []string{"deep"}},
		{name: "number out of range 1e400", body: fixed([]byte(`{"id":"num-1e400","n":1e400}`)), want: 400, ids: []string{"num-1e400"}},
		{name: "duplicate id keys: last wins", body: fixed([]byte(`{"id":"dup-first","event":"x","id":"dup-last"}`)), want: 202, wantID: "dup-last", ids: []string{"dup-first"}},
		{name: "invalid UTF-8", body: fixed([]byte("{\"id\":\"utf8-bad\",\"s\":\"\xff\xfe\"}")), want: 400, ids: []string{"utf8-bad"}},
		{name: "max_age minus 1s accepted", body: at("ts-old-in", -time.Hour+time.Second), want: 202, wantID: "ts-old-in"},
		{name: "max_age plus 1s rejected", body: at("ts-old-out", -time.Hour-time.Second), want: 400, ids: []string{"ts-old-out"}},
		{name: "future limit minus 1s accepted", body: at("ts-future-in", 5*time.Minute-time.Second), want: 202, wantID: "ts-future-in"},
		{name: "future limit plus 1s rejected", body: at("ts-future-out", 5*time.Minute+time.Second), want: 400, ids: []string{"ts-future-out"}},
		{name: "timestamp with lowercase t and z accepted", body: func() []byte {
			return []byte(fmt.Sprintf(`{"id":"ts-lower","event":"x","timestamp":%q}`, strings.ToLower(time.Now().UTC().Format(time.RFC3339))))
		}, want: 202, wantID: "ts-lower"},
		{name: "timestamp null accepted as absent", body: fixed([]byte(`{"id":"ts-null","event":"x","timestamp":null}`)), want: 202, wantID: "ts-null"},
		{name: "CR in the event id header", body: fixed(payload("x", "inj-cr")), raw: func(b []byte) string {
			return "X-UniCraft-Signature: " + sig(b) + "\r\nX-UniCraft-Event-Id: evil\rInjected: 1\r\n"
		}, want: 400, ids: []string{"inj-cr", "evil", "evil\rInjected: 1"}},
		{name: "ANSI ESC in the event id header", body: fixed(payload("x", "inj-esc")), raw: func(b []byte) string {
			return "X-UniCraft-Signature: " + sig(b) + "\r\nX-UniCraft-Event-Id: evil\x1b[31mred\r\n"
		}, want: 400, ids: []string{"inj-esc", "evil\x1b[31mred"}},
		{name: "C1 CSI (UTF-8) in the event id header", body: fixed(payload("x", "inj-csi")), raw: func(b []byte) string {
			return "X-UniCraft-Signature: " + sig(b) + "\r\nX-UniCraft-Event-Id: evil\u009b31mred\r\n"
		}, want: 400, ids: []string{"inj-csi", "evil\u009b31mred"}},
		{name: "CRLF in the body id", body: fixed([]byte(`{"id":"evil\r\n{\"level\":\"error\"}","event":"x"}`)), want: 400, ids: []string{"evil\r\n{\"level\":\"error\"}"}},
		{name: "ESC in the body id", body: fixed([]byte(`{"id":"evil\u001b[2J","event":"x"}`)), want: 400, ids: []string{"evil\x1b[2J"}},
		// Every accepted ID must reach the receiver's X-UniCraft-Event-Id
		// unchanged: header values lose outer spaces, non-ASCII is decoded
		// differently per receiver, "." and ".." break admin paths.
		{name: "body id with a trailing space", body: fixed([]byte(`{"id":"sp1 ","event":"x"}`)), want: 400, ids: []string{"sp1 ", "sp1"}},
		{name: "body id without the space", body: fixed([]byte(`{"id":"sp1","event":"x"}`)), want: 202, wantID: "sp1"},
		{name: "body id with a leading space", body: fixed([]byte(`{"id":" sp1","event":"x"}`)), want: 400, ids: []string{" sp1"}},
		{name: "body id that is one space", body: fixed([]byte(`{"id":" ","event":"x"}`)), want: 400, ids: []string{" ", ""}},
		{name: "body id with a non-ASCII letter", body: fixed([]byte(`{"id":"paiement.reçu","event":"x"}`)), want: 400, ids: []string{"paiement.reçu"}},
		{name: "body id dot", body: fixed([]byte(`{"id":".","event":"x"}`)), want: 400, ids: []string{"."}},
		{name: "body id dot dot", body: fixed([]byte(`{"id":"..","event":"x"}`)), want: 400, ids: []string{".."}},
		{name: "header id with a non-ASCII letter", body: fixed(payload("x", "hdr-nonascii")), headers: func(b []byte) map[string]string {
			h := signedBy(sourceSecret, b)
			h["X-UniCraft-Event-Id"] = "paiement.reçu"
			return h
		}, want: 400, ids: []string{"hdr-nonascii", "paiement.reçu"}},
		{name: "header id dot dot", body: fixed(payload("x", "hdr-dotdot")), headers: func(b []byte) map[string]string {
			h := signedBy(sourceSecret, b)
			h["X-UniCraft-Event-Id"] = ".."
			return h
		}, want: 400, ids: []string{"hdr-dotdot", ".."}},
		{name: "default id: the body's sha256", body: fixed([]byte(`{"event":"x","n":"hash-id"}`)), want: 202, wantID: hexSHA256(`{"event":"x","n":"hash-id"}`)},
		{name: "C1, U+2028, tab and invalid UTF-8 in other headers", body: fixed(payload("x", "inj-other")), raw: func(b []byte) string {
			return "X-UniCraft-Signature: " + sig(b) + "\r\nUser-Agent: a\u009b31m\u2028b\tc\xffd\r\nX-Note: \"}],\"level\":\"error\"\r\n"
		}, want: 202, wantID: "inj-other"},
		{name: "bare LF in another header", body: fixed(payload("x", "inj-lf")), raw: func(b []byte) string {
			return "X-UniCraft-Signature: " + sig(b) + "\r\nUser-Agent: a\n{\"level\":\"error\"}\r\n"
		}, want: 400, ids: []string{"inj-lf"}},
		{name: "header continuation in another header", body: fixed(payload("x", "inj-fold")), raw: func(b []byte) string {
			return "X-UniCraft-Signature: " + sig(b) + "\r\nUser-Agent: first\r\n {\"level\":\"error\"}\r\n"
		}, want: 202, wantID: "inj-fold"},
		// Go's HTTP server answers 400 to any control byte in any header
		// value, before the handler runs: ESC or a bare CR cannot reach
		// the handler or the log through HTTP/1.1.
		{name: "ANSI ESC in another header", body: fixed(payload("x", "inj-esc-other")), raw: func(b []byte) string {
			return "X-UniCraft-Signature: " + sig(b) + "\r\nUser-Agent: a\x1b[2Jb\r\n"
		}, want: 400, ids: []string{"inj-esc-other"}},
	}

	before, _ := storedEvents(t, in)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body()
			var got reply
			switch {
			case tt.raw != nil:
				var hung bool
				if got, hung = rawPost(t, addr, tt.raw(body), body, tt.chunked); hung {
					t.Errorf("%d with Connection: close, but the connection stayed open", got.status)
				}
			default:
				h := signedBy(sourceSecret, body)
				if tt.headers != nil {
					h = tt.headers(body)
				}
				req, err := http.NewRequest(http.MethodPost, hook, bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range h {
					req.Header.Set(k, v)
				}
				start := time.Now()
				if got, err = send(req); err != nil {
					t.Fatalf("no answer after %s: %v", time.Since(start).Round(time.Millisecond), err)
				}
			}
			if got.status != tt.want {
				t.Fatalf("got %d %s, want %d", got.status, got.body, tt.want)
			}
			now, _ := storedEvents(t, in)
			grew := len(now) - len(before)
			if tt.want == http.StatusAccepted {
				var a struct{ ID string }
				if err := json.Unmarshal([]byte(got.body), &a); err != nil || a.ID != tt.wantID {
					t.Fatalf("202 names id %q (%s), want %q", a.ID, got.body, tt.wantID)
				}
				if _, ok := now[tt.wantID]; !ok || grew != 1 {
					t.Fatalf("after a 202 for %q: stored %v, count grew by %d, want 1", tt.wantID, ok, grew)
				}
			} else if grew != 0 {
				t.Fatalf("a %d stored something: count grew by %d", got.status, grew)
			}
			for _, id := range tt.ids {
				if _, ok := now[id]; ok {
					t.Fatalf("event %q stored after a %d", id, got.status)
				}
			}
			before = now
		})
	}

	t.Run("spoofed X-Forwarded-For from an untrusted peer", func(t *testing.T) {
		body := payload("x", "xff-spoof")
		h := signedBy(sourceSecret, body)
		h["X-Forwarded-For"] = "192.168.1.100"
		if got := post(t, in.URL("/allow"), body, h); got.status != http.StatusForbidden {
			t.Fatalf("got %d %s, want 403", got.status, got.body)
		}
		if now, _ := storedEvents(t, in); len(now) != len(before) {
			t.Fatalf("a 403 stored something: %d events, had %d", len(now), len(before))
		}
	})

	t.Run("only allow-listed headers are kept and shown", func(t *testing.T) {
		body := payload("x", "hdr-kept")
		h := signedBy(sourceSecret, body)
		kept := map[string]string{
			"User-Agent":      "unicraft-webhooks/1.0",
			"X-Request-Id":    "req-42",
			"Traceparent":     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			"X-Partner-Trace": "from keep_headers",
			// cut at 1 KiB, before the two-byte rune that would straddle it
			"X-Github-Delivery": strings.Repeat("a", 1023) + "é",
		}
		secret := map[string]string{
			"X-Apikey": "k", "X-Api-Key": "k", "X-Client-Secret": "s", "X-Password": "p",
			"X-Accesstoken": "t", "X-Csrftoken": "t", "X-Session-Id": "s", "X-Shopify-Hmac-Sha256": "h",
			"X-Hub-Signature-256": "sha256=00", "Stripe-Signature": "t=1,v1=00", "Authorization": "Bearer x",
			"Cookie": "session=x", "X-Forwarded-For": "203.0.113.9", "X-Anything-Else": "x",
		}
		for k, v := range kept {
			h[k] = v
		}
		for k, v := range secret {
			h[k] = v
		}
		if got := post(t, hook, body, h); got.status != http.StatusAccepted {
			t.Fatalf("got %d %s, want 202", got.status, got.body)
		}
		var ev struct {
			Headers map[string]string `json:"headers"`
		}
		raw := adminJSON(t, in, "/webhook_inbox/events/hdr-kept", &ev)
		kept["X-Github-Delivery"] = strings.Repeat("a", 1023)
		for k, want := range kept {
			if got := ev.Headers[k]; got != want {
				t.Errorf("header %s kept as %.80q (%d bytes), want %.80q (%d bytes)", k, got, len(got), want, len(want))
			}
		}
		for k := range secret {
			if _, ok := ev.Headers[k]; ok {
				t.Errorf("header %s was kept", k)
			}
		}
		if _, ok := ev.Headers["X-Unicraft-Signature"]; ok {
			t.Error("the signature was kept")
		}
		if strings.Contains(raw, "Bearer") || strings.Contains(raw, "session=") {
			t.Errorf("a credential shows in the admin answer: %s", raw)
		}
		before, _ = storedEvents(t, in)
	})

	t.Run("caddy log stays one JSON object per line", func(t *testing.T) {
		n := checkLogLines(t, in)
		log := in.Log()
		for _, s := range []string{"\x1b", sourceSecret} {
			if strings.Contains(log, s) {
				t.Errorf("log contains %q raw", s)
			}
		}
		if !strings.Contains(log, `"reason":"bad_id"`) {
			t.Error("no bad_id rejection in the log")
		}
		t.Logf("%d JSON log lines", n)
	})

	t.Run("expensive CEL rule refused at load; the cheap one still routes", func(t *testing.T) {
		err := in.Reload(strings.Replace(badInputConfig, "EXPENSIVE", expensiveRule, 1))
		if err == nil || !strings.Contains(err.Error(), "cost") {
			t.Fatalf("reload with a nested-loop rule: %v, want an error mentioning cost", err)
		}
		t.Logf("load error: %.300s", err)
		body := payload("cheap", "cel-cheap")
		got := post(t, hook, body, signedBy(sourceSecret, body))
		if got.status != http.StatusAccepted || !strings.Contains(got.body, `"targets":["app"]`) {
			t.Fatalf("cheap rule after the refused load: %d %s, want 202 to app", got.status, got.body)
		}
		other := payload("other", "cel-other")
		if got := post(t, hook, other, signedBy(sourceSecret, other)); got.status != http.StatusAccepted || !strings.Contains(got.body, `"targets":[]`) {
			t.Fatalf("non-matching event: %d %s, want 202 unrouted", got.status, got.body)
		}
	})
}

// replayGapConfig remembers IDs for one second and accepts payloads up to
// one second old, so the whole life of a captured request fits in a test.
const replayGapConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		dedup_window 1s
		min_free_space off
		target app {
			url http://127.0.0.1:9/hook
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	route /hook {
		webhook_inbox chaos {
			secret {env.CHAOS_SOURCE_SECRET}
			max_age 1s
		}
	}
}
`

// TestBadInputFutureTimestampReplay replays a captured request whose
// timestamp is ahead of the inbox's clock (the sender's clock runs fast,
// within the allowed skew) until the inbox refuses it as too old. Every
// replay must be a duplicate or refused, never accepted a second time:
// the README's "No replay gap". The ID has to be remembered past the
// dedup window, until the payload's timestamp plus max_age.
func TestBadInputFutureTimestampReplay(t *testing.T) {
	in := testcaddy.Start(t, replayGapConfig, "CHAOS_SOURCE_SECRET="+sourceSecret)
	hook := in.URL("/hook")
	// Whole seconds, so the last fresh instant is on a second boundary,
	// the resolution of the store's expiry.
	ts := time.Now().Add(3 * time.Second).Truncate(time.Second)
	body := []byte(fmt.Sprintf(`{"id":"skewed","event":"x","timestamp":%q}`, ts.UTC().Format(time.RFC3339)))
	h := signedBy(sourceSecret, body)
	first := time.Now()
	if got := post(t, hook, body, h); got.status != http.StatusAccepted {
		t.Fatalf("first post: %d %s, want 202", got.status, got.body)
	}
	fresh := ts.Add(time.Second) // the last instant max_age accepts
	deadline := fresh.Add(10 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for n := 1; ; n++ {
		sent := time.Now()
		got := post(t, hook, body, h)
		switch {
		case got.status == http.StatusOK && strings.Contains(got.body, `"duplicate"`):
		case got.status == http.StatusBadRequest && strings.Contains(got.body, "too old"):
			if sent.Before(fresh) {
				t.Fatalf("replay %d refused as too old %s before max_age ran out", n, fresh.Sub(sent))
			}
			t.Logf("%d replays: duplicates for %s, then too old", n, sent.Sub(first).Round(100*time.Millisecond))
			return
		default:
			t.Fatalf("replay %d, %s after the first post: %d %s, want a duplicate until the payload is too old",
				n, sent.Sub(first).Round(10*time.Millisecond), got.status, got.body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("replays still answered after %s, want too old once max_age ran out", time.Since(first))
		}
		<-tick.C
	}
}
