package eventstoretest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/eventstore"
)

// Message is one message of a batch for MustLeaveUncommittedBatch.
type Message struct {
	Subject string
	Data    []byte
}

// MustLeaveUncommittedBatch leaves at the end of the event log what a power
// loss during a commit leaves when batches are staged in memory: msgs as
// the first part of an atomic batch whose commit never came, and nothing
// to complete it from. It must run before the log is first opened: it
// creates the stream without DenyDelete, commits msgs plus one more
// message, and deletes that last one, the commit. It returns the
// positions of msgs; the next start of the server finds the batch.
func MustLeaveUncommittedBatch(tb testing.TB, srv *eventstore.Server, msgs []Message) (first, last uint64) {
	tb.Helper()
	if len(msgs) == 0 {
		tb.Fatal("an uncommitted batch needs at least one message")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := srv.EngineConnect(tb.Name() + "-uncommitted")
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: eventstore.EventsStream, Subjects: []string{"tb.ev.>"},
		Storage: jetstream.FileStorage, AllowAtomicPublish: true, AllowDirect: true})
	if err != nil {
		tb.Fatalf("create stream: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	start := info.State.LastSeq + 1
	all := append(append([]Message{}, msgs...), msgs[len(msgs)-1])
	var ack *nats.Msg
	for i, m := range all {
		out := nats.NewMsg(m.Subject)
		out.Data = m.Data
		out.Header.Set("Nats-Batch-Id", "uncommitted"+strconv.FormatUint(start, 10))
		out.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if i < len(all)-1 {
			if err := nc.PublishMsg(out); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		out.Header.Set("Nats-Batch-Commit", "1")
		if ack, err = nc.RequestMsgWithContext(ctx, out); err != nil {
			tb.Fatal(err)
		}
	}
	if !strings.Contains(string(ack.Data), `"count":`+strconv.Itoa(len(all))) {
		tb.Fatalf("batch not committed: %s", ack.Data)
	}
	commit := start + uint64(len(all)) - 1
	if err := st.DeleteMsg(ctx, commit); err != nil {
		tb.Fatalf("delete the commit: %v", err)
	}
	return start, commit - 1
}
