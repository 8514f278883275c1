package module

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/webhookinbox/caddy-webhook-inbox/internal/testtool"
)

var updateExamples = flag.Bool("update-examples", false, "rewrite examples/caddyfiles/*.json from the example Caddyfiles")

var (
	envPlaceholder  = regexp.MustCompile(`\{env\.([A-Za-z0-9_]+)\}`)
	filePlaceholder = regexp.MustCompile(`\{file\.(/[^}\s]+)\}`)
)

// TestExamplesAdapt adapts every examples/caddyfiles/*.Caddyfile, compares
// the JSON with the committed <name>.json next to it (rewrite them with
// -update-examples) and validates the config, so its rules compile and
// its targets resolve. Secrets are set in the environment and, for
// {file.…} placeholders, written to temp files the config is pointed at.
func TestExamplesAdapt(t *testing.T) {
	files, err := filepath.Glob("../examples/caddyfiles/*.Caddyfile")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example Caddyfiles: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".Caddyfile")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out, err := adapt(t, string(data))
			if err != nil {
				t.Fatalf("adapting: %v", err)
			}
			got := indent(t, out) + "\n"
			golden := strings.TrimSuffix(file, ".Caddyfile") + ".json"
			if *updateExamples {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("reading %s (run with -update-examples to write it): %v", golden, err)
				}
				if got != string(want) {
					t.Errorf("adapted JSON differs from %s (run with -update-examples after checking)\n--- got\n%s", golden, got)
				}
			}

			for _, m := range envPlaceholder.FindAllStringSubmatch(string(data), -1) {
				t.Setenv(m[1], "example-secret-"+strings.ToLower(m[1]))
			}
			config := string(out)
			secrets := t.TempDir()
			for _, m := range filePlaceholder.FindAllStringSubmatch(string(data), -1) {
				tmp := filepath.Join(secrets, filepath.Base(m[1]))
				if err := os.WriteFile(tmp, []byte("example-secret-"+filepath.Base(m[1])+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				config = strings.ReplaceAll(config, "{file."+m[1]+"}", "{file."+filepath.ToSlash(tmp)+"}")
			}
			var cfg caddy.Config
			if err := json.Unmarshal([]byte(config), &cfg); err != nil {
				t.Fatal(err)
			}
			if err := caddy.Validate(&cfg); err != nil {
				t.Fatalf("validating: %v", err)
			}
		})
	}
}

// TestExamplesKeepSecretsOut checks that no example puts a secret in the
// adapted config: every secret is an {env.…} or {file.…} placeholder.
func TestExamplesKeepSecretsOut(t *testing.T) {
	files, err := filepath.Glob("../examples/caddyfiles/*.Caddyfile")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example Caddyfiles: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(strings.NewReader(string(data)))
			for line := 1; sc.Scan(); line++ {
				fields := strings.Fields(sc.Text())
				if len(fields) < 2 || fields[0] != "secret" {
					continue
				}
				for _, s := range fields[1:] {
					if !strings.HasPrefix(s, "{env.") && !strings.HasPrefix(s, "{file.") {
						t.Errorf("line %d: secret %q is not an {env.…} or {file.…} placeholder", line, s)
					}
				}
			}
		})
	}
}

// dockerInstruction is one instruction of a Dockerfile, continuation
// lines joined.
type dockerInstruction struct {
	cmd  string // upper case
	args string
}

