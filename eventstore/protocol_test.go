package eventstore_test

// These tests pin down what the server does with atomic batches, on which
// the commit path relies: if an upgrade changes it, they fail here first.

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
)

type rawAck struct {
	Error *struct {
		ErrCode int `json:"err_code"`
	} `json:"error"`
	Seq   uint64 `json:"seq"`
	Batch string `json:"batch"`
	Count int    `json:"count"`
}

// sendBatch publishes subjects as one atomic batch with a reply only on the
// first and last message, and returns the answers keyed "first"/"commit".
func sendBatch(t *testing.T, nc *nats.Conn, id string, msgs []*nats.Msg) map[string]*nats.Msg {
	t.Helper()
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox + ".*")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	for i, m := range msgs {
		if m.Header == nil {
			m.Header = nats.Header{}
		}
		m.Header.Set("Nats-Batch-Id", id)
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		switch i {
		case 0:
			m.Reply = inbox + ".first"
		case len(msgs) - 1:
			m.Header.Set("Nats-Batch-Commit", "1")
			m.Reply = inbox + ".commit"
		}
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]*nats.Msg{}
	for len(got) < 2 {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("answers so far %v: %v", got, err)
		}
		got[m.Subject[len(inbox)+1:]] = m
	}
	return got
}

func TestServerAtomicBatchProtocol(t *testing.T) {
	t.Parallel()
	srv := eventstoretest.MustOpenServer(t)
	l := eventstoretest.MustOpenLog(t, srv, eventstore.LogConfig{})
	nc, err := srv.EngineConnect("raw")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	if _, err := l.Append(ctx, []eventstore.Record{{Subject: "tb.ev.before", Data: []byte("x")}}); err != nil {
		t.Fatal(err)
	}

	// Messages between the first and the commit need no reply subject.
	var msgs []*nats.Msg
	for i := 0; i < 5; i++ {
		msgs = append(msgs, &nats.Msg{Subject: "tb.ev.raw" + strconv.Itoa(i), Data: []byte("d")})
	}
	got := sendBatch(t, nc, "b1", msgs)
	if first := got["first"]; len(first.Data) != 0 || first.Header.Get("Status") != "" {
		t.Fatalf("staging ack: header %v data %q, want an empty message", first.Header, first.Data)
	}
	var ack rawAck
	if err := json.Unmarshal(got["commit"].Data, &ack); err != nil {
		t.Fatal(err)
	}
	// seq is the last message's; the batch took seq-count+1..seq.
	if ack.Error != nil || ack.Batch != "b1" || ack.Count != 5 || ack.Seq != 6 {
		t.Fatalf("commit ack %s, want batch b1 count 5 seq 6", got["commit"].Data)
	}
	err = l.ReadRange(ctx, 2, 6, func(e eventstore.Entry) error {
		if want := "tb.ev.raw" + strconv.FormatUint(e.Seq-2, 10); e.Subject != want {
			t.Errorf("seq %d on %s, want %s", e.Seq, e.Subject, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// One failed check in the middle rejects the whole batch with 10071.
	msgs = []*nats.Msg{
		{Subject: "tb.ev.new1", Data: []byte("d")},
		{Subject: "tb.ev.before", Data: []byte("d"), Header: nats.Header{"Nats-Expected-Last-Subject-Sequence": []string{"0"}}},
		{Subject: "tb.ev.new2", Data: []byte("d")},
	}
	got = sendBatch(t, nc, "b2", msgs)
	ack = rawAck{}
	if err := json.Unmarshal(got["commit"].Data, &ack); err != nil {
		t.Fatal(err)
	}
	if ack.Error == nil || ack.Error.ErrCode != 10071 {
		t.Fatalf("commit answer %s, want err_code 10071", got["commit"].Data)
	}
	if last, err := l.LastSeq(ctx); err != nil || last != 6 {
		t.Fatalf("last seq %d (%v), want 6: a rejected batch must write nothing", last, err)
	}
}
