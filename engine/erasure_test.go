package engine_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// filesHolding returns the files under dir whose bytes contain any needle.
func filesHolding(t *testing.T, dir string, needles ...[]byte) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				hits = append(hits, path)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// TestBlockErasesForGood proves R6: after a block the customer's text is
// found nowhere: not through the engine, not after a full replay, not in
// any file under the data directory; the agent's reply stays.
func TestBlockErasesForGood(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.startEngine()
	nc := e.client()
	ctx := context.Background()
	secret := "my card number is 4970-" + newCommandID()
	agentText := "we will look into it " + newCommandID()

	r := mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"profile_id": "frank", "body": secret, "phone": "+33612345678"}))
	mustOK(t, send(t, nc, e.owner, "reply", map[string]any{"ticket_id": r.TicketID, "body": agentText}))
	mustOK(t, send(t, nc, e.owner, "snooze", map[string]any{"ticket_id": r.TicketID, "duration": "3h"}))

	// Before the block the text opens and its key is on disk: so the
	// checks below can fail.
	msg, msgSeq := findReceived(t, e, h)
	if body, err := h.engine.OpenBody(ctx, "frank", msg, msgSeq); err != nil || body != secret {
		t.Fatalf("before block: body %q, err %v", body, err)
	}
	secrets, err := h.log.Keys().Secrets(ctx, base64.RawURLEncoding.EncodeToString([]byte("frank")))
	if err != nil {
		t.Fatal(err)
	}
	var keyForms [][]byte
	for _, b := range secrets {
		keyForms = append(keyForms, b, []byte(base64.StdEncoding.EncodeToString(b)), []byte(hex.EncodeToString(b)))
	}
	if len(filesHolding(t, e.dir, keyForms...)) == 0 {
		t.Fatal("nothing that opens the text is on disk before the block; the check below would prove nothing")
	}

	mustOK(t, send(t, nc, e.owner, "block", map[string]any{"profile_id": "frank"}))

	if _, err := h.engine.OpenBody(ctx, "frank", msg, msgSeq); !errors.Is(err, eventstore.ErrErased) {
		t.Fatalf("after block the text still opens (err %v)", err)
	}
	// The block's KEK goes with the rotation the block starts.
	waitFor(t, "the erasure to complete", func() bool {
		state, err := h.engine.ErasureState(ctx, "frank")
		return err == nil && state == eventstore.ErasureComplete
	})
	tk, err := h.engine.Ticket(ctx, r.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status != domain.StatusClosed || tk.CloseReason != domain.CloseProfileBlocked || len(tk.Inbound) != 0 {
		t.Fatalf("blocked profile's ticket: %+v", tk)
	}

	// A fresh engine replaying the whole log cannot open it either.
	h.stop()
	fresh := e.startEngine()
	if _, err := fresh.engine.OpenBody(ctx, "frank", msg, msgSeq); !errors.Is(err, eventstore.ErrErased) {
		t.Fatalf("after replay the text opens (err %v)", err)
	}
	fresh.stop()
	e.srv.Shutdown()
	e.srv = nil

	if hits := filesHolding(t, e.dir, []byte(secret)); len(hits) > 0 {
		t.Fatalf("message text found on disk in %v", hits)
	}
	if hits := filesHolding(t, e.dir, keyForms...); len(hits) > 0 {
		t.Fatalf("what opened the text (key, sealed key or KEK) is still on disk in %v", hits)
	}
	// The agent's reply is not the customer's and stays in the log.
	if len(filesHolding(t, e.dir, []byte(agentText))) == 0 {
		t.Fatal("the agent's reply is gone from the log")
	}
}

func findReceived(t *testing.T, e *env, h *engineHandle) (*domain.MessageReceivedData, uint64) {
	t.Helper()
	for _, ev := range e.events(h.log) {
		if ev.Type == domain.MessageReceived {
			return ev.Data.(*domain.MessageReceivedData), ev.Seq
		}
	}
	t.Fatal("no MessageReceived in the log")
	return nil, 0
}
