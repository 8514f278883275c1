package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// cliTestSecret must never show up in any output or error.
const cliTestSecret = "canary-cli-secret-9a8b7c"

// cliLockedBuffer is an output buffer a running command and the test can
// share.
type cliLockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *cliLockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *cliLockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// cliExec runs `caddy webhook <args>` in this process on a fresh command
// tree and returns what it printed and its error.
func cliExec(ctx context.Context, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	var out, errOut cliLockedBuffer
	err = cliExecTo(ctx, &out, &errOut, stdin, args...)
	return out.String(), errOut.String(), err
}

func cliExecTo(ctx context.Context, out, errOut io.Writer, stdin io.Reader, args ...string) error {
	root := &cobra.Command{Use: "webhook", SilenceErrors: true}
	cliBuildWebhookCommand(root)
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errOut)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	root.SetIn(stdin)
	return root.ExecuteContext(ctx)
}

func TestCommandRegistered(t *testing.T) {
	cmd, ok := caddycmd.Commands()["webhook"]
	if !ok {
		t.Fatal("caddy has no webhook command")
	}
	root := &cobra.Command{Use: "webhook"}
	cmd.CobraFunc(root)
	var names []string
	for _, c := range root.Commands() {
		names = append(names, c.Name())
	}
	want := []string{"delete", "event", "events", "pause", "replay", "resume", "send", "sign", "stats", "tail"}
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Fatalf("subcommands = %v, want %v", names, want)
	}
}

func TestCommandReplayFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantURI  string
		wantBody *adminapi.BulkReplay
		wantErr  string
	}{
		{name: "one event", args: []string{"evt_1"}, wantURI: "/webhook_inbox/events/evt_1/replay"},
		{name: "one event to a target", args: []string{"evt_1", "--target", "app"}, wantURI: "/webhook_inbox/events/evt_1/replay?target=app"},
		{name: "id is escaped", args: []string{"a/b c?d"}, wantURI: "/webhook_inbox/events/a%2Fb%20c%3Fd/replay"},
		// An ID two sources hold is two events: --source names one.
		{name: "one source's event", args: []string{"evt_1", "--source", "stripe"}, wantURI: "/webhook_inbox/events/evt_1/replay?source=stripe"},
		{name: "one source's event to a target", args: []string{"evt_1", "--source", "a&b", "--target", "app"},
			wantURI: "/webhook_inbox/events/evt_1/replay?source=a%26b&target=app"},
		// Dot segments are cleaned away by HTTP servers and clients ("replay
		// .." would become POST /webhook_inbox/replay): their dots are escaped.
		{name: "id . is escaped", args: []string{"."}, wantURI: "/webhook_inbox/events/%2E/replay"},
		{name: "id .. is escaped", args: []string{".."}, wantURI: "/webhook_inbox/events/%2E%2E/replay"},
		{name: "dots elsewhere are kept", args: []string{"..."}, wantURI: "/webhook_inbox/events/.../replay"},
		{name: "dots around an escaped slash are kept", args: []string{"a/../b"}, wantURI: "/webhook_inbox/events/a%2F..%2Fb/replay"},
		{name: "a literal %2E is escaped", args: []string{"%2E%2E"}, wantURI: "/webhook_inbox/events/%252E%252E/replay"},
		{
			name:     "dead letters",
			args:     []string{"--dead"},
			wantURI:  "/webhook_inbox/replay",
			wantBody: &adminapi.BulkReplay{Status: "dead"},
		},
		{
			name:     "dead letters filtered",
			args:     []string{"--dead", "--target", "app", "--filter", `event.event == "cost.exceeded"`, "--dry-run", "--rate", "5"},
			wantURI:  "/webhook_inbox/replay",
			wantBody: &adminapi.BulkReplay{Status: "dead", Target: "app", Filter: `event.event == "cost.exceeded"`, DryRun: true, Rate: 5},
		},
		{name: "neither", args: nil, wantErr: "give an event ID"},
		{name: "both", args: []string{"evt_1", "--dead"}, wantErr: "not both"},
		{name: "filter without dead", args: []string{"evt_1", "--filter", "true"}, wantErr: "--filter applies only with --dead"},
		{name: "dry run without dead", args: []string{"evt_1", "--dry-run"}, wantErr: "--dry-run applies only with --dead"},
		{name: "negative rate", args: []string{"--dead", "--rate", "-1"}, wantErr: "--rate -1"},
		{name: "source with dead", args: []string{"--dead", "--source", "stripe"}, wantErr: "--source applies to one event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := cliReplayCommand()
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			req, err := cliParseReplay(cmd.Flags(), cmd.Flags().Args())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.uri != tt.wantURI {
				t.Errorf("uri = %s, want %s", req.uri, tt.wantURI)
			}
			if (req.body == nil) != (tt.wantBody == nil) || req.body != nil && *req.body != *tt.wantBody {
				t.Errorf("body = %+v, want %+v", req.body, tt.wantBody)
			}
		})
	}
}

