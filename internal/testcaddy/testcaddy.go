// Package testcaddy builds the repo's caddy binary and runs it as a real
// process on 127.0.0.1 for integration and fault tests: start, reload,
// SIGTERM, kill -9 and start again, each instance in its own temp directory.
package testcaddy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary returns the path of this module's caddy binary, built once for
// the source tree as it is: every test binary of a `go test ./...` run
// shares it (go build caches packages but not the linked executable, and
// linking caddy takes seconds). It lives under the system temp dir, keyed
// by a hash of the tree's non-test files; a file lock lets one test binary
// build it while the others wait.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		buildPath, buildErr = sharedBuild(root)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// sharedBuild builds ./caddy of root into the shared cache unless a build
// of the same tree is there.
func sharedBuild(root string) (string, error) {
	key, err := treeKey(root)
	if err != nil {
		return "", err
	}
	return CachedBuild(root, "webhook-inbox-caddy", key, "caddy", "./caddy")
}

// CachedBuild returns DIR/name, DIR being $TMPDIR/cache/key, building
// the Go package pkg there from root first unless a build is already
// there. A file lock in DIR lets one test binary build while the others
// wait; other keys' builds older than an hour are pruned when building.
func CachedBuild(root, cache, key, name, pkg string) (string, error) {
	cacheDir := filepath.Join(os.TempDir(), cache)
	dir := filepath.Join(cacheDir, key)
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	pruneBuilds(cacheDir, key)
	tmp := path + ".partial"
	cmd := exec.Command("go", "build", "-o", tmp, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %v\n%s", name, err, out)
	}
	return path, os.Rename(tmp, path)
}

