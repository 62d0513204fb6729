package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// MarshalEvent encodes an event as the JSON stored in the log. Times are
// written in UTC so that the same event always encodes to the same bytes.
func MarshalEvent(e Event) ([]byte, error) {
	e.At = e.At.UTC()
	return json.Marshal(e)
}

// UnmarshalEvent decodes an event from the log, with Data as a pointer to
// the payload struct of its type.
func UnmarshalEvent(b []byte) (Event, error) {
	var raw struct {
		Event
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	e := raw.Event
	data, ok := NewEventData(e.Type)
	if !ok {
		return Event{}, fmt.Errorf("decode event: unknown type %q", e.Type)
	}
	if data != nil && len(raw.Data) > 0 && !bytes.Equal(raw.Data, []byte("null")) {
		if err := json.Unmarshal(raw.Data, data); err != nil {
			return Event{}, fmt.Errorf("decode event %s data: %w", e.Type, err)
		}
	}
	e.Data = data
	if e.At.IsZero() {
		return Event{}, fmt.Errorf("decode event %s: no time", e.Type)
	}
	e.At = e.At.UTC()
	return e, nil
}

// payload returns the event's data as *T; a zero T if it has none.
func payload[T any](e Event) *T {
	if p, ok := e.Data.(*T); ok && p != nil {
		return p
	}
	if v, ok := e.Data.(T); ok {
		return &v
	}
	return new(T)
}

// timeMax returns the later of two times.
func timeMax(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
