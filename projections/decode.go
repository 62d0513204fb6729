package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// item is one log entry, decoded on the reading goroutine so that JSON
// work and decryption overlap with the SQLite writes of the previous batch.
type item struct {
	seq uint64
	ev  domain.Event
	// actor and data are the JSON of the event's audit history entry.
	actor, data string
	// body is an inbound message's text; erased is set when it can no
	// longer be opened, openErr when the key store could not be read.
	body    string
	erased  bool
	openErr error
	// skip marks an entry the views do not use (a void position, a type
	// they do not know, or one that cannot be read): its position still
	// counts as applied.
	skip bool
}

var errUnknownType = errors.New("unknown event type")

// decode reads one entry. It mirrors domain.UnmarshalEvent but tells an
// unknown type (a newer writer; skipped quietly) from a malformed event,
// and keeps the payload's raw JSON.
func decode(e eventstore.Entry) (item, error) {
	if e.Void {
		return item{seq: e.Seq, skip: true}, nil
	}
	it, _, err := decodeFull(e, true)
	return it, err
}

// viewsIgnore tells the event types no view shows: webhooks are the
// engine's own business, and their payload is not even read.
func viewsIgnore(typ string) bool {
	return typ == domain.WebhookCreated || typ == domain.WebhookRemoved
}

// historyEntry decodes one event of the log as an auditor sees it.
func historyEntry(e eventstore.Entry) (HistoryEntry, error) {
	it, env, err := decodeFull(e, false)
	if err != nil {
		return HistoryEntry{}, err
	}
	if err := it.historyJSON(env); err != nil {
		return HistoryEntry{}, err
	}
	return HistoryEntry{Position: e.Seq, Type: it.ev.Type, At: it.ev.At,
		Actor: json.RawMessage(it.actor), Data: json.RawMessage(it.data)}, nil
}

// decodeFull is decode, also returning the envelope's raw parts. For the
// projector (forViews), an event of a type the views ignore is skipped
// without its payload being decoded.
func decodeFull(e eventstore.Entry, forViews bool) (item, envelope, error) {
	env, ok := decodeEnvelope(e.Data)
	if !ok {
		var raw struct {
			domain.Event
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(e.Data, &raw); err != nil {
			return item{seq: e.Seq, skip: true}, env, fmt.Errorf("decode event: %w", err)
		}
		env = envelope{ev: raw.Event, data: raw.Data}
	}
	ev := env.ev
	data, known := domain.NewEventData(ev.Type)
	if !known {
		return item{seq: e.Seq, skip: true}, env, fmt.Errorf("%w %q", errUnknownType, ev.Type)
	}
	if forViews && viewsIgnore(ev.Type) {
		return item{seq: e.Seq, ev: ev, skip: true}, env, nil
	}
	if env.payload != nil {
		data = env.payload
	} else if data != nil && len(env.data) > 0 && !bytes.Equal(env.data, []byte("null")) && !decodePayload(env.data, data) {
		// Start again from a zero payload: the fast path may have filled
		// part of it.
		data, _ = domain.NewEventData(ev.Type)
		if err := json.Unmarshal(env.data, data); err != nil {
			return item{seq: e.Seq, skip: true}, env, fmt.Errorf("decode event %s data: %w", ev.Type, err)
		}
	}
	if ev.At.IsZero() {
		return item{seq: e.Seq, skip: true}, env, fmt.Errorf("decode event %s: no time", ev.Type)
	}
	ev.Data = data
	ev.At = ev.At.UTC()
	return item{seq: e.Seq, ev: ev}, env, nil
}

// historyJSON prepares the event's audit entry. An inbound message is
// recorded without its sealed text: the views hold no ciphertext, and the
// plaintext is kept only in messages, where a block deletes it.
func (it *item) historyJSON(env envelope) error {
	actor := env.actor
	if actor == nil {
		var err error
		if actor, err = json.Marshal(it.ev.Actor); err != nil {
			return fmt.Errorf("history of %d: %w", it.seq, err)
		}
	}
	data := env.data
	if d, ok := it.ev.Data.(*domain.MessageReceivedData); ok {
		c := *d
		c.Sealed = nil
		var err error
		if data, err = json.Marshal(&c); err != nil {
			return fmt.Errorf("history of %d: %w", it.seq, err)
		}
	}
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		data = []byte("{}")
	}
	it.actor, it.data = string(actor), string(data)
	return nil
}

