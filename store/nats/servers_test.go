package nats

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// testServers is a JetStream server, or a cluster of them, run in this
// process on 127.0.0.1 with their files in t.TempDir(). Each node keeps
// its ports and directory, so a stopped node restarts as itself.
type testServers struct {
	t     testing.TB
	nodes []*testNode
}

type testNode struct {
	opts *server.Options
	srv  *server.Server
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServers starts n nodes: one plain JetStream server when n is 1, a
// cluster routed to each other otherwise. It waits until JetStream
// answers and stops them all at the end of the test.
func startServers(t testing.TB, n int) *testServers {
	t.Helper()
	ts := &testServers{t: t}
	dir := t.TempDir()
	clusterPorts := make([]int, n)
	for i := range clusterPorts {
		clusterPorts[i] = freePort(t)
	}
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       freePort(t),
			JetStream:  true,
			StoreDir:   filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			NoLog:      true,
			NoSigs:     true,
		}
		if n > 1 {
			o.Cluster = server.ClusterOpts{Name: "inbox", Host: "127.0.0.1", Port: clusterPorts[i]}
			for j, p := range clusterPorts {
				if j != i {
					o.Routes = append(o.Routes, &url.URL{Scheme: "nats", Host: "127.0.0.1:" + strconv.Itoa(p)})
				}
			}
		}
		ts.nodes = append(ts.nodes, &testNode{opts: o})
	}
	for i := range ts.nodes {
		ts.start(i)
	}
	t.Cleanup(ts.stopAll)
	ts.waitJetStream()
	return ts
}

func (ts *testServers) start(i int) {
	ts.t.Helper()
	nd := ts.nodes[i]
	srv, err := server.NewServer(nd.opts)
	if err != nil {
		ts.t.Fatalf("node %d: %v", i, err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		ts.t.Fatalf("node %d not ready", i)
	}
	nd.srv = srv
}

// stop shuts node i down and waits until it is down.
func (ts *testServers) stop(i int) {
	if srv := ts.nodes[i].srv; srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		ts.nodes[i].srv = nil
	}
}

func (ts *testServers) stopAll() {
	for i := range ts.nodes {
		ts.stop(i)
	}
}

// urls are the client URLs of every node.
func (ts *testServers) urls() []string {
	out := make([]string, len(ts.nodes))
	for i, nd := range ts.nodes {
		out[i] = fmt.Sprintf("nats://127.0.0.1:%d", nd.opts.Port)
	}
	return out
}

// waitJetStream polls until JetStream answers an account info request
// (in a cluster: a meta leader is elected).
func (ts *testServers) waitJetStream() {
	ts.t.Helper()
	nc, err := nats.Connect(ts.urls()[0], nats.MaxReconnects(-1))
	if err != nil {
		ts.t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		ts.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := contextTimeout(time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("JetStream not ready: %v", err)
		}
	}
}
