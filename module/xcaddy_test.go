package module_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// xcaddyArgs is the README's xcaddy command (Packaging), after `go run`.
var xcaddyArgs = []string{
	"github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5", "build", "v2.11.9",
	"--with", "github.com/webhookinbox/caddy-webhook-inbox/module",
	"--replace", "github.com/webhookinbox/caddy-webhook-inbox=.",
	"--output",
}

// TestXcaddyBuild runs the README's xcaddy command from the repo root and
// checks the binary lists our three modules. The first run compiles Caddy
// (about two minutes); later runs hit the build cache.
func TestXcaddyBuild(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// compare with line continuations and indentation folded away
	flat := strings.Join(strings.Fields(strings.ReplaceAll(string(readme), "\\\n", " ")), " ")
	if !strings.Contains(flat, strings.Join(xcaddyArgs, " ")) {
		t.Fatal("the README's xcaddy command differs from this test's; keep them the same")
	}
	bin := filepath.Join(t.TempDir(), "caddy")
	cmd := exec.Command("go", append(append([]string{"run"}, xcaddyArgs...), bin)...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOPROXY=https://proxy.golang.org|off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xcaddy build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "list-modules").CombinedOutput()
	if err != nil {
		t.Fatalf("list-modules: %v\n%s", err, out)
	}
	for _, m := range []string{"webhook_inbox", "http.handlers.webhook_inbox", "admin.api.webhook_inbox"} {
		if !strings.Contains(string(out), m+"\n") {
			t.Errorf("xcaddy binary lacks module %s", m)
		}
	}
}
