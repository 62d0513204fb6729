package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// Delivery is the JSON body a webhook receives.
type Delivery struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	At        time.Time       `json:"at"`
	Position  uint64          `json:"position"`
	TicketID  string          `json:"ticket_id"`
	ProfileID string          `json:"profile_id"`
	Actor     json.RawMessage `json:"actor"`
	// Data is MessageData for MessageReceived, ReplyData for ReplySent,
	// and the event's own stored data for every other type.
	Data json.RawMessage `json:"data"`
}

// MessageData is the data of a MessageReceived delivery. Body is left out
// and Erased set when the message was erased before it was delivered.
type MessageData struct {
	MessageID  string `json:"message_id"`
	ExternalID string `json:"external_id,omitempty"`
	Channel    string `json:"channel,omitempty"`
	Phone      string `json:"phone,omitempty"`
	Body       string `json:"body,omitempty"`
	Erased     bool   `json:"erased,omitempty"`
}

// ReplyData is the data of a ReplySent delivery: the reply and where it
// must go.
type ReplyData struct {
	ReplyID string `json:"reply_id"`
	Body    string `json:"body"`
	Channel string `json:"channel"`
	Phone   string `json:"phone"`
}

// envelope is an event as stored in the log, its data left undecoded: the
// relay passes on the data of types it has no business reading as stored.
type envelope struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	At        time.Time       `json:"at"`
	Actor     json.RawMessage `json:"actor"`
	ProfileID string          `json:"profile_id"`
	TicketID  string          `json:"ticket_id"`
	Data      json.RawMessage `json:"data"`
}

func decodeEnvelope(b []byte) (envelope, error) {
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return envelope{}, fmt.Errorf("decode event: %w", err)
	}
	if e.ID == "" || e.Type == "" {
		return envelope{}, errors.New("decode event: no id or type")
	}
	return e, nil
}

// lane is the key of the event's lane: its ticket, or its profile for an
// event of no ticket.
func (e envelope) lane() string {
	if e.TicketID != "" {
		return "t:" + e.TicketID
	}
	return "p:" + e.ProfileID
}

// replyID returns the id of a ReplySent's reply.
func (e envelope) replyID() string {
	var d domain.ReplySentData
	_ = json.Unmarshal(e.Data, &d)
	return d.MessageID
}

// buildBody returns the JSON delivered for the event e at position seq.
// Texts are read now, at delivery time, and never kept: a message erased
// since the last attempt goes out without its text.
func buildBody(ctx context.Context, eng Engine, e envelope, seq uint64) ([]byte, error) {
	d := Delivery{ID: e.ID, Type: e.Type, At: e.At.UTC(), Position: seq, TicketID: e.TicketID,
		ProfileID: e.ProfileID, Actor: e.Actor, Data: e.Data}
	if len(d.Actor) == 0 || string(d.Actor) == "null" {
		d.Actor = json.RawMessage(`{}`)
	}
	if len(d.Data) == 0 || string(d.Data) == "null" {
		d.Data = json.RawMessage(`{}`)
	}
	var data any
	switch e.Type {
	case domain.MessageReceived:
		var m domain.MessageReceivedData
		if err := json.Unmarshal(e.Data, &m); err != nil {
			return nil, permanent(fmt.Errorf("decode %s data: %w", e.Type, err))
		}
		out := MessageData{MessageID: m.MessageID, ExternalID: m.ExternalID, Channel: m.Channel, Phone: m.Phone}
		body, err := eng.OpenBody(ctx, e.ProfileID, &m, seq)
		switch {
		case errors.Is(err, eventstore.ErrErased):
			out.Erased = true
		case err != nil:
			return nil, fmt.Errorf("open message %s: %w", m.MessageID, err)
		default:
			out.Body = body
		}
		data = out
	case domain.ReplySent:
		var r domain.ReplySentData
		if err := json.Unmarshal(e.Data, &r); err != nil {
			return nil, permanent(fmt.Errorf("decode %s data: %w", e.Type, err))
		}
		channel, phone, err := eng.ReplyRoute(ctx, e.TicketID)
		if err != nil {
			return nil, engineError(fmt.Errorf("route of ticket %s: %w", e.TicketID, err))
		}
		data = ReplyData{ReplyID: r.MessageID, Body: r.Body, Channel: channel, Phone: phone}
	}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return nil, err
		}
		d.Data = b
	}
	return json.Marshal(d)
}

// engineError marks as permanent an engine's answer that no retry can
// change: a request it finds invalid, or a thing it does not know.
func engineError(err error) error {
	if errors.Is(err, domain.ErrInvalid) || errors.Is(err, domain.ErrNotFound) {
		return permanent(err)
	}
	return err
}
