package projections

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// TestDecodeMatchesDomain checks the fast decoder against domain's own
// (encoding/json): whatever the input, both must read the same event, or
// both refuse it.
func TestDecodeMatchesDomain(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 9, 0, 0, 123456789, time.UTC)
	base := func(typ string, data any) domain.Event {
		return domain.Event{ID: "e1", Type: typ, At: at, Actor: domain.Actor{UserID: "u1", Role: domain.RoleSupport},
			CommandID: "c1", Aggregate: domain.ProfileKey("alice"), ProfileID: "alice", TicketID: "t1", Data: data}
	}
	events := []domain.Event{
		base(domain.TicketOpened, &domain.TicketOpenedData{Channel: domain.ChannelSMS}),
		base(domain.MessageReceived, &domain.MessageReceivedData{MessageID: "m1", ExternalID: "x", Channel: "sms", Phone: "+33612345678",
			Sealed: &domain.SealedBody{KeyID: "k", Nonce: []byte{1, 2, 3}, Ciphertext: []byte("\x00\xffsecret")}}),
		base(domain.ReplySent, &domain.ReplySentData{MessageID: "m2", Body: "plain reply"}),
		base(domain.ReplySent, &domain.ReplySentData{MessageID: "m3", Body: "line\nbreak, \"quotes\", <html> & é ✓"}),
		base(domain.NoteAdded, &domain.NoteAddedData{NoteID: "n1", Body: "called back, parcel at the neighbour's é ✓"}),
		base(domain.NoteAdded, &domain.NoteAddedData{NoteID: "n2", Body: "line\nbreak, \"quotes\", <html> & é"}),
		base(domain.ReplyStatusChanged, &domain.ReplyStatusChangedData{ReplyID: "m2", Status: domain.ReplyDelivered}),
		base(domain.ReplyStatusChanged, &domain.ReplyStatusChangedData{ReplyID: "m3", Status: domain.ReplyFailed, Reason: "carrier said no ✗"}),
		base(domain.ReplyStatusChanged, &domain.ReplyStatusChangedData{ReplyID: "m3", Status: domain.ReplyFailed, Reason: `"escaped"`}),
		base(domain.TicketAssigned, &domain.TicketAssignedData{AssigneeID: "u2"}),
		base(domain.TicketAssigned, &domain.TicketAssignedData{}),
		base(domain.TicketSnoozed, &domain.TicketSnoozedData{Until: at.Add(time.Hour)}),
		base(domain.TicketWoke, &domain.TicketWokeData{Reason: domain.WakeTimer}),
		base(domain.TicketMarkedRead, nil),
		base(domain.TicketClosed, &domain.TicketClosedData{Reason: domain.CloseProfileBlocked}),
		base(domain.MessagesErased, &domain.MessagesErasedData{MessageIDs: []string{"m1", "m4"}}),
		{ID: "e2", Type: domain.ProfileBlocked, At: at, Actor: domain.SystemTimer, Aggregate: domain.PhoneKey("+33612345678"),
			Data: &domain.ProfileBlockedData{Phone: "+33612345678"}},
		{ID: "e3", Type: domain.UserCreated, At: at, Actor: domain.SystemBootstrap, Aggregate: domain.UserKey("u9"),
			Data: &domain.UserCreatedData{UserID: "u9", Name: "Zoé", Role: domain.RoleOwner, TokenHash: "abc"}},
		{ID: "e4", Type: domain.WebhookCreated, At: at, Actor: domain.Actor{UserID: "u1", Role: domain.RoleOwner}, Aggregate: domain.WebhookKey("w1"),
			Data: &domain.WebhookCreatedData{WebhookID: "w1", URL: "https://example.com/h", Events: []string{"*"},
				Secret: &domain.SealedBody{KeyID: "k", Nonce: []byte{1}, Ciphertext: []byte{2}}}},
		{ID: "e5", Type: domain.WebhookRemoved, At: at, Actor: domain.Actor{UserID: "u1", Role: domain.RoleOwner}, Aggregate: domain.WebhookKey("w1"),
			Data: &domain.WebhookRemovedData{WebhookID: "w1"}},
	}
	var inputs []string
	for _, ev := range events {
		b, err := domain.MarshalEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(b))
		// What the engine writes takes the fast path.
		if env, ok := decodeEnvelope(b); !ok {
			t.Errorf("%s: not read by the fast path", b)
		} else if d, note := ev.Data.(*domain.NoteAddedData); note && !strings.ContainsAny(d.Body, "\"\n") && env.payload == nil {
			t.Errorf("%s: payload not read by the fast path", b)
		} else if _, plain := ev.Data.(*domain.TicketAssignedData); plain && env.payload == nil {
			t.Errorf("%s: payload not read by the fast path", b)
		} else if d, status := ev.Data.(*domain.ReplyStatusChangedData); status && !strings.Contains(d.Reason, `"`) && env.payload == nil {
			t.Errorf("%s: payload not read by the fast path", b)
		}
		var indented bytes.Buffer
		json.Indent(&indented, b, "", "  ")
		inputs = append(inputs, indented.String())
	}
	inputs = append(inputs,
		// Keys in another order: the payload comes before its type.
		`{"data":{"reason":"agent"},"type":"TicketWoke","at":"2026-03-02T09:00:00Z","aggregate":{"kind":"profile","id":"a"},"ticket_id":"t"}`,
		// Keys encoding/json matches regardless of case, unknown keys, nulls.
		`{"Type":"TicketWoke","at":"2026-03-02T09:00:00Z","data":{"reason":"agent"}}`,
		`{"type":"TicketWoke","at":"2026-03-02T09:00:00Z","data":{"Reason":"agent"}}`,
		`{"type":"TicketWoke","at":"2026-03-02T09:00:00Z","extra":[1,{"x":null}],"data":{"reason":"agent","more":true}}`,
		`{"type":"TicketWoke","at":"2026-03-02T09:00:00Z","ticket_id":null,"data":null}`,
		`{"type":"TicketWoke","type":"TicketClosed","at":"2026-03-02T09:00:00Z","data":{"reason":"x"}}`,
		`{"type":"MessageReceived","at":"2026-03-02T09:00:00Z","data":{"message_id":"m","sealed":null}}`,
		`{"type":"ReplyStatusChanged","at":"2026-03-02T09:00:00Z","ticket_id":"t","data":{"reply_id":"r","status":"failed","reason":null}}`,
		`{"type":"NoteAdded","at":"2026-03-02T09:00:00Z","ticket_id":"t","data":{"body":"before the id","note_id":"n"}}`,
		`{"type":"NoteAdded","at":"2026-03-02T09:00:00Z","ticket_id":"t","data":{"note_id":"n","body":null}}`,
		`{"type":"NoteAdded","at":"2026-03-02T09:00:00Z","ticket_id":"t","data":{"note_id":"n","body":"x","extra":[1]}}`,
		`{"type":"NoteAdded","at":"2026-03-02T09:00:00Z","ticket_id":"t","data":{"note_id":"n","body":5}}`,
		// Escapes and bytes that are not UTF-8.
		`{"type":"TicketWoke","at":"2026-03-02T09:00:00Z","ticket_id":"t\u0031","data":{"reason":"a\"b"}}`,
		"{\"type\":\"TicketWoke\",\"at\":\"2026-03-02T09:00:00Z\",\"ticket_id\":\"\xff\",\"data\":{}}",
		// Not events.
		`{"type":"TicketTeleported","at":"2026-03-02T09:00:00Z"}`,
		`{"type":"TicketWoke"}`,
		`{"type":"TicketWoke","at":"yesterday"}`,
		`{"type":"TicketWoke","at":"2026-03-02T09:00:00Z"} trailing`,
		`{"type":"TicketWoke","at":"2026-03-02T09:00:00Z","data":{"reason":"a}`,
		`{"type":"TicketWoke","at":"2026-03-02T09:00:00Z","data":{"reason":"\q"}}`,
		`{"type":"TicketWoke","at":"2026-03-02T09:00:00Z","data":{"reason":1}}`,
		`{"type":"TicketWoke","at":"2026-03-02T09:00:00Z","data":[01]}`,
		`{"type":"TicketSnoozed","at":"2026-03-02T09:00:00Z","data":{"until":"soon"}}`,
		`{"type":"MessageReceived","at":"2026-03-02T09:00:00Z","data":{"sealed":{"nonce":"!!"}}}`,
		`[]`, ``, `{`,
	)
	for _, in := range inputs {
		want, werr := domain.UnmarshalEvent([]byte(in))
		got, gerr := decode(eventstore.Entry{Seq: 7, Data: []byte(in)})
		if (werr == nil) != (gerr == nil) {
			t.Errorf("%s\n domain: %v\n views:  %v", in, werr, gerr)
			continue
		}
		if werr != nil {
			if !got.skip {
				t.Errorf("%s: refused but not skipped", in)
			}
			continue
		}
		if viewsIgnore(want.Type) {
			// Read as far as its type, skipped without error.
			if !got.skip || got.ev.Type != want.Type || got.ev.Data != nil {
				t.Errorf("%s: not skipped: %+v", in, got)
			}
			continue
		}
		if got.skip {
			t.Errorf("%s: skipped", in)
		}
		want.ID, want.CommandID, got.ev.ID, got.ev.CommandID = "", "", "", ""
		if !reflect.DeepEqual(got.ev, want) {
			t.Errorf("%s\n domain: %#v\n views:  %#v", in, want, got.ev)
		}
		if want.TicketID != "" {
			h, err := historyEntry(eventstore.Entry{Data: []byte(in)})
			if err != nil || strings.Contains(string(h.Data), "sealed") || !json.Valid(h.Data) || !json.Valid(h.Actor) || h.Type != want.Type {
				t.Errorf("%s: history %+v, err %v", in, h, err)
			}
		}
	}
	if _, err := decode(eventstore.Entry{Data: []byte(`{"type":"Future","at":"2026-03-02T09:00:00Z"}`)}); !errors.Is(err, errUnknownType) {
		t.Errorf("unknown type: %v", err)
	}
}
