package cli

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/webhookinbox/caddy-webhook-inbox/ingress"
	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// cliConfig has one inbox on /hook whose secret the CLI signs with. The
// target has nothing listening: these tests look at ingress answers only.
const cliConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space off
		target app {
			url http://127.0.0.1:9/hook
			retry {
				backoff 1h 1h
			}
		}
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	route /hook {
		webhook_inbox unicraft {
			secret {env.TEST_CLI_SECRET}
			default app
		}
	}
}
`

// cliRecorded is a request the recording proxy passed on.
type cliRecorded struct {
	header http.Header
	body   []byte
}

// cliRecordingProxy forwards every request to target and keeps a copy, so
// a test can replay exactly what the CLI sent.
func cliRecordingProxy(t *testing.T, target string) (*httptest.Server, func() []cliRecorded) {
	t.Helper()
	var mu sync.Mutex
	var seen []cliRecorded
	client := &http.Client{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		mu.Lock()
		seen = append(seen, cliRecorded{header: r.Header.Clone(), body: body})
		mu.Unlock()
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, target, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []cliRecorded {
		mu.Lock()
		defer mu.Unlock()
		return append([]cliRecorded(nil), seen...)
	}
}

// cliRunBinary runs the caddy binary with args and returns stdout, stderr
// and the exit code. The secret variable of the environment is cleared.
func cliRunBinary(t *testing.T, stdin []byte, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(testcaddy.Binary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, cliSecretEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("running %v: %v", args, err)
		}
		code = exit.ExitCode()
	}
	if strings.Contains(out.String()+errOut.String(), cliTestSecret) {
		t.Fatalf("%v printed the secret:\n%s\n%s", args, out.String(), errOut.String())
	}
	return out.String(), errOut.String(), code
}

// TestCLISendToRealCaddy sends every seed type twice through the real
// binary's `webhook send` to a real gateway, then re-sends one of the
// signed requests byte for byte and expects it to be a duplicate.
func TestCLISendToRealCaddy(t *testing.T) {
	inst := testcaddy.Start(t, cliConfig, "TEST_CLI_SECRET="+cliTestSecret)
	proxy, recorded := cliRecordingProxy(t, inst.URL("/hook"))

	out, errOut, code := cliRunBinary(t, nil, nil, "webhook", "send",
		"--url", proxy.URL, "--secret", cliTestSecret, "--event", "all", "--count", "14", "--concurrency", "4")
	if code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"sent 14 requests", "status 202: 14\n", "errors: 0\n", "latency: p50 "} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "status ") != 1 {
		t.Errorf("statuses other than 202:\n%s", out)
	}

	reqs := recorded()
	if len(reqs) != 14 {
		t.Fatalf("proxy saw %d requests, want 14", len(reqs))
	}
	verifier, err := signature.NewUniCraftVerifier([][]byte{[]byte(cliTestSecret)})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	ids := map[string]bool{}
	for _, r := range reqs {
		p, err := ingress.ParsePayload(r.body, ingress.DefaultMaxDepth)
		if err != nil {
			t.Fatalf("body %s: %v", r.body, err)
		}
		types[p.Type]++
		id := r.header.Get("X-UniCraft-Event-Id")
		if id == "" || ids[id] || ingress.DefaultEventID("", p, r.body) != id {
			t.Errorf("event ID header %q repeats or differs from the body's id", id)
		}
		ids[id] = true
		if !verifier.Verify(r.header.Get("X-UniCraft-Signature"), r.body) {
			t.Errorf("signature of %s does not verify", id)
		}
		if r.header.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", r.header.Get("Content-Type"))
		}
	}
	for _, typ := range cliEventTypes {
		if types[typ] != 2 {
			t.Errorf("%s sent %d times, want 2", typ, types[typ])
		}
	}

	// The same signed bytes again: a sender's retry, answered as a duplicate.
	again := reqs[5]
	req, err := http.NewRequest(http.MethodPost, inst.URL("/hook"), bytes.NewReader(again.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = again.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), `"duplicate"`) {
		t.Errorf("re-sent event: %d %s, want 200 duplicate", resp.StatusCode, answer)
	}

	// A wrong secret: every answer is 401 and the exit code says so.
	out, errOut, code = cliRunBinary(t, nil, []string{cliSecretEnv + "=wrong-secret"}, "webhook", "send",
		"--url", inst.URL("/hook"), "--event", "cost.exceeded", "--count", "3")
	if code == 0 {
		t.Errorf("exit code 0 with every request refused:\n%s", out)
	}
	if !strings.Contains(out, "status 401: 3") || !strings.Contains(errOut, "3 of 3 requests failed") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
	if strings.Contains(out+errOut, "wrong-secret") {
		t.Error("the secret was printed")
	}
}

// TestCLISignBinary checks `webhook sign` of the real binary against
// signature.SignUniCraft, on a file and on standard input.
func TestCLISignBinary(t *testing.T) {
	body := []byte("{\"event\":\"provider.recovered\",\"data\":{\"downtime_duration\":1800}}\r\n")
	file := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	want := signature.SignUniCraft([]byte(cliTestSecret), body) + "\n"
	tests := []struct {
		name  string
		args  []string
		stdin []byte
		env   []string
	}{
		{name: "file", args: []string{"webhook", "sign", "--secret", cliTestSecret, file}},
		{name: "stdin", args: []string{"webhook", "sign", "--secret", cliTestSecret}, stdin: body},
		{name: "dash", args: []string{"webhook", "sign", "--secret", cliTestSecret, "-"}, stdin: body},
		{name: "secret from the environment", args: []string{"webhook", "sign", file}, env: []string{cliSecretEnv + "=" + cliTestSecret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := cliRunBinary(t, tt.stdin, tt.env, tt.args...)
			if code != 0 || out != want {
				t.Errorf("exit %d, output %q, want %q\nstderr: %s", code, out, want, errOut)
			}
		})
	}
	_, errOut, code := cliRunBinary(t, nil, nil, "webhook", "sign", file)
	if code == 0 || !strings.Contains(errOut, "a secret is required") {
		t.Errorf("without a secret: exit %d, stderr %q", code, errOut)
	}
}