// open decrypts an inbound message's text. A key destroyed by a block
// marks the text erased: a MessagesErased for the message follows in the
// log, so a replay made after the block ends with no row for it, exactly
// like the live views that had it and then deleted it.
func (it *item) open(ctx context.Context, log *eventstore.Log, v *verifying) {
	d, ok := it.ev.Data.(*domain.MessageReceivedData)
	if !ok || it.skip {
		return
	}
	body, err := eventstore.OpenBody(ctx, log, it.ev.ProfileID, d, it.seq)
	switch {
	case errors.Is(err, eventstore.ErrErased) && v != nil:
		it.body, it.erased, it.openErr = v.textAt(ctx, log, it.ev.ProfileID, d.MessageID, it.seq)
	case errors.Is(err, eventstore.ErrErased):
		it.erased = true
	case err != nil:
		it.openErr = fmt.Errorf("open message %s: %w", d.MessageID, err)
	default:
		it.body = body
	}
}

// verifying is what a replay made by Verify knows beyond the log: the
// position it verifies, and the live views' texts at that position.
type verifying struct {
	at   uint64
	text func(ctx context.Context, messageID string) (string, bool, error)
}

// textAt is the text of a message whose key is destroyed, as the views
// hold it at the verified position. A block after that position destroyed
// the key, so the replay cannot open the text the views rightly still
// show: it takes it from the live views, where the block's MessagesErased
// will delete it. Erased at or before the position, it is erased here too.
func (v *verifying) textAt(ctx context.Context, log *eventstore.Log, profileID, messageID string, seq uint64) (string, bool, error) {
	at, err := log.ErasedAt(ctx, profileID, messageID, seq)
	if err != nil {
		return "", false, fmt.Errorf("open message %s: %w", messageID, err)
	}
	if at != 0 && at <= v.at {
		return "", true, nil
	}
	body, ok, err := v.text(ctx, messageID)
	if err != nil {
		return "", false, fmt.Errorf("open message %s: %w", messageID, err)
	}
	return body, !ok, nil
}

// envelope is an event without its payload, with the raw JSON of its actor
// (nil when encoding/json read it) and of its payload, and the payload
// itself when it could be read on the way.
type envelope struct {
	ev      domain.Event
	actor   []byte
	data    []byte
	payload any
}

// maxDepth bounds nesting in skipped values, as encoding/json does.
const maxDepth = 10000

type scanner struct {
	b     []byte
	i     int
	depth int
}

// decodeEnvelope reads an event's envelope.
func decodeEnvelope(b []byte) (env envelope, ok bool) {
	s := &scanner{b: b}
	ev := &env.ev
	ok = s.object(func(key []byte) bool {
		switch string(key) {
		case "id", "command_id":
			// Not used by the views: checked, not kept.
			_, ok := s.raw()
			return ok
		case "type":
			v, ok := s.raw()
			ev.Type = intern(v, eventTypes)
			return ok
		case "at":
			v, ok := s.raw()
			return ok && ev.At.UnmarshalText(v) == nil
		case "profile_id":
			return s.str(&ev.ProfileID)
		case "ticket_id":
			return s.str(&ev.TicketID)
		case "actor":
			ev.Actor = domain.Actor{}
			start := s.i
			ok := s.object(func(key []byte) bool {
				switch string(key) {
				case "user_id":
					return s.str(&ev.Actor.UserID)
				case "role":
					v, ok := s.raw()
					ev.Actor.Role = domain.Role(intern(v, roles))
					return ok
				case "system":
					return s.str(&ev.Actor.System)
				}
				return false
			})
			env.actor = s.b[start:s.i]
			return ok
		case "aggregate":
			ev.Aggregate = domain.AggregateKey{}
			return s.object(func(key []byte) bool {
				switch string(key) {
				case "kind":
					v, ok := s.raw()
					ev.Aggregate.Kind = intern(v, kinds)
					return ok
				case "id":
					return s.str(&ev.Aggregate.ID)
				}
				return false
			})
		case "data":
			// The payload is read in place when its type came first, as
			// domain.MarshalEvent writes it, and only skipped otherwise
			// (and always for a type the views ignore).
			start := s.i
			env.payload = nil
			if p, known := domain.NewEventData(ev.Type); known && p != nil && !viewsIgnore(ev.Type) {
				sub := &scanner{b: s.b[start:]}
				if decodePayloadFrom(sub, p) {
					s.i += sub.i
					env.data, env.payload = s.b[start:s.i], p
					return true
				}
			}
			if !s.value() {
				return false
			}
			env.data = s.b[start:s.i]
			return true
		}
		return false
	})
	return env, ok && s.end()
}

