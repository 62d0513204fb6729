package projections

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
)

// purgeKey removes every record of a profile's key, tombstone included,
// bypassing the key store: what a reader would see of a key that a lagging
// replica has not applied, or of a key destroyed before tombstones.
func purgeKey(t *testing.T, e *env, profileID string) {
	t.Helper()
	ctx := testContext(t)
	st, err := e.log.JetStream().Stream(ctx, eventstore.KeysStream)
	if err != nil {
		t.Fatal(err)
	}
	subj := "tb.key.*." + base64.RawURLEncoding.EncodeToString([]byte(profileID))
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer collects log output written by the projector's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// counter returns a counter's value for one label value, 0 if absent.
func counter(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
			if label == "" && m.Gauge != nil {
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

// TestMissingKeyStopsTheViews: a customer message whose key cannot be read,
// with nothing in the log erasing it, stops the views at the position
// before it, loudly and with a metric; it is never dropped as if erased.
func TestMissingKeyStopsTheViews(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.inbound("kept", "hello")
	lost := e.inbound("lost", "my parcel is late")
	e.inbound("after", "a later message")
	purgeKey(t, e, "lost")

	var logs syncBuffer
	reg := prometheus.NewRegistry()
	// A log of its own: the engine's holds the key in its cache.
	l := eventstoretest.MustOpenLog(t, e.srv, eventstore.LogConfig{})
	v, err := OpenViews(testContext(t), filepath.Join(t.TempDir(), "views.db"), l,
		ProjectorConfig{Metrics: NewMetrics(reg), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	e.run(v)
	waitFor(t, "two failed attempts", func() bool {
		return counter(t, reg, "ticketbus_projector_failures_total", failKeyMissing) >= 2
	})
	if pos := v.Projector().Position(); pos >= lost.Position {
		t.Fatalf("views at %d, past the message at %d whose key is missing", pos, lost.Position)
	}
	if got := counter(t, reg, "ticketbus_projector_stalled", ""); got != 1 {
		t.Errorf("ticketbus_projector_stalled = %v, want 1", got)
	}
	if out := logs.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "key missing") {
		t.Errorf("no error logged for the missing key:\n%s", out)
	}
	ctx, cancel := context.WithTimeout(testContext(t), 0)
	defer cancel()
	if err := v.WaitPosition(ctx, lost.Position); err == nil {
		t.Fatal("a read-your-writes wait for the message's position succeeded")
	}
}

// TestErasedWithoutTombstone: a blocked profile's message replays as erased
// even when its key left no record at all (a key destroyed before
// tombstones existed): the log's MessagesErased says so.
func TestErasedWithoutTombstone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.inbound("gone", "erase me")
	e.inbound("stays", "keep me")
	e.exec(domain.Block{BlockTarget: domain.BlockTarget{ProfileID: "gone"}})
	purgeKey(t, e, "gone")

	reg := prometheus.NewRegistry()
	l := eventstoretest.MustOpenLog(t, e.srv, eventstore.LogConfig{})
	v, err := OpenViews(testContext(t), filepath.Join(t.TempDir(), "views.db"), l, ProjectorConfig{Metrics: NewMetrics(reg), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	e.run(v)
	e.sync(v)
	d := mustTicket(t, v, res.TicketID, clockStart)
	if len(d.Messages) != 0 {
		t.Fatalf("the erased message is in the views: %+v", d.Messages)
	}
	if n := counter(t, reg, "ticketbus_projector_failures_total", failKeyMissing); n != 0 {
		t.Fatalf("%v key_missing failures for an erased message", n)
	}
	mustVerify(t, v)
}

// TestVerifyWhileABlockLandsAfterIt: the views stand at a position where a
// customer's message shows; a block after that position destroys its key.
// A replay up to the position cannot open the text any more, yet the
// views are right to show it there: Verify finds no difference.
func TestVerifyWhileABlockLandsAfterIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.inbound("late-block", "still here at the verified position")
	e.inbound("bystander", "hello")
	v := e.views(filepath.Join(t.TempDir(), "views.db"), ProjectorConfig{})
	if err := v.Projector().CatchUp(testContext(t), 0); err != nil {
		t.Fatal(err)
	}
	at := v.Position()
	e.exec(domain.Block{BlockTarget: domain.BlockTarget{ProfileID: "late-block"}})
	if d := mustTicket(t, v, res.TicketID, clockStart); len(d.Messages) != 1 {
		t.Fatalf("the views at %d lost the message before the block reached them: %+v", at, d.Messages)
	}
	diffs, err := v.Verify(testContext(t))
	if err != nil || len(diffs) != 0 || v.Position() != at {
		t.Fatalf("verify at %d (views at %d): %v %v", at, v.Position(), diffs, err)
	}
}
