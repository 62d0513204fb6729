package clustertest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"testing"
	"time"
)

// ticketdHTTP is ticketd's startup line that gives its HTTP address.
var ticketdHTTP = regexp.MustCompile(`HTTP on (http://\S+)`)

// ticketd is one running engine.
type ticketd struct {
	name    string
	url     string // HTTP base URL
	dataDir string
	proc    *proc
}

// ticketdNATS is how ticketd logs in to the cluster, as docs/operations.md
// recommends: the plain URL list, and the credentials and the callout's
// seed in the environment, which apply to every server of the list.
func ticketdNATS(c *natsCluster) (args, env []string) {
	return []string{"-nats-url", c.PlainURLs()},
		[]string{"TICKETD_NATS_USER=" + engineUser, "TICKETD_NATS_PASSWORD=" + c.passwords[engineUser],
			"TICKETD_NATS_CALLOUT_SEED=" + c.calloutSeed}
}

// startTicketd starts an engine on the cluster, with three replicas and a
// data directory of its own, and waits until it serves HTTP. Every engine
// of a test gets the same bootstrap token: the owner is created once, in
// the shared log, and each engine must accept its token.
func startTicketd(t *testing.T, bin, name string, c *natsCluster, token string) *ticketd {
	t.Helper()
	args, env := ticketdNATS(c)
	dataDir := t.TempDir()
	args = append(args, "-replicas", "3", "-http", "127.0.0.1:0", "-data-dir", dataDir)
	env = append(env, "TICKETD_BOOTSTRAP_TOKEN="+token)
	p := startProc(t, name, env, bin, args...)
	// A first start creates the streams and waits for their replicas.
	m, err := p.stdout.match(ticketdHTTP, p.exited, 90*time.Second)
	if err != nil {
		t.Fatalf("%s serves no HTTP: %v\nstdout:\n%s\nstderr:\n%s", name, err, p.stdout.String(), p.stderr.tail(8<<10))
	}
	return &ticketd{name: name, url: m[1], dataDir: dataDir, proc: p}
}

// randomToken makes a bootstrap token in the engine's own format.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "tbk_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// lastPosition is the log's last position as td sees it, or 0 when it
// cannot tell (the test only reports it).
func (td *ticketd) lastPosition(token string) uint64 {
	req, err := http.NewRequest("GET", td.url+"/v1/log?limit=1", nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var page struct {
		LastPosition uint64 `json:"last_position"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&page)
	return page.LastPosition
}
