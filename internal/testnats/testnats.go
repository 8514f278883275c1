// Package testnats runs real JetStream servers in the test's process, on
// 127.0.0.1 with their files in t.TempDir(): one server, or a cluster
// whose nodes route to each other (modelled on nats-server's
// jetstream_helpers_test.go), for the store/nats tests and the
// three-gateway tests in test/cluster. Each node keeps its ports and
// directory, so a stopped node restarts as itself. StartProcs runs the
// cluster as nats-server child processes instead, for kill -9 (proc.go).
package testnats

import (
	"context"
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

// Servers is a JetStream server or a cluster of them.
type Servers struct {
	t     testing.TB
	nodes []*node
}

type node struct {
	opts *server.Options
	srv  *server.Server
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts n nodes: one plain JetStream server when n is 1, a
// cluster routed to each other otherwise. It waits until JetStream
// answers and stops them all at the end of the test.
func Start(t testing.TB, n int) *Servers {
	t.Helper()
	ts := &Servers{t: t}
	dir := t.TempDir()
	clusterPorts := make([]int, n)
	for i := range clusterPorts {
		clusterPorts[i] = FreePort(t)
	}
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       FreePort(t),
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
		ts.nodes = append(ts.nodes, &node{opts: o})
	}
	for i := range ts.nodes {
		ts.Restart(i)
	}
	t.Cleanup(ts.StopAll)
	waitJetStream(t, ts.URLs()[0])
	return ts
}

// StartWith starts one server with the given options (authentication,
// say); its host, port, directory and logging are set here.
func StartWith(t testing.TB, o server.Options) *Servers {
	t.Helper()
	o.Host, o.Port, o.JetStream, o.StoreDir, o.NoLog, o.NoSigs = "127.0.0.1", FreePort(t), true, t.TempDir(), true, true
	ts := &Servers{t: t, nodes: []*node{{opts: &o}}}
	ts.Restart(0)
	t.Cleanup(ts.StopAll)
	return ts
}

// Len is the number of nodes.
func (ts *Servers) Len() int { return len(ts.nodes) }

// Restart starts node i again (or for the first time) with its ports and
// directory.
func (ts *Servers) Restart(i int) {
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

// Stop shuts node i down and waits until it is down.
func (ts *Servers) Stop(i int) {
	if srv := ts.nodes[i].srv; srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		ts.nodes[i].srv = nil
	}
}

// StopAll stops every node.
func (ts *Servers) StopAll() {
	for i := range ts.nodes {
		ts.Stop(i)
	}
}

// URLs are the client URLs of every node.
func (ts *Servers) URLs() []string {
	out := make([]string, len(ts.nodes))
	for i, nd := range ts.nodes {
		out[i] = fmt.Sprintf("nats://127.0.0.1:%d", nd.opts.Port)
	}
	return out
}

// waitJetStream polls until JetStream answers an account info request
// at url (in a cluster: a meta leader is elected).
func waitJetStream(t testing.TB, url string) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream not ready: %v", err)
		}
	}
}
