package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// strictUnmarshal decodes exactly one JSON object into v, refusing unknown
// fields, duplicated top-level values and trailing data, and turns every
// failure into an invalid_argument error that names the problem.
func strictUnmarshal(body []byte, v any) error {
	return strictUnmarshalAs("command body", body, v)
}

// DecodeBody decodes a request body other than a command's (a user, a
// setting) into the struct v as strictly as a command: valid UTF-8,
// exactly one JSON object, each field known and given once.
func DecodeBody(body []byte, v any) error {
	if !utf8.Valid(body) {
		return Errorf(EInvalid, "body is not valid UTF-8")
	}
	return strictUnmarshalAs("body", body, v)
}

func strictUnmarshalAs(what string, body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Errorf(EInvalid, "%s must be a JSON object", what)
	}
	fields := fieldsOf(reflect.TypeOf(v).Elem())
	// The keys are checked first, so that a misspelt field is reported as
	// unknown rather than by whatever encoding/json made of its value.
	// Malformed JSON is left for Decode, whose error says where it is.
	if err := checkKeys(body, fields); err != nil {
		return err
	}
	// With every key known and exact, and no nested objects in commands,
	// plain Unmarshal is as strict as a Decoder refusing unknown fields,
	// without copying the body into a buffer of its own.
	if err := json.Unmarshal(body, v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) && strings.Contains(se.Error(), "after top-level value") {
			return Errorf(EInvalid, "%s has data after the JSON object", what)
		}
		return Errorf(EInvalid, "%s", describeJSONError(err, body, fields))
	}
	return nil
}

// jsonFields describes the JSON side of a command struct.
type jsonFields struct {
	names map[string]bool
	// timeField is the one field holding a time, "" if there is none or
	// several: a bad time's error does not say which field it came from.
	timeField string
}

var fieldCache sync.Map // reflect.Type -> *jsonFields

// fieldsOf returns the JSON names of a struct's fields, those of embedded
// structs (Meta, TicketCommand, BlockTarget) included.
func fieldsOf(t reflect.Type) *jsonFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*jsonFields)
	}
	f := &jsonFields{names: map[string]bool{}}
	var times []string
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
				walk(sf.Type)
				continue
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			f.names[name] = true
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft == reflect.TypeFor[time.Time]() {
				times = append(times, name)
			}
		}
	}
	walk(t)
	if len(times) == 1 {
		f.timeField = times[0]
	}
	fieldCache.Store(t, f)
	return f
}

// checkKeys refuses a top-level key that is not exactly one of the
// struct's JSON names, or that appears twice. encoding/json matches names
// case-insensitively and lets the last duplicate win, which would let
// {"PROFILE_ID":...} in, or let a second value silently replace the first.
// A syntax error returns nil, for Decode to report. It scans the bytes
// itself: a token-by-token walk with encoding/json cost as much as the
// decoding that follows.
func checkKeys(body []byte, fields *jsonFields) error {
	seen := make([]string, 0, 8)
	sc := keyScanner{b: body}
	for {
		key, ok, done := sc.next()
		if done || !ok {
			return nil
		}
		if !fields.names[key] {
			return Errorf(EInvalid, "unknown field %s", QuoteShort(key))
		}
		for _, k := range seen {
			if k == key {
				return Errorf(EInvalid, "field %q given twice", key)
			}
		}
		seen = append(seen, key)
	}
}

// QuoteShort quotes s, cut short so that an error never echoes a huge
// input back to the caller.
func QuoteShort(s string) string {
	short, cut := cutShort(s, 64)
	if cut {
		return fmt.Sprintf("%q...", short)
	}
	return fmt.Sprintf("%q", short)
}

// cutShort returns at most limit bytes of s, cut between characters, and
// whether anything was cut.
func cutShort(s string, limit int) (string, bool) {
	if len(s) <= limit {
		return s, false
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit], true
}

// describeJSONError names the JSON field at fault, never the Go types
// behind it: the caller knows only the contract's field names.
func describeJSONError(err error, body []byte, fields *jsonFields) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &typeErr):
		// Field is a dotted path through embedded Go structs, such as
		// TicketCommand.Meta.command_id; its last element is the JSON name.
		field := typeErr.Field
		if i := strings.LastIndexByte(field, '.'); i >= 0 {
			field = field[i+1:]
		}
		got := typeErr.Value
		if got == "bool" {
			got = "boolean"
		}
		want := "a value"
		if typeErr.Type != nil {
			want = typeErr.Type.String()
		}
		return fmt.Sprintf("field %s must be %s, got %s", field, want, got)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "malformed JSON: unexpected end"
	case errors.As(err, &timeErr), strings.Contains(err.Error(), "Time.UnmarshalJSON"):
		return describeTimeError(timeErr, body, fields)
	}
	return "malformed command: " + err.Error()
}

// describeTimeError reports a time that time.Time refused, quoting the
// value as given.
func describeTimeError(pe *time.ParseError, body []byte, fields *jsonFields) string {
	field := fields.timeField
	if field == "" {
		field = "a time field"
	}
	got := ""
	if fields.timeField != "" {
		// The keys were checked to be unique and exact, so this finds the
		// value that failed.
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) == nil {
			if raw, ok := obj[fields.timeField]; ok {
				var cut bool
				if got, cut = cutShort(string(raw), 100); cut {
					got += "..."
				}
			}
		}
	}
	if got == "" && pe != nil {
		got = QuoteShort(pe.Value)
	}
	msg := fmt.Sprintf("%s must be an RFC 3339 time", field)
	if got != "" {
		msg += ", got " + got
	}
	if pe != nil && pe.Message != "" {
		// Such as ": month out of range", which says what is wrong.
		msg += " (" + strings.TrimPrefix(pe.Message, ": ") + ")"
	}
	return msg
}

// DecodeCommand parses and validates one command body. Anything malformed
// (invalid UTF-8, unknown or mistyped fields, trailing data, oversize
// bodies, unknown names) is an invalid_argument error.
func DecodeCommand(name string, body []byte) (Command, error) {
	if len(body) > MaxCommandBytes {
		return nil, Errorf(EInvalid, "command body is %d bytes, at most %d allowed", len(body), MaxCommandBytes)
	}
	if !utf8.Valid(body) {
		return nil, Errorf(EInvalid, "command body is not valid UTF-8")
	}
	spec, ok := specs[name]
	if !ok || spec.Internal {
		return nil, Errorf(EInvalid, "unknown command %s", QuoteShort(name))
	}
	cmd, err := spec.decode(body)
	if err != nil {
		return nil, err
	}
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	return cmd, nil
}

func decodeInto[T Command](body []byte) (Command, error) {
	var v T
	if err := strictUnmarshal(body, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// decodeAssign tells a missing assignee_id from an explicit null: only
// null unassigns.
func decodeAssign(body []byte) (Command, error) {
	var c Assign
	if err := strictUnmarshal(body, &c); err != nil {
		return nil, err
	}
	var present map[string]json.RawMessage
	_ = json.Unmarshal(body, &present)
	if _, ok := present["assignee_id"]; !ok {
		return nil, Errorf(EInvalid, "assignee_id is required (a user id, or null to unassign)")
	}
	return c, nil
}