func parseDockerfile(t *testing.T, path string) []dockerInstruction {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstruction
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// TestDockerfile checks the essentials of the Dockerfile, which cannot be
// built here: a Go build stage that builds ./caddy without cgo, a runtime
// stage that runs as a non-root user with /data as a volume, and the
// files it copies present and not excluded by .dockerignore.
func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, "../Dockerfile")
	var froms, runs, copies, users, volumes, exposes, envs []string
	var lastUser string
	stage := -1
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			froms = append(froms, in.args)
			stage++
			lastUser = ""
		case "RUN":
			runs = append(runs, in.args)
		case "COPY":
			copies = append(copies, in.args)
		case "USER":
			users = append(users, in.args)
			lastUser = in.args
		case "VOLUME":
			volumes = append(volumes, strings.Fields(in.args)...)
		case "EXPOSE":
			exposes = append(exposes, strings.Fields(in.args)...)
		case "ENV":
			envs = append(envs, strings.Fields(in.args)...)
		}
	}

	tests := []struct {
		name string
		ok   bool
		info any
	}{
		{name: "multi-stage, building with golang:1.26", ok: len(froms) >= 2 && strings.HasPrefix(froms[0], "golang:1.26") && strings.Contains(froms[0], " AS "), info: froms},
		{name: "runtime stage is not the Go image", ok: len(froms) >= 2 && !strings.HasPrefix(froms[len(froms)-1], "golang"), info: froms},
		{name: "builds ./caddy to /caddy without cgo", ok: slices.ContainsFunc(runs, func(r string) bool {
			return strings.Contains(r, "CGO_ENABLED=0") && strings.Contains(r, "go build") && strings.Contains(r, "-o /caddy ./caddy")
		}), info: runs},
		{name: "runtime copies the binary from the build stage", ok: slices.ContainsFunc(copies, func(c string) bool {
			return strings.HasPrefix(c, "--from=") && strings.Contains(c, "/caddy ")
		}), info: copies},
		{name: "runtime runs as a non-root user", ok: lastUser != "" && !isRootUser(lastUser), info: users},
		{name: "VOLUME /data", ok: slices.Contains(volumes, "/data"), info: volumes},
		{name: "XDG_DATA_HOME=/data and XDG_CONFIG_HOME=/config", ok: slices.Contains(envs, "XDG_DATA_HOME=/data") && slices.Contains(envs, "XDG_CONFIG_HOME=/config"), info: envs},
		{name: "EXPOSE 80 443 2019", ok: slices.Contains(exposes, "80") && slices.Contains(exposes, "443") && slices.Contains(exposes, "2019"), info: exposes},
		{name: "default Caddyfile copied", ok: slices.Contains(copies, "Caddyfile /etc/caddy/Caddyfile"), info: copies},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Errorf("not so in the Dockerfile: %v", tt.info)
			}
		})
	}
	if stage < 1 {
		t.Fatalf("want at least two stages, got %d", stage+1)
	}

	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(ignore), "\n") {
		if p := strings.TrimSpace(line); p != "" && !strings.HasPrefix(p, "#") {
			patterns = append(patterns, strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/"))
		}
	}
	for _, want := range []string{".git", "data", "**/node_modules"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	// the build needs these; a pattern that matches them breaks it
	for _, need := range []string{"go.mod", "go.sum", "Caddyfile", "caddy/main.go", "module/app.go", "store/badger/inbox.go", "relay/dispatcher.go", "store", "signature", "rules", "ingress"} {
		if _, err := os.Stat(filepath.Join("..", need)); err != nil {
			t.Errorf("the image needs %s: %v", need, err)
		}
		for _, p := range patterns {
			if ok, _ := filepath.Match(p, need); ok || strings.HasPrefix(need, p+"/") {
				t.Errorf(".dockerignore pattern %q excludes %s, which the build needs", p, need)
			}
		}
	}
}

func isRootUser(u string) bool {
	name, _, _ := strings.Cut(u, ":")
	return name == "root" || name == "0"
}

// TestSystemdUnit checks the hardening of the example unit and, where
// systemd-analyze is installed, runs `systemd-analyze verify` on it.
func TestSystemdUnit(t *testing.T) {
	const unitPath = "../examples/systemd/caddy-webhook-inbox.service"
	data, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	settings := make(map[string][]string)
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("not a key=value line: %q", line)
		}
		settings[k] = append(settings[k], v)
	}
	tests := []struct {
		key, want string
	}{
		{key: "User", want: "caddy"},
		{key: "ExecStart", want: "/usr/local/bin/caddy run --environ --config /etc/caddy/Caddyfile"},
		{key: "ExecReload", want: "/usr/local/bin/caddy reload --config /etc/caddy/Caddyfile --force"},
		{key: "EnvironmentFile", want: "-/etc/caddy/webhook-inbox.env"},
		{key: "StateDirectory", want: "caddy"},
		{key: "ProtectSystem", want: "strict"},
		{key: "NoNewPrivileges", want: "true"},
		{key: "PrivateTmp", want: "true"},
		{key: "AmbientCapabilities", want: "CAP_NET_BIND_SERVICE"},
		{key: "LimitNOFILE", want: "1048576"},
		{key: "TimeoutStopSec", want: "60s"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if !slices.Contains(settings[tt.key], tt.want) {
				t.Errorf("%s = %q, want %q", tt.key, settings[tt.key], tt.want)
			}
		})
	}
	if rw := strings.Join(settings["ReadWritePaths"], " "); !strings.Contains(rw, "/var/lib/caddy") {
		t.Errorf("ReadWritePaths %q does not cover the storage dir /var/lib/caddy", rw)
	}

	t.Run("systemd-analyze verify", func(t *testing.T) {
		analyze, err := exec.LookPath("systemd-analyze")
		if err != nil {
			testtool.Optional(t, "systemd-analyze is not installed; this optional check needs systemd")
		}
		// verify wants the executables to exist: point the unit at a stub
		dir := t.TempDir()
		stub := filepath.Join(dir, "caddy")
		if err := os.WriteFile(stub, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		unit := filepath.Join(dir, "caddy-webhook-inbox.service")
		text := strings.ReplaceAll(string(data), "/usr/local/bin/caddy", stub)
		if err := os.WriteFile(unit, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(analyze, "verify", "--man=no", unit)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
		}
		if len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify warns:\n%s", out)
		}
	})
}