func TestCommandEventsQuery(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{name: "no filters", want: ""},
		{
			name: "every filter",
			args: []string{"--status", "dead", "--target", "app", "--source", "unicraft", "--type", "cost.exceeded", "--limit", "5", "--cursor", "abc"},
			want: "cursor=abc&limit=5&source=unicraft&status=dead&target=app&type=cost.exceeded",
		},
		{name: "values are escaped", args: []string{"--type", "a&b=c"}, want: "type=a%26b%3Dc"},
		{name: "orphaned", args: []string{"--status", "orphaned"}, want: "status=orphaned"},
		{name: "unknown status", args: []string{"--status", "lost"}, wantErr: `--status "lost"`},
		{name: "negative limit", args: []string{"--limit", "-1"}, wantErr: "--limit -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := cliEventsCommand()
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			q, err := cliEventsQuery(cmd.Flags(), true)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := q.Encode(); got != tt.want {
				t.Errorf("query = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCommandAdminAddress(t *testing.T) {
	dir := t.TempDir()
	caddyfile := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte("{\n\tadmin 127.0.0.1:4321\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "default", want: "localhost:2019"},
		{name: "address flag", args: []string{"--address", "127.0.0.1:3999"}, want: "127.0.0.1:3999"},
		{name: "from the config", args: []string{"--config", caddyfile, "--adapter", "caddyfile"}, want: "127.0.0.1:4321"},
		{name: "address wins over config", args: []string{"--config", caddyfile, "--address", "unix//run/caddy.sock"}, want: "unix//run/caddy.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := cliStatsCommand()
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			a, err := cliAdminFromFlags(cmd.Flags())
			if err != nil {
				t.Fatal(err)
			}
			if a.addr != tt.want {
				t.Errorf("address = %s, want %s", a.addr, tt.want)
			}
		})
	}
}

func TestCommandSign(t *testing.T) {
	body := []byte("{\"event\":\"request.completed\"}\n") // the newline is signed too
	file := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	want := signature.SignUniCraft([]byte(cliTestSecret), body) + "\n"
	tests := []struct {
		name    string
		args    []string
		stdin   []byte
		env     string
		wantErr string
	}{
		{name: "file", args: []string{"sign", "--secret", cliTestSecret, file}},
		{name: "stdin", args: []string{"sign", "--secret", cliTestSecret}, stdin: body},
		{name: "dash is stdin", args: []string{"sign", "--secret", cliTestSecret, "-"}, stdin: body},
		{name: "secret from the environment", args: []string{"sign", file}, env: cliTestSecret},
		{name: "no secret", args: []string{"sign", file}, wantErr: "a secret is required"},
		{name: "missing file", args: []string{"sign", "--secret", cliTestSecret, file + ".missing"}, wantErr: "reading body"},
		{name: "two files", args: []string{"sign", "--secret", cliTestSecret, file, file}, wantErr: "accepts at most 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(cliSecretEnv, tt.env)
			out, errOut, err := cliExec(t.Context(), bytes.NewReader(tt.stdin), tt.args...)
			if strings.Contains(out+errOut, cliTestSecret) || err != nil && strings.Contains(err.Error(), cliTestSecret) {
				t.Fatal("the secret was printed")
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out != want {
				t.Errorf("output = %q, want %q", out, want)
			}
		})
	}
}

// TestCommandHelpPointsAtREADME ends the help of `caddy webhook` and of
// each subcommand with its README section, not Caddy's footer (issue 16,
// item 6), and each section exists in README.md. The root is set up as
// caddycmd sets up its own: Caddy's footer on the root's help template.
func TestCommandHelpPointsAtREADME(t *testing.T) {
	const caddyFooter = "https://caddyserver.com/docs/command-line"
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for line := range strings.Lines(string(readme)) {
		if strings.HasPrefix(line, "#") {
			anchors[cliAnchor(strings.TrimSpace(strings.TrimLeft(line, "#")))] = true
		}
	}
	reg := caddycmd.Commands()["webhook"]
	for _, args := range [][]string{{"--help"}, {"send", "--help"}, {"sign", "--help"}, {"events", "--help"},
		{"event", "--help"}, {"replay", "--help"}, {"delete", "--help"}, {"stats", "--help"}, {"tail", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			root := &cobra.Command{Use: "caddy"}
			root.SetHelpTemplate(root.HelpTemplate() + "\nFull documentation is available at:\n" + caddyFooter + "\n")
			webhook := &cobra.Command{Use: "webhook " + reg.Usage, Short: reg.Short, Long: reg.Long}
			reg.CobraFunc(webhook)
			root.AddCommand(webhook)
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetArgs(append([]string{"webhook"}, args...))
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			section := "CLI"
			if args[0] != "--help" {
				section = "caddy webhook " + args[0]
			}
			want := "Full documentation is in README.md, section \"" + section + "\":\n" +
				cliDocsURL + "#" + cliAnchor(section) + "\n"
			if !strings.HasSuffix(out.String(), want) || strings.Contains(out.String(), caddyFooter) {
				t.Errorf("help ends:\n%s\nwant it to end with:\n%s", out.String()[max(0, out.Len()-300):], want)
			}
			if !anchors[cliAnchor(section)] {
				t.Errorf("README.md has no section %q (#%s)", section, cliAnchor(section))
			}
		})
	}
}