// treeKey hashes the names and contents of the files a build reads: every
// file of the module but tests, test data, docs and what is not source
// (.git, node_modules, data folders).
func treeKey(root string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			switch name {
			case ".git", "node_modules", "testdata", "data", "docs", "__pycache__", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasSuffix(name, "_test.go") || strings.HasSuffix(name, ".md") {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > maxSourceFile {
			// A built binary (caddy/caddy) or a stray data file.
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashing the source tree: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

// maxSourceFile is the largest file treeKey reads; no source file comes
// near it.
const maxSourceFile = 4 << 20

// pruneBuilds removes other trees' builds older than an hour, so the
// cache holds about one binary per tree in use.
func pruneBuilds(cache, keep string) {
	entries, err := os.ReadDir(cache)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Name() == keep {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
			_ = os.RemoveAll(filepath.Join(cache, e.Name()))
		}
	}
}

// lockFile takes an exclusive lock on path, waiting for it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// ModuleRoot is the directory of this module's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("finding module root: not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Ports are the values a Caddyfile template can use as [[.Admin]],
// [[.HTTP]] and [[.Data]].
type Ports struct {
	Admin string // host:port of the admin endpoint
	HTTP  int    // port of the plain-HTTP site
	Data  string // a storage directory inside the instance's folder
}

// Instance is one caddy process.
type Instance struct {
	Ports
	Dir  string // the instance's folder (config, logs, data)
	Env  []string
	t    testing.TB
	bin  string
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
	runs int
}

// New prepares an instance running the Caddyfile template caddyfile; it
// is started by Start. env adds environment variables (KEY=value).
func New(t testing.TB, caddyfile string, env ...string) *Instance {
	t.Helper()
	dir := t.TempDir()
	in := &Instance{
		Ports: Ports{
			Admin: fmt.Sprintf("127.0.0.1:%d", FreePort(t)),
			HTTP:  FreePort(t),
			Data:  filepath.Join(dir, "data"),
		},
		Dir: dir,
		Env: env,
		t:   t,
		bin: Binary(t),
	}
	in.WriteConfig(caddyfile)
	t.Cleanup(func() {
		in.Kill()
		if t.Failed() {
			in.dumpLog()
		}
	})
	return in
}

// Start runs a new instance and waits until its site answers.
func Start(t testing.TB, caddyfile string, env ...string) *Instance {
	t.Helper()
	in := New(t, caddyfile, env...)
	in.Start()
	return in
}

// WriteConfig renders the template into the instance's Caddyfile.
func (in *Instance) WriteConfig(caddyfile string) {
	in.t.Helper()
	tpl, err := template.New("Caddyfile").Delims("[[", "]]").Parse(caddyfile)
	if err != nil {
		in.t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tpl.Execute(&buf, in.Ports); err != nil {
		in.t.Fatal(err)
	}
	if err := os.WriteFile(in.ConfigPath(), buf.Bytes(), 0o600); err != nil {
		in.t.Fatal(err)
	}
}

// ConfigPath is the instance's Caddyfile.
func (in *Instance) ConfigPath() string { return filepath.Join(in.Dir, "Caddyfile") }

// URL returns the plain-HTTP site URL of path.
func (in *Instance) URL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", in.HTTP, path)
}

// Start runs the process and waits until the admin endpoint and the site
// port accept connections.
func (in *Instance) Start() {
	in.t.Helper()
	if in.cmd != nil {
		in.t.Fatal("testcaddy: instance already running")
	}
	in.runs++
	logf, err := os.OpenFile(filepath.Join(in.Dir, "caddy.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		in.t.Fatal(err)
	}
	fmt.Fprintf(logf, "==== run %d ====\n", in.runs)
	cmd := exec.Command(in.bin, "run", "--config", in.ConfigPath(), "--adapter", "caddyfile")
	cmd.Dir = in.Dir
	cmd.Env = append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(in.Dir, "xdg-data"),
		"XDG_CONFIG_HOME="+filepath.Join(in.Dir, "xdg-config"),
	)
	cmd.Env = append(cmd.Env, in.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		in.t.Fatal(err)
	}
	in.cmd, in.log, in.done = cmd, logf, make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(in.done)
	in.waitReady()
}

func (in *Instance) waitReady() {
	in.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-in.done:
			in.t.Fatalf("testcaddy: caddy exited during start-up:\n%s", in.Log())
		default:
		}
		if in.listening() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.t.Fatalf("testcaddy: caddy not ready after 60s:\n%s", in.Log())
}

func (in *Instance) listening() bool {
	resp, err := http.Get("http://" + in.Admin + "/config/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", in.HTTP), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Kill sends SIGKILL (kill -9) and waits for the process to end.
func (in *Instance) Kill() { in.signal(syscall.SIGKILL) }

// Stop sends SIGTERM and waits for a graceful exit; it reports false if
// the process had not exited by itself after 30s and was killed.
func (in *Instance) Stop() bool { return in.signal(syscall.SIGTERM) }

// signal sends sig and waits for the process to end, killing it after
// 30s; it reports whether it ended by itself.
func (in *Instance) signal(sig syscall.Signal) bool {
	if in.cmd == nil {
		return true
	}
	_ = in.cmd.Process.Signal(sig)
	exited := true
	select {
	case <-in.done:
	case <-time.After(30 * time.Second):
		exited = false
		_ = in.cmd.Process.Kill()
		<-in.done
	}
	in.log.Close()
	in.cmd = nil
	return exited
}

// Reload rewrites the Caddyfile from the template and loads it through
// the admin API (what `caddy reload` does); it returns the admin error.
func (in *Instance) Reload(caddyfile string) error {
	in.t.Helper()
	in.WriteConfig(caddyfile)
	body, err := os.ReadFile(in.ConfigPath())
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+in.Admin+"/load", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	// a reload with an unchanged config is skipped unless forced
	req.Header.Set("Cache-Control", "must-revalidate")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(resp.Body)
		return fmt.Errorf("reload: %s: %s", resp.Status, msg.String())
	}
	return nil
}

// Log returns everything the process has written so far.
func (in *Instance) Log() string {
	b, _ := os.ReadFile(filepath.Join(in.Dir, "caddy.log"))
	return string(b)
}

func (in *Instance) dumpLog() {
	log := in.Log()
	const max = 20000
	if len(log) > max {
		log = "...\n" + log[len(log)-max:]
	}
	in.t.Logf("caddy log (%s):\n%s", in.Dir, log)
}
