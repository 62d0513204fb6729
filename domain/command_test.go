package domain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ticketbus/ticketbus/domain"
)

func TestDecodeCommandValid(t *testing.T) {
	t.Parallel()
	tid := `"ticket_id":"` + tk1 + `"`
	until := time.Date(2026, time.March, 2, 10, 30, 0, 0, time.UTC)
	longID := strings.Repeat("a", 128)
	cases := []struct {
		name string
		cmd  string
		body string
		want domain.Command
		perm domain.Permission
	}{
		{"inbound minimal", domain.CmdInbound, `{"profile_id":"cust-1","body":"hi"}`,
			domain.Inbound{ProfileID: "cust-1", Body: "hi"}, domain.PermInbound},
		{"inbound with every field", domain.CmdInbound,
			`{"command_id":"` + cmdID + `","profile_id":"cust-1","body":"hi","phone":"+33612345678","message_id":"gw-1","channel":"email"}`,
			domain.Inbound{Meta: domain.Meta{CommandID: cmdID}, ProfileID: "cust-1", Body: "hi",
				Phone: phone1, MessageID: "gw-1", Channel: domain.ChannelEmail}, domain.PermInbound},
		{"inbound channels sms and chat", domain.CmdInbound, `{"profile_id":"p","body":"x","channel":"chat"}`,
			domain.Inbound{ProfileID: "p", Body: "x", Channel: domain.ChannelChat}, domain.PermInbound},
		{"inbound body of exactly 10000 characters", domain.CmdInbound,
			`{"profile_id":"p","body":"` + strings.Repeat("a", 10000) + `"}`,
			domain.Inbound{ProfileID: "p", Body: strings.Repeat("a", 10000)}, domain.PermInbound},
		// Characters, not bytes: 10000 two-byte letters are within bounds.
		{"inbound body of 10000 two-byte characters", domain.CmdInbound,
			`{"profile_id":"p","body":"` + strings.Repeat("é", 10000) + `"}`,
			domain.Inbound{ProfileID: "p", Body: strings.Repeat("é", 10000)}, domain.PermInbound},
		{"inbound body with newlines, tabs and escapes", domain.CmdInbound,
			`{"profile_id":"p","body":"line 1\r\n\tline \"2\" \u00e9 😀"}`,
			domain.Inbound{ProfileID: "p", Body: "line 1\r\n\tline \"2\" é 😀"}, domain.PermInbound},
		{"inbound profile_id of every allowed character", domain.CmdInbound,
			`{"profile_id":"Az09._:@+-","body":"x"}`, domain.Inbound{ProfileID: "Az09._:@+-", Body: "x"}, domain.PermInbound},
		{"inbound profile_id of 128 characters", domain.CmdInbound, `{"profile_id":"` + longID + `","body":"x"}`,
			domain.Inbound{ProfileID: longID, Body: "x"}, domain.PermInbound},
		{"inbound phones of 8 and 15 digits", domain.CmdInbound, `{"profile_id":"p","body":"x","phone":"+123456789012345"}`,
			domain.Inbound{ProfileID: "p", Body: "x", Phone: "+123456789012345"}, domain.PermInbound},
		{"inbound with whitespace around the object", domain.CmdInbound, " \n\t{\"profile_id\":\"p\",\"body\":\"x\"}\r\n ",
			domain.Inbound{ProfileID: "p", Body: "x"}, domain.PermInbound},
		{"inbound with null optional fields", domain.CmdInbound, `{"profile_id":"p","body":"x","phone":null,"command_id":null}`,
			domain.Inbound{ProfileID: "p", Body: "x"}, domain.PermInbound},
		{"reply", domain.CmdReply, `{` + tid + `,"body":"On it"}`,
			domain.Reply{TicketID: tk1, Body: "On it"}, domain.PermTicketCommands},
		{"note", domain.CmdNote, `{` + tid + `,"body":"Called her back, parcel found"}`,
			domain.Note{TicketID: tk1, Body: "Called her back, parcel found"}, domain.PermTicketCommands},
		{"note of exactly 10000 characters", domain.CmdNote, `{` + tid + `,"body":"` + strings.Repeat("é", 10000) + `"}`,
			domain.Note{TicketID: tk1, Body: strings.Repeat("é", 10000)}, domain.PermTicketCommands},
		{"assign to a user", domain.CmdAssign, `{` + tid + `,"assignee_id":"` + uid(7) + `"}`,
			domain.Assign{TicketID: tk1, AssigneeID: ptr(uid(7))}, domain.PermTicketCommands},
		{"assign to null unassigns", domain.CmdAssign, `{` + tid + `,"assignee_id":null}`,
			domain.Assign{TicketID: tk1}, domain.PermTicketCommands},
		{"snooze until", domain.CmdSnooze, `{` + tid + `,"until":"2026-03-02T10:30:00Z"}`,
			domain.Snooze{TicketID: tk1, Until: &until}, domain.PermTicketCommands},
		{"snooze duration", domain.CmdSnooze, `{` + tid + `,"duration":"72h"}`,
			domain.Snooze{TicketID: tk1, Duration: "72h"}, domain.PermTicketCommands},
		{"snooze duration of 366 days", domain.CmdSnooze, `{` + tid + `,"duration":"8784h"}`,
			domain.Snooze{TicketID: tk1, Duration: "8784h"}, domain.PermTicketCommands},
		{"unsnooze", domain.CmdUnsnooze, `{` + tid + `}`, unsnooze(tk1), domain.PermTicketCommands},
		{"mark_unread", domain.CmdMarkUnread, `{` + tid + `}`, markUnread(tk1), domain.PermTicketCommands},
		{"mark_read", domain.CmdMarkRead, `{` + tid + `}`, markRead(tk1), domain.PermTicketCommands},
		{"close with command_id", domain.CmdClose, `{` + tid + `,"command_id":"` + cmdID + `"}`,
			domain.Close{TicketCommand: domain.TicketCommand{Meta: domain.Meta{CommandID: cmdID}, TicketID: tk1}},
			domain.PermTicketCommands},
		{"block by profile", domain.CmdBlock, `{"profile_id":"cust-1"}`, blockProfile("cust-1"), domain.PermTicketCommands},
		{"block by phone", domain.CmdBlock, `{"phone":"+33612345678"}`, blockPhone(phone1), domain.PermTicketCommands},
		{"unblock by profile", domain.CmdUnblock, `{"profile_id":"cust-1"}`, unblockProfile("cust-1"), domain.PermTicketCommands},
		{"unblock by phone", domain.CmdUnblock, `{"phone":"+12345678"}`, unblockPhone("+12345678"), domain.PermTicketCommands},
		{"reply delivered", domain.CmdReplyStatus, `{"reply_id":"` + tk1 + `","status":"delivered"}`,
			domain.ReplyStatus{ReplyID: tk1, Status: domain.ReplyDelivered}, domain.PermReplyStatus},
		{"reply failed", domain.CmdReplyStatus, `{"reply_id":"` + tk1 + `","status":"failed","reason":"unknown number"}`,
			domain.ReplyStatus{ReplyID: tk1, Status: domain.ReplyFailed, Reason: "unknown number"}, domain.PermReplyStatus},
	}
	names := map[string]bool{}
	for _, c := range cases {
		names[c.cmd] = true
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.DecodeCommand(c.cmd, []byte(c.body))
			if err != nil {
				t.Fatalf("DecodeCommand: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("decoded %#v\nwant    %#v", got, c.want)
			}
			perm, _ := domain.CommandPermission(got.Name())
			if got.Name() != c.cmd || perm != c.perm || got.Validate() != nil {
				t.Fatalf("name %q permission %q validate %v", got.Name(), perm, got.Validate())
			}
			if strings.Contains(c.body, cmdID) != (got.ID() == cmdID) {
				t.Fatalf("ID() = %q", got.ID())
			}
		})
	}
	for _, n := range domain.CommandNames {
		if !names[n] {
			t.Errorf("command %q has no valid case", n)
		}
	}
}

