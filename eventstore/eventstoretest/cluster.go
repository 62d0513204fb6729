package eventstoretest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a set of in-process NATS servers clustered with JetStream.
type Cluster struct {
	tb      testing.TB
	Servers []*server.Server
	opts    []*server.Options
}

// StartCluster starts n in-process NATS servers clustered with JetStream
// (file storage, fsync on every write), named n1..nN, and waits until
// JetStream has a meta leader. They shut down when the test ends.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	ports := FreePorts(tb, n+n)
	routes := make([]string, n)
	for i := range n {
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", ports[n+i])
	}
	c := &Cluster{tb: tb, Servers: make([]*server.Server, n)}
	for i := range n {
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       ports[i],
			JetStream:  true,
			StoreDir:   tb.TempDir(),
			SyncAlways: true,
			Cluster:    server.ClusterOpts{Name: "tb", Host: "127.0.0.1", Port: ports[n+i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
			NoSigs:     true,
		})
		c.Start(i)
	}
	nc, err := nats.Connect(c.URL())
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	WaitFor(tb, 30*time.Second, "a JetStream meta leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	// A meta leader is not enough: until it has heard from every peer it
	// places a replicated stream nowhere ("no suitable peers for
	// placement"). Ready means every peer current and a stream of n
	// replicas placed.
	WaitFor(tb, 30*time.Second, "every JetStream peer current", c.peersCurrent)
	WaitFor(tb, 30*time.Second, "a stream of every peer placed", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "TB_PLACEMENT_PROBE", Subjects: []string{"tb.placement.probe"},
			Storage: jetstream.MemoryStorage, Replicas: n}); err != nil {
			return false
		}
		return js.DeleteStream(ctx, "TB_PLACEMENT_PROBE") == nil
	})
	return c
}

// peersCurrent reports whether the meta leader counts every other server
// as a current, online peer.
func (c *Cluster) peersCurrent() bool {
	for _, s := range c.Servers {
		if !s.JetStreamIsLeader() {
			continue
		}
		jsz, err := s.Jsz(nil)
		if err != nil || jsz.Meta == nil || len(jsz.Meta.Replicas) != len(c.Servers)-1 {
			return false
		}
		for _, r := range jsz.Meta.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
		return true
	}
	return false
}

// Start starts server i (again, after Stop) on its ports and store, and
// waits until it takes connections.
func (c *Cluster) Start(i int) {
	c.tb.Helper()
	s, err := server.NewServer(c.opts[i])
	if err != nil {
		c.tb.Fatal(err)
	}
	c.Servers[i] = s
	go s.Start()
	c.tb.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		c.tb.Fatalf("server %s not ready", s.Name())
	}
}

// Stop shuts server i down and waits until it is gone.
func (c *Cluster) Stop(i int) {
	c.Servers[i].Shutdown()
	c.Servers[i].WaitForShutdown()
}

// URL returns the client URLs of the servers, comma separated.
func (c *Cluster) URL() string { return ClusterURL(c.Servers) }

// ClusterURL returns the client URLs of the servers, comma separated.
func ClusterURL(servers []*server.Server) string {
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.ClientURL()
	}
	return strings.Join(urls, ",")
}

// WaitFor polls cond until it holds, failing the test after timeout.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// FreePorts returns n TCP ports free on the loopback interface.
func FreePorts(tb testing.TB, n int) []int {
	tb.Helper()
	var lns []net.Listener
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports
}
