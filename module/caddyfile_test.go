package module

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the expected JSON of the Caddyfile golden tests")

// adapt turns a Caddyfile into JSON config.
func adapt(t *testing.T, caddyfile string) ([]byte, error) {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	return out, err
}

// TestCaddyfileAdapt runs the golden files in testdata/caddyfile_adapt: a
// Caddyfile, a line of dashes, then the expected JSON (or, for a config
// that must not adapt, a substring of the expected error). Run with
// -update to rewrite the JSON of the passing ones.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.SplitN(string(data), "----------", 2)
			if len(parts) != 2 {
				t.Fatalf("%s: missing ---------- separator", file)
			}
			input, expected := strings.TrimSpace(parts[0])+"\n", strings.TrimSpace(parts[1])
			out, err := adapt(t, input)
			if strings.HasPrefix(expected, "{") {
				if err != nil {
					t.Fatalf("adapting: %v", err)
				}
				got := indent(t, out)
				if *update {
					if err := os.WriteFile(file, []byte(strings.TrimSpace(parts[0])+"\n----------\n"+got+"\n"), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				if got != expected {
					t.Errorf("adapted JSON differs\n--- got\n%s\n--- want\n%s", got, expected)
				}
				return
			}
			if err == nil {
				t.Fatalf("expected an adapt error containing %q, got none", expected)
			}
			if !strings.Contains(err.Error(), expected) {
				t.Errorf("error %q does not contain %q", err, expected)
			}
		})
	}
}

func indent(t *testing.T, raw []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestProvisionErrors adapts valid Caddyfiles whose config must still fail
// to load, and checks the error, without opening any store: `caddy
// validate` runs exactly this.
func TestProvisionErrors(t *testing.T) {
	const targets = `{
	webhook_inbox {
		storage_dir %DATA%
		dedup_window 1h
		%APP%
		target app {
			url http://127.0.0.1:3000/hook
		}
	}
}
`
	tests := []struct {
		name    string
		app     string // an extra app option
		site    string
		env     map[string]string
		wantErr string
	}{
		{
			name:    "notify names an unknown target",
			app:     "notify pager",
			site:    "webhook_inbox { \n secret demo-secret-value\n}",
			wantErr: `notify: no target named "pager"`,
		},
		{
			name:    "secret placeholder resolves to nothing",
			site:    "webhook_inbox unicraft { \n secret {env.WEBHOOK_INBOX_TEST_UNSET}\n}",
			wantErr: "webhook_inbox unicraft: secret 1",
		},
		{
			name:    "storage_dir and storage both given",
			app:     "storage badger {\n dir %DATA%\n }",
			site:    "webhook_inbox { \n secret demo-secret-value\n}",
			wantErr: "storage_dir and storage",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "never-created")
			cf := strings.NewReplacer("%DATA%", dir, "%APP%", tt.app).Replace(targets) + ":8080 {\n" + tt.site + "\n}\n"
			err := validate(t, cf)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if secretLeak := "demo-secret-value"; strings.Contains(err.Error(), secretLeak) {
				t.Fatalf("error leaks the secret: %v", err)
			}
			if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
				t.Fatalf("validation touched the storage dir: %v", statErr)
			}
		})
	}
}

