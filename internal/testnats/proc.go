package testnats

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
)

// The nats-server binary for Procs: built once per test binary from the
// nats-server module this module requires, and shared by every test binary
// through a cache under the system temp dir, keyed by that module's version
// and the Go toolchain, with a file lock so one builds while the others
// wait (as testcaddy does for caddy).
var (
	binOnce sync.Once
	binPath string
	binErr  error
)

const serverModule = "github.com/nats-io/nats-server/v2"

// Binary returns the path of the nats-server binary. A build failure
// fails the test under CI=true and skips it otherwise.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() { binPath, binErr = buildServer() })
	if binErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(binErr)
		}
		t.Skip(binErr)
	}
	return binPath
}

func buildServer() (string, error) {
	root, err := testcaddy.ModuleRoot()
	if err != nil {
		return "", err
	}
	list := exec.Command("go", "list", "-m", "-f", "{{.Path}}@{{.Version}} {{.Dir}}", serverModule)
	list.Dir = root
	ver, err := list.Output()
	if err != nil {
		return "", fmt.Errorf("finding %s: %w", serverModule, err)
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s/%s", ver, runtime.Version(), runtime.GOOS, runtime.GOARCH))
	return testcaddy.CachedBuild(root, "webhook-inbox-nats-server", hex.EncodeToString(sum[:])[:20], "nats-server", serverModule)
}

// Procs is a JetStream cluster whose nodes are nats-server child
// processes on 127.0.0.1, so a node can be killed with SIGKILL (kill -9)
// and started again from what it had written to disk. Every node syncs
// its files on each write (sync_interval: always).
type Procs struct {
	t     testing.TB
	bin   string
	nodes []*proc
}

type proc struct {
	name        string
	dir         string // config, log and store of the node
	port, mport int    // client and monitoring ports
	cmd         *exec.Cmd
	done        chan struct{}
	log         *os.File
	runs        int
}

// StartProcs writes a config file per node (random free ports, routes to
// the other nodes, JetStream in the node's directory), starts n nodes and
// waits until each is healthy and JetStream answers. Every process is
// killed at the end of the test.
func StartProcs(t testing.TB, n int) *Procs {
	t.Helper()
	ps := &Procs{t: t, bin: Binary(t)}
	base := t.TempDir()
	clusterPorts := make([]int, n)
	for i := range clusterPorts {
		clusterPorts[i] = FreePort(t)
	}
	for i := range n {
		nd := &proc{
			name:  fmt.Sprintf("n%d", i+1),
			dir:   filepath.Join(base, fmt.Sprintf("n%d", i+1)),
			port:  FreePort(t),
			mport: FreePort(t),
		}
		if err := os.MkdirAll(nd.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		var routes []string
		for j, p := range clusterPorts {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
			}
		}
		conf := fmt.Sprintf(`server_name: %s
listen: "127.0.0.1:%d"
http: "127.0.0.1:%d"
jetstream {
	store_dir: %q
	sync_interval: always
}
cluster {
	name: inbox
	listen: "127.0.0.1:%d"
	routes: [%s]
}
`, nd.name, nd.port, nd.mport, filepath.Join(nd.dir, "store"), clusterPorts[i], strings.Join(routes, ", "))
		if err := os.WriteFile(nd.conf(), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		ps.nodes = append(ps.nodes, nd)
	}
	t.Cleanup(func() {
		ps.KillAll()
		if t.Failed() {
			ps.dumpLogs()
		}
	})
	for i := range ps.nodes {
		ps.start(i)
	}
	for i := range ps.nodes {
		ps.WaitHealthy(i, 30*time.Second)
	}
	waitJetStream(t, ps.URLs()[0])
	return ps
}

func (nd *proc) conf() string { return filepath.Join(nd.dir, "nats.conf") }

// Len is the number of nodes.
func (ps *Procs) Len() int { return len(ps.nodes) }

// URLs are the client URLs of every node.
func (ps *Procs) URLs() []string {
	out := make([]string, len(ps.nodes))
	for i, nd := range ps.nodes {
		out[i] = fmt.Sprintf("nats://127.0.0.1:%d", nd.port)
	}
	return out
}

// Kill sends SIGKILL to node i and waits for the process to end.
func (ps *Procs) Kill(i int) {
	nd := ps.nodes[i]
	if nd.cmd == nil {
		return
	}
	_ = nd.cmd.Process.Kill()
	<-nd.done
	nd.log.Close()
	nd.cmd = nil
}

// KillAll kills every node that runs.
func (ps *Procs) KillAll() {
	for i := range ps.nodes {
		ps.Kill(i)
	}
}

// Restart starts node i again with its config and directory and waits
// until it is healthy (JetStream caught up with the cluster).
func (ps *Procs) Restart(i int) {
	ps.t.Helper()
	ps.start(i)
	ps.WaitHealthy(i, 30*time.Second)
}

func (ps *Procs) start(i int) {
	ps.t.Helper()
	nd := ps.nodes[i]
	if nd.cmd != nil {
		ps.t.Fatalf("testnats: node %s already running", nd.name)
	}
	nd.runs++
	logf, err := os.OpenFile(filepath.Join(nd.dir, "nats.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		ps.t.Fatal(err)
	}
	fmt.Fprintf(logf, "==== run %d ====\n", nd.runs)
	cmd := exec.Command(ps.bin, "-c", nd.conf())
	cmd.Dir = nd.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		ps.t.Fatal(err)
	}
	nd.cmd, nd.log, nd.done = cmd, logf, make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(nd.done)
}

// WaitHealthy polls node i's /healthz until it answers 200 or d passes.
func (ps *Procs) WaitHealthy(i int, d time.Duration) {
	ps.t.Helper()
	nd := ps.nodes[i]
	c := &http.Client{Timeout: time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", nd.mport)
	deadline := time.Now().Add(d)
	for {
		select {
		case <-nd.done:
			ps.t.Fatalf("testnats: node %s exited:\n%s", nd.name, nd.logTail())
		default:
		}
		if resp, err := c.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			ps.t.Fatalf("testnats: node %s not healthy after %s", nd.name, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (nd *proc) logTail() string {
	b, _ := os.ReadFile(filepath.Join(nd.dir, "nats.log"))
	const max = 8000
	if len(b) > max {
		b = append([]byte("...\n"), b[len(b)-max:]...)
	}
	return string(b)
}

func (ps *Procs) dumpLogs() {
	for _, nd := range ps.nodes {
		ps.t.Logf("nats-server %s log (%s):\n%s", nd.name, nd.dir, nd.logTail())
	}
}