func TestDecodeCommandInvalid(t *testing.T) {
	t.Parallel()
	tid := `"ticket_id":"` + tk1 + `"`
	in := func(fields string) string { return `{"profile_id":"p","body":"x"` + fields + `}` }
	inBody := func(b string) string { return `{"profile_id":"p","body":"` + b + `"}` }
	inProfile := func(p string) string { return `{"profile_id":"` + p + `","body":"x"}` }
	inPhone := func(p string) string { return in(`,"phone":"` + p + `"`) }
	snz := func(fields string) string { return `{` + tid + fields + `}` }
	cases := []struct {
		name     string
		cmd      string
		body     string
		mentions []string
	}{
		{"malformed JSON", domain.CmdInbound, `{"profile_id":"p",`, []string{"malformed JSON"}},
		{"malformed JSON inside", domain.CmdInbound, `{"profile_id" "p"}`, []string{"malformed JSON"}},
		{"single quotes", domain.CmdInbound, `{'profile_id':'p'}`, []string{"malformed JSON"}},
		{"empty body", domain.CmdInbound, ``, []string{"JSON object"}},
		{"blank body", domain.CmdClose, " \n ", []string{"JSON object"}},
		{"null body", domain.CmdInbound, `null`, []string{"JSON object"}},
		{"array body", domain.CmdClose, `[{` + tid + `}]`, []string{"JSON object"}},
		{"string body", domain.CmdClose, `"close"`, []string{"JSON object"}},
		{"number body", domain.CmdClose, `42`, []string{"JSON object"}},
		{"unknown field", domain.CmdInbound, in(`,"priority":1`), []string{"priority"}},
		{"unknown field on a ticket command", domain.CmdClose, snz(`,"reason":"spam"`), []string{"reason"}},
		{"unknown field on block", domain.CmdBlock, `{"profile_id":"p","hard":true}`, []string{"hard"}},
		{"number for a string", domain.CmdInbound, `{"profile_id":5,"body":"x"}`, []string{"profile_id", "string"}},
		{"bool for a string", domain.CmdReply, `{` + tid + `,"body":true}`, []string{"body", "string"}},
		{"array for a string", domain.CmdInbound, `{"profile_id":"p","body":["x"]}`, []string{"body", "array"}},
		{"object for a string", domain.CmdClose, `{"ticket_id":{"id":"x"}}`, []string{"ticket_id"}},
		{"number for command_id", domain.CmdInbound, in(`,"command_id":5`), []string{"command_id"}},
		{"bool for assignee_id", domain.CmdAssign, `{` + tid + `,"assignee_id":true}`, []string{"assignee_id"}},
		{"number for duration", domain.CmdSnooze, snz(`,"duration":90`), []string{"duration"}},
		{"missing profile_id", domain.CmdInbound, `{"body":"x"}`, []string{"profile_id"}},
		{"missing body", domain.CmdInbound, `{"profile_id":"p"}`, []string{"body"}},
		{"empty body text", domain.CmdInbound, inBody(""), []string{"body"}},
		{"whitespace body text", domain.CmdInbound, inBody(` \n\t `), []string{"body"}},
		{"null body text", domain.CmdReply, `{` + tid + `,"body":null}`, []string{"body"}},
		{"reply without ticket_id", domain.CmdReply, `{"body":"x"}`, []string{"ticket_id"}},
		{"reply without body", domain.CmdReply, `{` + tid + `}`, []string{"body"}},
		{"close without ticket_id", domain.CmdClose, `{}`, []string{"ticket_id"}},
		{"mark_read without ticket_id", domain.CmdMarkRead, `{"command_id":"` + cmdID + `"}`, []string{"ticket_id"}},
		{"assign without assignee_id", domain.CmdAssign, `{` + tid + `}`, []string{"assignee_id"}},
		{"assign with an empty assignee_id", domain.CmdAssign, `{` + tid + `,"assignee_id":""}`, []string{"assignee_id"}},
		{"assign with a name for assignee_id", domain.CmdAssign, `{` + tid + `,"assignee_id":"bob"}`, []string{"assignee_id"}},
		{"snooze with neither until nor duration", domain.CmdSnooze, snz(``), []string{"until", "duration"}},
		{"snooze with both", domain.CmdSnooze, snz(`,"duration":"1h","until":"2026-03-02T10:30:00Z"`), []string{"until", "duration"}},
		{"snooze with a null until", domain.CmdSnooze, snz(`,"until":null`), []string{"until", "duration"}},
		{"snooze duration in words", domain.CmdSnooze, snz(`,"duration":"soon"`), []string{"duration", "soon"}},
		{"snooze duration in days", domain.CmdSnooze, snz(`,"duration":"3d"`), []string{"duration"}},
		{"snooze duration zero", domain.CmdSnooze, snz(`,"duration":"0s"`), []string{"duration"}},
		{"snooze duration negative", domain.CmdSnooze, snz(`,"duration":"-90m"`), []string{"duration"}},
		{"snooze duration over 366 days", domain.CmdSnooze, snz(`,"duration":"8785h"`), []string{"duration", "366"}},
		{"snooze duration empty", domain.CmdSnooze, snz(`,"duration":""`), []string{"until", "duration"}},
		{"snooze until not a time", domain.CmdSnooze, snz(`,"until":"tomorrow"`), []string{"tomorrow"}},
		{"snooze until without zone", domain.CmdSnooze, snz(`,"until":"2026-03-02T10:30:00"`), []string{"2026-03-02T10:30:00"}},
		{"snooze until month 13", domain.CmdSnooze, snz(`,"until":"2026-13-02T10:30:00Z"`), []string{"month"}},
		{"block with neither", domain.CmdBlock, `{}`, []string{"profile_id", "phone"}},
		{"block with both", domain.CmdBlock, `{"profile_id":"p","phone":"+33612345678"}`, []string{"profile_id", "phone"}},
		{"unblock with neither", domain.CmdUnblock, `{"profile_id":""}`, []string{"profile_id", "phone"}},
		{"body over 1 MB", domain.CmdInbound, inBody(strings.Repeat("a", 1<<20)), []string{"bytes"}},
		{"invalid UTF-8", domain.CmdInbound, inBody("caf\xe9"), []string{"UTF-8"}},
		{"invalid UTF-8 in a key", domain.CmdInbound, "{\"profile_id\":\"p\",\"body\":\"x\",\"\xff\":1}", []string{"UTF-8"}},
		{"trailing object", domain.CmdInbound, in(``) + `{}`, []string{"after"}},
		{"trailing garbage", domain.CmdInbound, in(``) + ` x`, []string{"after"}},
		{"trailing bracket", domain.CmdClose, `{` + tid + `}]`, []string{"after"}},
		{"second command", domain.CmdClose, `{` + tid + `}{` + tid + `}`, []string{"after"}},
		{"body of 10001 characters", domain.CmdInbound, inBody(strings.Repeat("a", 10001)), []string{"body", "10000"}},
		{"body of 10001 two-byte characters", domain.CmdInbound, inBody(strings.Repeat("é", 10001)), []string{"body", "10000"}},
		{"note without ticket_id", domain.CmdNote, `{"body":"x"}`, []string{"ticket_id"}},
		{"note without body", domain.CmdNote, `{` + tid + `}`, []string{"body"}},
		{"note of blanks", domain.CmdNote, `{` + tid + `,"body":" \n "}`, []string{"body"}},
		{"note of 10001 characters", domain.CmdNote, `{` + tid + `,"body":"` + strings.Repeat("a", 10001) + `"}`, []string{"body", "10000"}},
		{"escape in a note", domain.CmdNote, `{` + tid + `,"body":"\u001b[2J"}`, []string{"control", "U+001B"}},
		{"unknown field on a note", domain.CmdNote, `{` + tid + `,"body":"x","private":true}`, []string{"private"}},
		{"reply of 10001 characters", domain.CmdReply, `{` + tid + `,"body":"` + strings.Repeat("a", 10001) + `"}`, []string{"body"}},
		{"NUL in body", domain.CmdInbound, inBody(`a\u0000b`), []string{"body", "control", "U+0000"}},
		{"bell in body", domain.CmdInbound, inBody(`a\u0007b`), []string{"control", "U+0007"}},
		{"escape in body", domain.CmdReply, `{` + tid + `,"body":"\u001b[31mred"}`, []string{"control", "U+001B"}},
		{"DEL in body", domain.CmdInbound, inBody("a\x7fb"), []string{"control", "U+007F"}},
		{"raw newline in a JSON string", domain.CmdInbound, inBody("a\nb"), []string{"malformed JSON"}},
		{"profile_id empty", domain.CmdInbound, inProfile(""), []string{"profile_id"}},
		{"profile_id with a space", domain.CmdInbound, inProfile("cust 1"), []string{"profile_id"}},
		{"profile_id with a slash", domain.CmdInbound, inProfile("a/b"), []string{"profile_id"}},
		{"profile_id with an accent", domain.CmdInbound, inProfile("josé"), []string{"profile_id"}},
		{"profile_id with a trailing newline", domain.CmdInbound, inProfile(`cust\n`), []string{"profile_id"}},
		{"profile_id of 129 characters", domain.CmdInbound, inProfile(strings.Repeat("a", 129)), []string{"profile_id"}},
		{"block with a bad profile_id", domain.CmdBlock, `{"profile_id":"a b"}`, []string{"profile_id"}},
		{"phone without plus", domain.CmdInbound, inPhone("33612345678"), []string{"phone"}},
		{"phone of 7 digits", domain.CmdInbound, inPhone("+1234567"), []string{"phone"}},
		{"phone of 16 digits", domain.CmdInbound, inPhone("+1234567890123456"), []string{"phone"}},
		{"phone with spaces", domain.CmdInbound, inPhone("+33 6 12 34 56 78"), []string{"phone"}},
		{"phone with a trailing newline", domain.CmdInbound, inPhone(`+33612345678\n`), []string{"phone"}},
		{"block with a bad phone", domain.CmdBlock, `{"phone":"0612345678"}`, []string{"phone"}},
		{"command_id not a UUID", domain.CmdInbound, in(`,"command_id":"abc"`), []string{"command_id"}},
		{"command_id without dashes", domain.CmdClose, snz(`,"command_id":"00000000000040008000000000000001"`), []string{"command_id"}},
		{"command_id in braces", domain.CmdClose, snz(`,"command_id":"{` + cmdID + `}"`), []string{"command_id"}},
		{"command_id too long", domain.CmdClose, snz(`,"command_id":"` + cmdID + `0"`), []string{"command_id"}},
		{"ticket_id not a UUID", domain.CmdClose, `{"ticket_id":"t1"}`, []string{"ticket_id"}},
		{"ticket_id with a non-hex digit", domain.CmdUnsnooze, `{"ticket_id":"00000000-0000-4000-8000-00000000000g"}`, []string{"ticket_id"}},
		{"unknown channel", domain.CmdInbound, in(`,"channel":"fax"`), []string{"channel", "fax"}},
		{"message_id of 257 bytes", domain.CmdInbound, in(`,"message_id":"` + strings.Repeat("m", 257) + `"`), []string{"message_id"}},
		{"message_id with a control character", domain.CmdInbound, in(`,"message_id":"a\tb"`), []string{"message_id"}},
		{"unknown command", "delete", `{}`, []string{"unknown command", "delete"}},
		{"empty command name", "", in(``), []string{"unknown command"}},
		{"command names are case-sensitive", "Inbound", in(``), []string{"unknown command"}},
		{"command name with a subject prefix", "tickets.cmd.close", `{` + tid + `}`, []string{"unknown command"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cmd, err := domain.DecodeCommand(c.cmd, []byte(c.body))
			if err == nil {
				t.Fatalf("decoded %#v, want invalid_argument", cmd)
			}
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.EInvalid || !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("error %v (%T), want a *domain.Error invalid_argument", err, err)
			}
			if cmd != nil {
				t.Fatalf("failed decode also returned %#v", cmd)
			}
			for _, m := range c.mentions {
				if !strings.Contains(de.Message, m) {
					t.Errorf("message %q does not mention %q", de.Message, m)
				}
			}
			// A message quoting a megabyte back to the caller is no help.
			if len(de.Message) > 2000 {
				t.Errorf("message is %d bytes long", len(de.Message))
			}
		})
	}
}