// TestCaddyfileErrorsNameTheLine checks the mistakes the Caddyfile
// adapter catches against the global block, so `caddy adapt` fails on them
// and the error names the file and line, as other parse errors do.
func TestCaddyfileErrorsNameTheLine(t *testing.T) {
	const global = `{
	webhook_inbox {
		dedup_window 1h
		target app {
			url http://127.0.0.1:3000/hook
		}
	}
}
:8080 {
`
	tests := []struct {
		name    string
		site    string
		wantErr string
	}{
		{name: "route names an unknown target", site: "webhook_inbox {\n secret s\n route `true` nope\n}",
			wantErr: `route: unknown target "nope"; the global webhook_inbox block defines app, at Caddyfile:12`},
		{name: "default names an unknown target", site: "webhook_inbox {\n secret s\n\n default app pager\n}",
			wantErr: `default: unknown target "pager"; the global webhook_inbox block defines app, at Caddyfile:13`},
		{name: "no global block, no targets", site: "webhook_inbox {\n secret s\n default app\n}",
			wantErr: `default: unknown target "app"`},
		{name: "no secret", site: "\nwebhook_inbox unicraft {\n default app\n}",
			wantErr: "webhook_inbox unicraft: at least one secret is required (secret {env.…}), at Caddyfile:11"},
		{name: "max_age longer than the dedup window", site: "webhook_inbox {\n secret s\n max_age 2h\n}",
			wantErr: "max_age 2h0m0s is longer than dedup_window 1h0m0s: a replayed event older than the window would be accepted again, at Caddyfile:12"},
		{name: "an unquoted rule gets a hint", site: "webhook_inbox {\n secret s\n route event.event == \"x\" app\n}",
			wantErr: "wrap it in backticks, `event.event == x app`"},
		{name: "an unquoted id gets a hint", site: "webhook_inbox {\n secret s\n id headers[\"X-Id\"] + \"x\"\n}",
			wantErr: "id takes one CEL expression, got 3 words: wrap it in backticks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf := global + tt.site + "\n}\n"
			if tt.name == "no global block, no targets" {
				cf = ":8080 {\n" + tt.site + "\n}\n"
			}
			_, err := adapt(t, cf)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("adapt error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestValidateDoesNotOpenStore checks that a valid config validates
// without creating or locking the storage directory.
func TestValidateDoesNotOpenStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	cf := "{\n webhook_inbox {\n storage_dir " + dir + "\n target app {\n url http://127.0.0.1:3000/\n }\n }\n}\n:8080 {\n webhook_inbox unicraft {\n secret demo-secret-value\n default app\n }\n}\n"
	if err := validate(t, cf); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("validate created the storage dir: %v", err)
	}
}

// TestQuickStartStaysLocal checks that the repo's root Caddyfile listens
// on loopback only (TCP and, through the same addresses, HTTP/3's UDP) and
// does not save its adapted config, demo secrets included, to disk.
func TestQuickStartStaysLocal(t *testing.T) {
	data, err := os.ReadFile("../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	out, err := adapt(t, string(data))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Admin struct {
			Listen string `json:"listen"`
			Config struct {
				Persist *bool `json:"persist"`
			} `json:"config"`
		} `json:"admin"`
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Listen []string `json:"listen"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if p := cfg.Admin.Config.Persist; p == nil || *p {
		t.Errorf("admin config persist is %v, want false (persist_config off)", p)
	}
	if !strings.HasPrefix(cfg.Admin.Listen, "localhost:") && !strings.HasPrefix(cfg.Admin.Listen, "127.0.0.1:") {
		t.Errorf("admin listens on %q, want loopback", cfg.Admin.Listen)
	}
	if len(cfg.Apps.HTTP.Servers) == 0 {
		t.Fatal("no servers")
	}
	for name, srv := range cfg.Apps.HTTP.Servers {
		if len(srv.Listen) == 0 {
			t.Errorf("server %s listens on every interface (no listen addresses)", name)
		}
		for _, addr := range srv.Listen {
			host := addr
			if i := strings.LastIndex(addr, ":"); i >= 0 {
				host = addr[:i]
			}
			host = strings.TrimPrefix(strings.TrimPrefix(host, "tcp/"), "udp/")
			if host != "127.0.0.1" && host != "[::1]" {
				t.Errorf("server %s listens on %q, want 127.0.0.1 or [::1] only", name, addr)
			}
		}
	}
}

// TestQuickStartCaddyfile checks that the repo's root Caddyfile, which
// `go run ./caddy run` picks up, adapts and validates.
func TestQuickStartCaddyfile(t *testing.T) {
	data, err := os.ReadFile("../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, string(data)); err != nil {
		t.Fatalf("validating the quick-start Caddyfile: %v", err)
	}
}

// validate adapts the Caddyfile cf (failing t if it does not adapt) and
// returns what `caddy validate` says of the result: provisioning without
// starting, so no store is opened.
func validate(t *testing.T, cf string) error {
	t.Helper()
	out, err := adapt(t, cf)
	if err != nil {
		t.Fatalf("adapting: %v", err)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	return caddy.Validate(&cfg)
}
