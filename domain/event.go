package domain

import "time"

// Event types. They are fixed strings stored in the log: renaming a Go type
// must never change them, so they are spelled out here once.
const (
	TicketOpened       = "TicketOpened"
	MessageReceived    = "MessageReceived"
	ReplySent          = "ReplySent"
	TicketAssigned     = "TicketAssigned"
	TicketSnoozed      = "TicketSnoozed"
	TicketWoke         = "TicketWoke"
	TicketMarkedUnread = "TicketMarkedUnread"
	TicketMarkedRead   = "TicketMarkedRead"
	TicketClosed       = "TicketClosed"
	TicketReopened     = "TicketReopened"
	ProfileBlocked     = "ProfileBlocked"
	ProfileUnblocked   = "ProfileUnblocked"
	MessagesErased     = "MessagesErased"
	// PhoneLinked records that a profile wrote from a phone number, on the
	// phone's own stream, so that a block by phone and a new message from
	// that phone can never both win a race.
	PhoneLinked = "PhoneLinked"
	// UserCreated adds a user and the hash of their API token.
	UserCreated = "UserCreated"
	// ReplyStatusChanged moves a reply's delivery status forward.
	ReplyStatusChanged = "ReplyStatusChanged"
	// WebhookCreated and WebhookRemoved change the webhooks, on the
	// webhook's own stream.
	WebhookCreated = "WebhookCreated"
	WebhookRemoved = "WebhookRemoved"
	// NoteAdded records an agent's internal note on a ticket.
	NoteAdded = "NoteAdded"
)

// Aggregate kinds: each is one consistency boundary, one subject in the log.
const (
	KindProfile = "profile"
	KindPhone   = "phone"
	KindUser    = "user"
	KindWebhook = "webhook"
)

// AggregateKey names the aggregate an event belongs to.
type AggregateKey struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// String returns "kind:id".
func (k AggregateKey) String() string { return k.Kind + ":" + k.ID }

// Event is one immutable fact in the log. Data holds one of the payload
// structs below, matching Type.
type Event struct {
	ID        string       `json:"id"`
	Type      string       `json:"type"`
	At        time.Time    `json:"at"`
	Actor     Actor        `json:"actor"`
	CommandID string       `json:"command_id"`
	Aggregate AggregateKey `json:"aggregate"`
	ProfileID string       `json:"profile_id,omitempty"`
	TicketID  string       `json:"ticket_id,omitempty"`
	Data      any          `json:"data,omitempty"`
}

// Close and wake reasons.
const (
	CloseAgent          = "agent"
	CloseProfileBlocked = "profile_blocked"
	WakeTimer           = "timer"
	WakeInbound         = "inbound"
	WakeAgent           = "agent"
)

// Channels an inbound message may come through.
const (
	ChannelSMS   = "sms"
	ChannelEmail = "email"
	ChannelChat  = "chat"
)

// TicketOpenedData is the payload of TicketOpened.
type TicketOpenedData struct {
	Channel string `json:"channel,omitempty"`
}

// MessageReceivedData is the payload of MessageReceived. Body never reaches
// the log in clear: the store seals it with the profile's key into Sealed,
// and a block destroys that key.
type MessageReceivedData struct {
	MessageID  string      `json:"message_id"`
	ExternalID string      `json:"external_id,omitempty"`
	Channel    string      `json:"channel,omitempty"`
	Phone      string      `json:"phone,omitempty"`
	Body       string      `json:"-"`
	Sealed     *SealedBody `json:"sealed,omitempty"`
}

