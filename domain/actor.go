package domain

// Actor is who caused an event: a user with the role they had at the time,
// or the engine itself (System names the mechanism, such as "timer").
type Actor struct {
	UserID string `json:"user_id,omitempty"`
	Role   Role   `json:"role,omitempty"`
	System string `json:"system,omitempty"`
}

// SystemTimer is the actor of snooze wake-ups fired by the clock.
var SystemTimer = Actor{System: "timer"}

// SystemBootstrap is the actor of the first owner's creation.
var SystemBootstrap = Actor{System: "bootstrap"}

// SystemRelay is the actor of a reply's status as the webhook relay
// records it (sent, or failed for good).
var SystemRelay = Actor{System: "relay"}