// The contract's field names are snake_case and exact; encoding/json's
// case-insensitive matching would let "PROFILE_ID" or "Body" in as if they
// were the real fields, and its last-duplicate-wins rule would let a second
// value silently replace the first, where the contract asks for
// invalid_argument.
func TestDecodeCommandFieldNamesAreExact(t *testing.T) {
	t.Parallel()
	tid := `"ticket_id":"` + tk1 + `"`
	cases := []struct{ cmd, body, msg string }{
		{domain.CmdInbound, `{"PROFILE_ID":"p","body":"hi"}`, `unknown field "PROFILE_ID"`},
		{domain.CmdInbound, `{"profile_id":"p","Body":"hi"}`, `unknown field "Body"`},
		{domain.CmdInbound, `{"profile_id":"a","Profile_ID":"b","body":"hi"}`, `unknown field "Profile_ID"`},
		// encoding/json also folds the Kelvin sign into k.
		{domain.CmdClose, `{"tic\u212aet_id":"` + tk1 + `"}`, "unknown field"},
		{domain.CmdClose, `{` + tid + `,"Command_ID":"` + cmdID + `"}`, `unknown field "Command_ID"`},
		{domain.CmdBlock, `{"Phone":"+12345678"}`, `unknown field "Phone"`},
		{domain.CmdSnooze, `{` + tid + `,"Until":"2026-03-02T10:30:00Z"}`, `unknown field "Until"`},
		{domain.CmdInbound, `{"profile_id":"a","profile_id":"b","body":"hi"}`, `field "profile_id" given twice`},
		{domain.CmdInbound, `{"profile_id":"p","body":"hi","body":"hi"}`, `field "body" given twice`},
		{domain.CmdClose, `{` + tid + `,` + tid + `}`, `field "ticket_id" given twice`},
		{domain.CmdAssign, `{` + tid + `,"assignee_id":null,"assignee_id":"` + uid(7) + `"}`, `field "assignee_id" given twice`},
		{domain.CmdUnblock, `{"profile_id":"p","command_id":"` + cmdID + `","command_id":"` + cmdID + `"}`,
			`field "command_id" given twice`},
		// Escapes spell the same key, so they repeat it too.
		{domain.CmdInbound, `{"profile_id":"a","profile\u005fid":"b","body":"hi"}`, `field "profile_id" given twice`},
		{domain.CmdInbound, `{"profile_id":"p","body":"x","` + strings.Repeat("k", 5000) + `":1}`, "unknown field"},
	}
	for _, c := range cases {
		cmd, err := domain.DecodeCommand(c.cmd, []byte(c.body))
		if domain.ErrorCode(err) != domain.EInvalid {
			t.Errorf("%s %.80s decoded as %#v, want invalid_argument", c.cmd, c.body, cmd)
			continue
		}
		if msg := domain.ErrorMessage(err); !strings.Contains(msg, c.msg) || len(msg) > 200 {
			t.Errorf("%s %.80s: message %q, want one short and with %q", c.cmd, c.body, msg, c.msg)
		}
	}
	// The same names nested inside a value are no fields of the command.
	body := `{"profile_id":"p","body":"{\"profile_id\":1}","message_id":"profile_id"}`
	if _, err := domain.DecodeCommand(domain.CmdInbound, []byte(body)); err != nil {
		t.Errorf("%s: %v", body, err)
	}
}