// SealedBody is a message text encrypted with a profile's key.
type SealedBody struct {
	KeyID      string `json:"key_id"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

// ReplySentData is the payload of ReplySent. Agent replies are the team's
// own words and stay after a block.
type ReplySentData struct {
	MessageID string `json:"message_id"`
	Body      string `json:"body"`
}

// NoteAddedData is the payload of NoteAdded. A note is the team's own
// words, in clear like a reply, and stays after a block.
type NoteAddedData struct {
	NoteID string `json:"note_id"`
	Body   string `json:"body"`
}

// TicketAssignedData is the payload of TicketAssigned; an empty AssigneeID
// means unassigned.
type TicketAssignedData struct {
	AssigneeID string `json:"assignee_id"`
}

// TicketSnoozedData is the payload of TicketSnoozed.
type TicketSnoozedData struct {
	Until time.Time `json:"until"`
}

// TicketWokeData is the payload of TicketWoke.
type TicketWokeData struct {
	Reason string `json:"reason"`
}

// TicketClosedData is the payload of TicketClosed.
type TicketClosedData struct {
	Reason string `json:"reason"`
}

// ProfileBlockedData is the payload of ProfileBlocked. On a profile's
// stream, Phone names the number whose block blocked the profile (empty for
// a block by profile id); on a phone's stream it is the number itself.
type ProfileBlockedData struct {
	Phone string `json:"phone,omitempty"`
}

// ProfileUnblockedData is the payload of ProfileUnblocked.
type ProfileUnblockedData struct {
	Phone string `json:"phone,omitempty"`
}

// MessagesErasedData is the payload of MessagesErased: the inbound messages
// of one ticket that a block erased.
type MessagesErasedData struct {
	MessageIDs []string `json:"message_ids"`
}

// PhoneLinkedData is the payload of PhoneLinked.
type PhoneLinkedData struct {
	ProfileID string `json:"profile_id"`
}

// UserCreatedData is the payload of UserCreated. Only the token's hash is
// stored; the token itself is shown once, to its creator.
type UserCreatedData struct {
	UserID    string `json:"user_id"`
	Name      string `json:"name"`
	Role      Role   `json:"role"`
	TokenHash string `json:"token_hash"`
}

// ReplyStatusChangedData is the payload of ReplyStatusChanged.
type ReplyStatusChangedData struct {
	ReplyID string `json:"reply_id"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
}

// WebhookCreatedData is the payload of WebhookCreated. The secret is
// stored sealed under a key of the webhook's own, which its removal
// destroys: a dump of the log never shows it.
type WebhookCreatedData struct {
	WebhookID   string      `json:"webhook_id"`
	URL         string      `json:"url"`
	Events      []string    `json:"events"`
	Description string      `json:"description,omitempty"`
	Secret      *SealedBody `json:"secret"`
}

// WebhookRemovedData is the payload of WebhookRemoved.
type WebhookRemovedData struct {
	WebhookID string `json:"webhook_id"`
}

// NewEventData returns a pointer to the zero payload of an event type, for
// decoding, and false for an unknown type.
func NewEventData(typ string) (any, bool) {
	switch typ {
	case TicketOpened:
		return &TicketOpenedData{}, true
	case MessageReceived:
		return &MessageReceivedData{}, true
	case ReplySent:
		return &ReplySentData{}, true
	case TicketAssigned:
		return &TicketAssignedData{}, true
	case TicketSnoozed:
		return &TicketSnoozedData{}, true
	case TicketWoke:
		return &TicketWokeData{}, true
	case TicketMarkedUnread, TicketMarkedRead, TicketReopened:
		return nil, true
	case TicketClosed:
		return &TicketClosedData{}, true
	case ProfileBlocked:
		return &ProfileBlockedData{}, true
	case ProfileUnblocked:
		return &ProfileUnblockedData{}, true
	case MessagesErased:
		return &MessagesErasedData{}, true
	case PhoneLinked:
		return &PhoneLinkedData{}, true
	case UserCreated:
		return &UserCreatedData{}, true
	case ReplyStatusChanged:
		return &ReplyStatusChangedData{}, true
	case WebhookCreated:
		return &WebhookCreatedData{}, true
	case WebhookRemoved:
		return &WebhookRemovedData{}, true
	case NoteAdded:
		return &NoteAddedData{}, true
	}
	return nil, false
}