// decodePayload reads the payload of the common event types into dst, a
// pointer from domain.NewEventData.
func decodePayload(b []byte, dst any) bool {
	s := &scanner{b: b}
	return decodePayloadFrom(s, dst) && s.end()
}

// decodePayloadFrom reads a payload at the scanner's position.
func decodePayloadFrom(s *scanner, dst any) bool {
	var ok bool
	switch d := dst.(type) {
	case *domain.TicketOpenedData:
		ok = s.field("channel", &d.Channel)
	case *domain.ReplySentData:
		ok = s.object(func(key []byte) bool {
			switch string(key) {
			case "message_id":
				return s.str(&d.MessageID)
			case "body":
				return s.str(&d.Body)
			}
			return false
		})
	case *domain.NoteAddedData:
		ok = s.object(func(key []byte) bool {
			switch string(key) {
			case "note_id":
				return s.str(&d.NoteID)
			case "body":
				return s.str(&d.Body)
			}
			return false
		})
	case *domain.ReplyStatusChangedData:
		ok = s.object(func(key []byte) bool {
			switch string(key) {
			case "reply_id":
				return s.str(&d.ReplyID)
			case "status":
				return s.str(&d.Status)
			case "reason":
				return s.str(&d.Reason)
			}
			return false
		})
	case *domain.TicketAssignedData:
		ok = s.field("assignee_id", &d.AssigneeID)
	case *domain.TicketWokeData:
		ok = s.field("reason", &d.Reason)
	case *domain.TicketClosedData:
		ok = s.field("reason", &d.Reason)
	case *domain.TicketSnoozedData:
		ok = s.object(func(key []byte) bool {
			v, ok := s.raw()
			return string(key) == "until" && ok && d.Until.UnmarshalText(v) == nil
		})
	case *domain.MessageReceivedData:
		ok = s.object(func(key []byte) bool {
			switch string(key) {
			case "message_id":
				return s.str(&d.MessageID)
			case "external_id":
				return s.str(&d.ExternalID)
			case "channel":
				return s.str(&d.Channel)
			case "phone":
				return s.str(&d.Phone)
			case "sealed":
				d.Sealed = &domain.SealedBody{}
				return s.object(func(key []byte) bool {
					switch string(key) {
					case "key_id":
						return s.str(&d.Sealed.KeyID)
					case "nonce":
						return s.base64(&d.Sealed.Nonce)
					case "ciphertext":
						return s.base64(&d.Sealed.Ciphertext)
					}
					return false
				})
			}
			return false
		})
	default:
		return false
	}
	return ok
}

// Known spellings, so that reading them does not allocate.
var (
	eventTypes = []string{domain.TicketOpened, domain.MessageReceived, domain.ReplySent, domain.TicketAssigned,
		domain.TicketSnoozed, domain.TicketWoke, domain.TicketMarkedUnread, domain.TicketMarkedRead,
		domain.TicketClosed, domain.TicketReopened, domain.ProfileBlocked, domain.ProfileUnblocked,
		domain.MessagesErased, domain.PhoneLinked, domain.UserCreated, domain.ReplyStatusChanged,
		domain.WebhookCreated, domain.WebhookRemoved, domain.NoteAdded}
	roles = func() []string {
		out := make([]string, len(domain.Roles))
		for i, r := range domain.Roles {
			out[i] = string(r)
		}
		return out
	}()
	kinds = []string{domain.KindProfile, domain.KindPhone, domain.KindUser, domain.KindWebhook}
)

func intern(b []byte, known []string) string {
	for _, k := range known {
		if string(b) == k {
			return k
		}
	}
	return string(b)
}