// Messages are for the caller, who knows the JSON field names, not the Go
// types behind them.
func TestDecodeCommandMessagesNameTheJSONField(t *testing.T) {
	t.Parallel()
	tid := `"ticket_id":"` + tk1 + `"`
	cases := []struct{ cmd, body, field, msg string }{
		{domain.CmdClose, `{"ticket_id":5}`, "ticket_id", "field ticket_id must be string, got number"},
		{domain.CmdUnsnooze, `{"ticket_id":{"id":"x"}}`, "ticket_id", "field ticket_id must be string, got object"},
		{domain.CmdInbound, `{"profile_id":"p","body":"x","command_id":5}`, "command_id", "field command_id must be string, got number"},
		{domain.CmdClose, `{"command_id":true,` + tid + `}`, "command_id", "field command_id must be string, got boolean"},
		{domain.CmdBlock, `{"profile_id":5}`, "profile_id", "field profile_id must be string, got number"},
		{domain.CmdUnblock, `{"phone":["+12345678"]}`, "phone", "field phone must be string, got array"},
		{domain.CmdAssign, `{` + tid + `,"assignee_id":7}`, "assignee_id", "field assignee_id must be string, got number"},
		{domain.CmdSnooze, `{` + tid + `,"until":"tomorrow"}`, "until", `until must be an RFC 3339 time, got "tomorrow"`},
		{domain.CmdSnooze, `{` + tid + `,"until":5}`, "until", "until must be an RFC 3339 time, got 5"},
		{domain.CmdSnooze, `{` + tid + `,"until":{"at":"now"}}`, "until", "until must be an RFC 3339 time"},
		{domain.CmdSnooze, `{` + tid + `,"until":"2026-13-02T10:30:00Z"}`, "until",
			`until must be an RFC 3339 time, got "2026-13-02T10:30:00Z" (month out of range)`},
		{domain.CmdSnooze, `{` + tid + `,"until":"` + strings.Repeat("9", 5000) + `"}`, "until", "until must be an RFC 3339 time, got"},
	}
	for _, c := range cases {
		_, err := domain.DecodeCommand(c.cmd, []byte(c.body))
		msg := domain.ErrorMessage(err)
		if domain.ErrorCode(err) != domain.EInvalid || !strings.Contains(msg, c.field) || !strings.Contains(msg, c.msg) ||
			strings.Contains(msg, "Command.") || strings.Contains(msg, "Meta.") || strings.Contains(msg, "Target.") ||
			strings.Contains(msg, "UnmarshalJSON") || strings.Contains(msg, "Go ") || len(msg) > 300 {
			t.Errorf("%s %.80s: message %q should say %q, naming the JSON field %s and no Go type", c.cmd, c.body, msg, c.msg, c.field)
		}
	}
}

