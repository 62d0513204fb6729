package clustertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/natsauth"
)

// natsConf is the cluster configuration operators are given, used as is.
const natsConf = "../docs/cluster/nats-server.conf"

// engineUser is the one user of docs/cluster/nats-server.conf; every
// other client logs in through ticketd's auth callout.
const engineUser = "ticketd"

// natsReady is the line nats-server logs once it takes clients.
var natsReady = regexp.MustCompile(`Server is ready`)

// natsNode is one server of the cluster: its name, ports and store stay
// the same across a kill and a restart.
type natsNode struct {
	name                    string
	clientPort, clusterPort int
	storeDir                string
	proc                    *proc
}

// natsCluster is three nats-server processes, each started from
// natsConf with its own environment.
type natsCluster struct {
	bin       string
	nodes     []*natsNode
	passwords map[string]string // by user
	// The callout's key pair: the public key for the servers, the seed
	// for ticketd, as `ticketctl callout-key` prints them.
	calloutIssuer, calloutSeed string
}

// startNATSCluster starts the three servers and waits until JetStream has
// a meta leader.
func startNATSCluster(t *testing.T, bin string) *natsCluster {
	t.Helper()
	c := &natsCluster{bin: bin, passwords: map[string]string{}}
	c.passwords[engineUser] = randomHex(12)
	c.calloutIssuer, c.calloutSeed = calloutKey(t)
	ports := freePorts(t, 6)
	for i := range 3 {
		c.nodes = append(c.nodes, &natsNode{name: fmt.Sprintf("n%d", i+1),
			clientPort: ports[2*i], clusterPort: ports[2*i+1], storeDir: t.TempDir()})
	}
	for i := range c.nodes {
		c.start(t, i)
	}
	c.waitJetStream(t, c.URLs(engineUser), 60*time.Second)
	return c
}

// calloutKey is a fresh key pair for the auth callout, as `ticketctl
// callout-key` makes it.
func calloutKey(t *testing.T) (issuer, seed string) {
	t.Helper()
	kp, err := natsauth.NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	s, _ := kp.Seed()
	return pub, string(s)
}

// env is node i's environment for natsConf.
func (c *natsCluster) env(i int) []string {
	n := c.nodes[i]
	env := []string{
		"NATS_SERVER_NAME=" + n.name,
		fmt.Sprintf("NATS_LISTEN=127.0.0.1:%d", n.clientPort),
		fmt.Sprintf("NATS_CLUSTER_LISTEN=127.0.0.1:%d", n.clusterPort),
		"NATS_STORE_DIR=" + n.storeDir,
		"TICKETD_NATS_PASSWORD=" + c.passwords[engineUser],
		"NATS_CALLOUT_ISSUER=" + c.calloutIssuer,
	}
	// Every node lists all three routes, its own included, as operators
	// are told to.
	for j, o := range c.nodes {
		env = append(env, fmt.Sprintf("NATS_ROUTE_%d=nats-route://127.0.0.1:%d", j+1, o.clusterPort))
	}
	return env
}

// start starts node i and waits until it takes clients.
func (c *natsCluster) start(t *testing.T, i int) {
	t.Helper()
	n := c.nodes[i]
	n.proc = startProc(t, "nats-server "+n.name, c.env(i), c.bin, "-c", natsConf)
	if _, err := n.proc.stderr.match(natsReady, n.proc.exited, 30*time.Second); err != nil {
		t.Fatalf("nats-server %s not ready: %v\n%s", n.name, err, n.proc.stderr.tail(8<<10))
	}
}

// kill9 kills node i with SIGKILL and reaps it.
func (c *natsCluster) kill9(t *testing.T, i int) {
	t.Helper()
	c.nodes[i].proc.kill9(t)
}

// restart starts node i again on its store and ports, and waits until it
// is back in the cluster's JetStream.
func (c *natsCluster) restart(t *testing.T, i int) {
	t.Helper()
	c.start(t, i)
	c.waitJetStream(t, c.nodeURL(i, engineUser), 60*time.Second)
}

// URLs is the client URL list of every server, with user's credentials
// in each URL.
func (c *natsCluster) URLs(user string) string {
	urls := make([]string, len(c.nodes))
	for i := range c.nodes {
		urls[i] = c.nodeURL(i, user)
	}
	return strings.Join(urls, ",")
}

// PlainURLs is the client URL list without credentials.
func (c *natsCluster) PlainURLs() string {
	return c.URLs("")
}

func (c *natsCluster) nodeURL(i int, user string) string {
	u := url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", c.nodes[i].clientPort)}
	if user != "" {
		u.User = url.UserPassword(user, c.passwords[user])
	}
	return u.String()
}

// waitJetStream polls, through the servers of urls, until JetStream
// answers for the account, which takes a meta leader.
func (c *natsCluster) waitJetStream(t *testing.T, urls string, timeout time.Duration) {
	t.Helper()
	nc, err := engineConnect(urls, nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var last error
	waitFor(t, timeout, "a JetStream meta leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, last = js.AccountInfo(ctx)
		return last == nil
	}, func() string { return fmt.Sprint(last) })
}

// streamLeader returns the index of the node that leads stream.
func (c *natsCluster) streamLeader(t *testing.T, stream string) int {
	t.Helper()
	nc, err := engineConnect(c.URLs(engineUser))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	leader, why := -1, ""
	waitFor(t, 30*time.Second, "the leader of "+stream, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		info, err := js.Stream(ctx, stream)
		if err != nil {
			why = err.Error()
			return false
		}
		ci := info.CachedInfo()
		if ci.Cluster == nil || ci.Cluster.Leader == "" {
			why = "no leader yet"
			return false
		}
		if ci.Config.Replicas != 3 {
			t.Fatalf("%s has %d replicas, want 3", stream, ci.Config.Replicas)
		}
		for i, n := range c.nodes {
			if n.name == ci.Cluster.Leader {
				leader = i
				return true
			}
		}
		why = "unknown leader " + ci.Cluster.Leader
		return false
	}, func() string { return why })
	return leader
}

// engineConnect connects as the ticketd user, which may receive replies
// only under the engine's inbox prefix (eventstore.EngineInboxPrefix).
func engineConnect(urls string, opts ...nats.Option) (*nats.Conn, error) {
	return nats.Connect(urls, append(opts, nats.Name("clustertest"), nats.CustomInboxPrefix("_TB_ENGINE"))...)
}

// permissionViolations returns the lines where a server refused a
// client a subject: the users of natsConf must need none.
func (c *natsCluster) permissionViolations() []string {
	var found []string
	for _, n := range c.nodes {
		if n.proc == nil {
			continue
		}
		for _, l := range strings.Split(n.proc.stderr.String(), "\n") {
			if strings.Contains(l, "Publish Violation") || strings.Contains(l, "Subscription Violation") {
				found = append(found, n.name+": "+l)
			}
		}
	}
	return found
}

// freePorts returns n TCP ports free on loopback, held together so that
// they differ.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// waitFor polls cond until it holds or the timeout passes; why tells the
// last reason it did not.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, why func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s: %s", what, timeout, why())
		}
		<-tick.C
	}
}
