package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The cluster scenarios' JetStream: clusterNodes nodes in this process,
// routed to each other on 127.0.0.1, each gateway's stream kept on all of
// them (replicas clusterReplicas).
const (
	clusterNodes    = 3
	clusterReplicas = 3
	natsPrefix      = "bench"
)

// natsCluster is JetStream servers running in this process. Their CPU
// counts as the bench's own (bench CPU), not caddy's.
type natsCluster struct {
	servers []*server.Server
	urls    []string
}

// startNATSCluster starts n JetStream nodes with their stores under dir,
// fsyncing every write (sync_interval: always) so an ack means the event
// is on disk, and waits until a meta leader answers. The internal/testnats
// helper does the same for tests but needs a testing.TB.
func startNATSCluster(ctx context.Context, dir string, n int) (*natsCluster, error) {
	ports := make([]int, 2*n) // client ports, then cluster ports
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	c := new(natsCluster)
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		o := &server.Options{
			ServerName: name,
			Host:       "127.0.0.1",
			Port:       ports[i],
			JetStream:  true,
			StoreDir:   filepath.Join(dir, "nats", name),
			SyncAlways: true,
			NoLog:      true,
			NoSigs:     true,
		}
		if n > 1 {
			o.Cluster = server.ClusterOpts{Name: "bench", Host: "127.0.0.1", Port: ports[n+i]}
			for j := range n {
				if j != i {
					o.Routes = append(o.Routes, &url.URL{Scheme: "nats", Host: "127.0.0.1:" + strconv.Itoa(ports[n+j])})
				}
			}
		}
		srv, err := server.NewServer(o)
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("nats node %s: %w", name, err)
		}
		srv.Start()
		c.servers = append(c.servers, srv)
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	for i, srv := range c.servers {
		if !srv.ReadyForConnections(10 * time.Second) {
			c.stop()
			return nil, fmt.Errorf("nats node n%d not ready", i+1)
		}
	}
	if err := c.waitJetStream(ctx); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// waitJetStream polls until JetStream answers an account info request,
// that is, until the cluster has elected a meta leader.
func (c *natsCluster) waitJetStream(ctx context.Context) error {
	nc, err := nats.Connect(c.urls[0], nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := js.AccountInfo(actx)
		cancel()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(deadline):
			return fmt.Errorf("JetStream not ready: %w", err)
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// stop shuts every node down and waits for it.
func (c *natsCluster) stop() {
	for _, srv := range c.servers {
		srv.Shutdown()
	}
	for _, srv := range c.servers {
		srv.WaitForShutdown()
	}
	c.servers = nil
}