// A body within the contract's 10000 characters must decode however the
// producer escapes it; Python's json.dumps writes each emoji as a 12-byte
// surrogate-pair escape by default.
func TestDecodeCommandAcceptsAnyEncodingOfAMaximalBody(t *testing.T) {
	t.Parallel()
	b := `{"profile_id":"p","body":"` + strings.Repeat(`\ud83d\ude00`, 10000) + `"}`
	cmd, err := domain.DecodeCommand(domain.CmdInbound, []byte(b))
	if err != nil {
		t.Fatalf("10000-character body refused: %v", err)
	}
	if got := cmd.(domain.Inbound).Body; got != strings.Repeat("😀", 10000) {
		t.Fatalf("body decoded to %d bytes", len(got))
	}
	// The bound itself is inclusive: padding up to it is still parsed,
	// one byte more is refused unread.
	pad := func(n int) []byte { return []byte(b + strings.Repeat(" ", n-len(b))) }
	if _, err := domain.DecodeCommand(domain.CmdInbound, pad(domain.MaxCommandBytes)); err != nil {
		t.Fatalf("body of exactly MaxCommandBytes refused: %v", err)
	}
	_, err = domain.DecodeCommand(domain.CmdInbound, pad(domain.MaxCommandBytes+1))
	if msg := domain.ErrorMessage(err); domain.ErrorCode(err) != domain.EInvalid || !strings.Contains(msg, "bytes") {
		t.Fatalf("body of MaxCommandBytes+1: %v", err)
	}
}

