package clustertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/eventstore"
)

// TestClusterErasure blocks two customers on a three-process cluster under
// a steady write load, and scans every file of every node (and of ticketd)
// for what could open their texts: the profile key, its sealed record, the
// key-encryption key that sealed it (raw, hex and base64), and the texts
// themselves. The first block happens with every node up; the second with
// a node down, which must keep the erasure pending, by name, until it is
// back, and then leave nothing either.
func TestClusterErasure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nats-server processes and ticketd")
	}
	bins := buildBinaries(t)
	c := startNATSCluster(t, bins.natsServer)
	token := randomToken()
	td := startTicketd(t, bins.ticketd, "ticketd", c, token)
	owner := &apiClient{t: t, url: td.url, token: token}
	// A steady write load for the whole test, without blocks of its own.
	load := startLoad(t, bins.ticketctl, c, td, token, loadPlan{duration: 40 * time.Second, producers: 8,
		profiles: 100000, mix: "inbound=70,reply=10,mark_unread=10,close=10"})
	keys := openKeys(t, c)
	dirs := []string{td.dataDir}
	for _, n := range c.nodes {
		dirs = append(dirs, n.storeDir)
	}

	t.Run("every node up", func(t *testing.T) {
		profile, text := "erase-online-"+randomHex(4), "my card is 4970-"+randomHex(8)
		secrets := writeAndRead(t, owner, keys, profile, text)
		began := time.Now()
		owner.cmd("block", map[string]any{"profile_id": profile})
		waitErasure(t, owner, profile, 2*time.Minute)
		t.Logf("erasure complete on every node %v after the block, under load", time.Since(began).Round(time.Millisecond))
		assertNowhere(t, dirs, secrets, text)
	})

	t.Run("a node down during the block", func(t *testing.T) {
		profile, text := "erase-offline-"+randomHex(4), "my address is "+randomHex(8)
		secrets := writeAndRead(t, owner, keys, profile, text)
		down := 2
		// The node to stop must hold what opens the text, or its return
		// would prove nothing.
		waitFor(t, 30*time.Second, "the key on "+c.nodes[down].name, func() bool {
			return len(filesHolding([]string{c.nodes[down].storeDir}, secrets)) > 0
		}, func() string { return "not there yet" })
		c.kill9(t, down)
		owner.cmd("block", map[string]any{"profile_id": profile})
		var st erasureStatus
		waitFor(t, 2*time.Minute, "the erasure to wait for "+c.nodes[down].name, func() bool {
			st = owner.erasure()
			return st.Pending > 0 && strings.Contains(strings.Join(st.WaitingFor, " "), c.nodes[down].name)
		}, func() string { return stString(st) })
		if state := owner.profileErasure(profile); state != "pending" {
			t.Fatalf("erasure with %s down: %q, want pending", c.nodes[down].name, state)
		}
		t.Logf("pending while %s is down: %s", c.nodes[down].name, stString(st))
		if hits := filesHolding([]string{c.nodes[down].storeDir}, secrets); len(hits) == 0 {
			t.Fatalf("%s holds nothing of the key: the check after its return would prove nothing", c.nodes[down].name)
		}
		back := time.Now()
		c.restart(t, down)
		waitErasure(t, owner, profile, 2*time.Minute)
		t.Logf("erasure complete on every node %v after %s came back", time.Since(back).Round(time.Millisecond), c.nodes[down].name)
		assertNowhere(t, dirs, secrets, text)
	})

	s, err := load.wait(t, 5*time.Minute)
	t.Logf("the load beside: %d commands acknowledged in %.0f s (%.0f/s)", s.Acked, s.Duration, float64(s.Acked)/s.Duration)
	if err != nil || s.Acked == 0 || s.Lost+s.Unconfirmed+s.Duplicated+s.Unexpected+s.ViewsMismatch > 0 {
		t.Errorf("the load beside the erasures: %v: acked %d, lost %d, unconfirmed %d, duplicated %d, unexpected %d, views mismatched %d",
			err, s.Acked, s.Lost, s.Unconfirmed, s.Duplicated, s.Unexpected, s.ViewsMismatch)
	}
}

// writeAndRead writes a first message from profile and returns what opens
// it, read from the key store as the engine reads it.
func writeAndRead(t *testing.T, owner *apiClient, keys *eventstore.Keys, profile, text string) map[string][]byte {
	t.Helper()
	owner.cmd("inbound", map[string]any{"profile_id": profile, "body": text})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	secrets, err := keys.Secrets(ctx, base64.RawURLEncoding.EncodeToString([]byte(profile)))
	if err != nil {
		t.Fatal(err)
	}
	return secrets
}

// waitErasure waits until the profile's erasure is complete.
func waitErasure(t *testing.T, owner *apiClient, profile string, timeout time.Duration) {
	t.Helper()
	var state string
	waitFor(t, timeout, "the erasure of "+profile, func() bool {
		state = owner.profileErasure(profile)
		return state == "complete"
	}, func() string { return state + "; " + stString(owner.erasure()) })
}

// openKeys opens the key store as the engine does, to read what opens a
// customer's texts before the block.
func openKeys(t *testing.T, c *natsCluster) *eventstore.Keys {
	t.Helper()
	nc, err := engineConnect(c.URLs(engineUser))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := eventstore.OpenLog(ctx, nc, eventstore.LogConfig{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l.Keys()
}

// assertNowhere fails the test for every file under dirs that holds a
// form of the profile key, of the KEK that sealed it, or the text. The
// key's sealed record may linger where nats-server keeps deleted data (a
// Raft log until its next compaction, a replica that caught up from a
// snapshot): it opens for nobody without that KEK, and is only reported.
func assertNowhere(t *testing.T, dirs []string, secrets map[string][]byte, text string) {
	t.Helper()
	if len(secrets) != 3 {
		t.Fatalf("secrets %v: want the key, its sealed record and its KEK", keysOf(secrets))
	}
	for name, b := range map[string][]byte{"text": []byte(text), "key": secrets["key"], "kek": secrets["kek"]} {
		if hits := filesHolding(dirs, map[string][]byte{name: b}); len(hits) > 0 {
			t.Errorf("%s found in %v", name, hits)
		}
	}
	if hits := filesHolding(dirs, map[string][]byte{"sealed key": secrets["sealed key"]}); len(hits) > 0 {
		t.Logf("the sealed key record, useless without its KEK, lingers in %d file(s), e.g. %s", len(hits), hits[0])
	}
}

// forms returns the raw, hex and base64 forms of each secret.
func forms(secrets map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for name, b := range secrets {
		out[name+", raw"] = b
		out[name+", hex"] = []byte(hex.EncodeToString(b))
		out[name+", base64"] = []byte(base64.StdEncoding.EncodeToString(b))
	}
	return out
}

// filesHolding returns the files under dirs that hold any form of any
// secret, with what they hold.
func filesHolding(dirs []string, secrets map[string][]byte) []string {
	needles := forms(secrets)
	var hits []string
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil // removed while walking, or unreadable: nothing to hold
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil // removed while walking
			}
			for name, n := range needles {
				if bytes.Contains(b, n) {
					hits = append(hits, path+" ("+name+")")
				}
			}
			return nil
		})
	}
	sort.Strings(hits)
	return hits
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