// ValidUUID is documented as accepting lower-case canonical UUIDs only; ids
// are compared as strings (command_id for R9, ticket and user ids as keys),
// so two spellings of one UUID would be two different ids.
func TestValidUUIDIsLowerCase(t *testing.T) {
	t.Parallel()
	valid := []string{tk1, "0f8fad5b-d9cb-469f-a165-70867728950e"}
	invalid := []string{"", "0f8fad5b-d9cb-469f-a165-70867728950", "0f8fad5bd9cb469fa16570867728950e",
		"{0f8fad5b-d9cb-469f-a165-70867728950e}", "0f8fad5b-d9cb-469f-a165-70867728950e ", "0f8fad5b-d9cb-469f-a165_70867728950e",
		"urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950z"}
	for _, s := range valid {
		if !domain.ValidUUID(s) {
			t.Errorf("ValidUUID(%q) = false", s)
		}
	}
	for _, s := range invalid {
		if domain.ValidUUID(s) {
			t.Errorf("ValidUUID(%q) = true", s)
		}
	}
	t.Run("upper case", func(t *testing.T) {
		upper := strings.ToUpper(valid[1])
		for _, s := range []string{upper, "0F8fad5b-d9cb-469f-a165-70867728950e"} {
			if domain.ValidUUID(s) {
				t.Errorf("ValidUUID(%q) = true", s)
			}
		}
		// Two spellings of one command_id would be two commands for R9.
		for name, body := range map[string]string{
			domain.CmdClose:  `{"ticket_id":"` + upper + `"}`,
			domain.CmdReply:  `{"ticket_id":"` + tk1 + `","body":"x","command_id":"` + upper + `"}`,
			domain.CmdAssign: `{"ticket_id":"` + tk1 + `","assignee_id":"` + upper + `"}`,
		} {
			if cmd, err := domain.DecodeCommand(name, []byte(body)); domain.ErrorCode(err) != domain.EInvalid {
				t.Errorf("%s %s decoded as %#v, want invalid_argument", name, body, cmd)
			}
		}
	})
}

func TestValidProfileIDAndPhone(t *testing.T) {
	t.Parallel()
	profiles := map[string]bool{
		"a": true, "Az09._:@+-": true, strings.Repeat("x", 128): true, "user@example.com": true,
		"": false, strings.Repeat("x", 129): false, "a b": false, "a\n": false, "\na": false, "é": false,
		"a/b": false, "a#b": false, "a,b": false, "a\x00": false,
	}
	for s, want := range profiles {
		if got := domain.ValidProfileID(s); got != want {
			t.Errorf("ValidProfileID(%q) = %v, want %v", s, got, want)
		}
	}
	phones := map[string]bool{
		"+12345678": true, "+123456789012345": true, phone1: true,
		"+1234567": false, "+1234567890123456": false, "12345678": false, "+1234567a": false,
		"++12345678": false, "+12345678\n": false, " +12345678": false, "": false, "+": false,
		"+１２３４５６７８": false,
	}
	for s, want := range phones {
		if got := domain.ValidPhone(s); got != want {
			t.Errorf("ValidPhone(%q) = %v, want %v", s, got, want)
		}
	}
}

// The role is checked from the command name before the body is read; only
// inbound is open to integrations, and the engine's own commands to no one.
func TestCommandPermission(t *testing.T) {
	t.Parallel()
	bodies := map[string]string{
		domain.CmdInbound:     `{"profile_id":"p","body":"x"}`,
		domain.CmdReply:       `{"ticket_id":"` + tk1 + `","body":"x"}`,
		domain.CmdNote:        `{"ticket_id":"` + tk1 + `","body":"x"}`,
		domain.CmdAssign:      `{"ticket_id":"` + tk1 + `","assignee_id":null}`,
		domain.CmdSnooze:      `{"ticket_id":"` + tk1 + `","duration":"1h"}`,
		domain.CmdBlock:       `{"phone":"+12345678"}`,
		domain.CmdUnblock:     `{"profile_id":"p"}`,
		domain.CmdReplyStatus: `{"reply_id":"` + tk1 + `","status":"delivered"}`,
	}
	for _, name := range domain.CommandNames {
		body, ok := bodies[name]
		if !ok {
			body = `{"ticket_id":"` + tk1 + `"}`
		}
		cmd, err := domain.DecodeCommand(name, []byte(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		perm, ok := domain.CommandPermission(name)
		if spec, _ := domain.Spec(name); !ok || spec.Permission != perm || cmd.Name() != name {
			t.Errorf("CommandPermission(%q) = %q, %v; want the registered permission", name, perm, ok)
		}
		// Only inbound messages and reply reports are open to
		// integrations (R10, section 7).
		if want := name == domain.CmdInbound || name == domain.CmdReplyStatus; domain.RoleIntegration.Can(perm) != want {
			t.Errorf("integration may send %s: %v, want %v", name, !want, want)
		}
	}
	for _, role := range domain.Roles {
		if role.Can(domain.PermSystem) {
			t.Errorf("role %s holds the engine's own permission", role)
		}
	}
	if _, err := domain.DecodeCommand(domain.CmdWake, []byte(`{"ticket_id":"`+tk1+`"}`)); domain.ErrorCode(err) != domain.EInvalid {
		t.Errorf("the timer's wake decoded from outside: %v", err)
	}
	if _, err := domain.DecodeCommand(domain.CmdReplyHandedOver, []byte(`{"reply_id":"`+tk1+`","status":"sent"}`)); domain.ErrorCode(err) != domain.EInvalid {
		t.Errorf("the relay's record decoded from outside: %v", err)
	}
	for _, name := range []string{"", "delete", "Inbound", "tickets.cmd.close", "users", domain.CmdWake, domain.CmdReplyHandedOver} {
		if perm, ok := domain.CommandPermission(name); ok || perm != "" {
			t.Errorf("CommandPermission(%q) = %q, %v; want none", name, perm, ok)
		}
	}
}

// TestErrorsQuoteAShortPrefix: a rejected value comes back cut short, so
// that a huge input never makes a huge error reply.
func TestErrorsQuoteAShortPrefix(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 200000)
	for _, c := range []struct{ cmd, body string }{
		{domain.CmdInbound, `{"profile_id":"` + huge + `","body":"hi"}`},
		{domain.CmdInbound, `{"profile_id":"p","body":"hi","phone":"` + huge + `"}`},
		{domain.CmdInbound, `{"profile_id":"p","body":"hi","channel":"` + huge + `"}`},
		{domain.CmdInbound, `{"profile_id":"p","body":"hi","command_id":"` + huge + `"}`},
		{domain.CmdInbound, `{"profile_id":"p","body":"hi","` + huge + `":1}`},
		{domain.CmdReply, `{"ticket_id":"` + huge + `","body":"x"}`},
		{domain.CmdAssign, `{"ticket_id":"` + tk1 + `","assignee_id":"` + huge + `"}`},
		{domain.CmdSnooze, `{"ticket_id":"` + tk1 + `","duration":"` + huge + `"}`},
		{domain.CmdBlock, `{"phone":"` + huge + `"}`},
		{huge, `{}`},
	} {
		_, err := domain.DecodeCommand(c.cmd, []byte(c.body))
		if domain.ErrorCode(err) != domain.EInvalid {
			t.Fatalf("%.20s: %v, want invalid_argument", c.body, err)
		}
		if msg := domain.ErrorMessage(err); len(msg) > 300 {
			t.Errorf("%.40s...: a %d-byte error message", c.body, len(msg))
		}
	}
}

// FuzzDecodeBody: every body other than a command's (a new user, the test
// clock) is either decoded into exactly the fields it names, each once, or
// refused as invalid_argument; never a panic, never a partial decode.
func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(`{"name":"Ada","role":"support"}`))
	f.Add([]byte(`{"name":"Ada","role":"support"} x`))
	f.Add([]byte(`{"name":"Ada","role":"support","role":"owner"}`))
	f.Add([]byte(`{"NAME":"Ada"}`))
	f.Add([]byte("{\"name\":\"\xff\"}"))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in struct {
			Name string      `json:"name"`
			Role domain.Role `json:"role"`
		}
		err := domain.DecodeBody(body, &in)
		if err != nil {
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.EInvalid || de.Message == "" || len(de.Message) > 300 {
				t.Fatalf("DecodeBody(%q) = %v; want a short invalid_argument *domain.Error", body, err)
			}
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("accepted invalid UTF-8 %q", body)
		}
		// What decodes must be what a strict standard decoder makes of it.
		var std struct {
			Name string      `json:"name"`
			Role domain.Role `json:"role"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&std); err != nil || std != in || dec.More() {
			t.Fatalf("DecodeBody(%q) = %+v, a strict decoder %+v, %v", body, in, std, err)
		}
	})
}
