package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// hostileCase is one request that must be refused as invalid_argument,
// whichever transport carries it.
type hostileCase struct {
	name    string // test name
	command string // the command name in the subject or path
	body    []byte
}

func hostileCases() []hostileCase {
	tid := `"ticket_id":"` + newID() + `"`
	big := strings.Repeat("A", 1_000_000)
	return []hostileCase{
		{"sql profile id", "inbound", []byte(`{"profile_id":"'; DROP TABLE tickets; --","body":"hi"}`)},
		{"sql profile id or", "inbound", []byte(`{"profile_id":"1' OR '1'='1","body":"hi"}`)},
		{"sql block profile id", "block", []byte(`{"profile_id":"x'); DELETE FROM profiles; --"}`)},
		{"sql ticket id", "close", []byte(`{"ticket_id":"' OR 1=1 --"}`)},
		{"sql assignee", "assign", []byte(`{` + tid + `,"assignee_id":"'; UPDATE users SET role='owner'; --"}`)},
		{"control characters in body", "inbound", []byte(`{"profile_id":"ctl-1","body":"bell\u0007null\u0000esc\u001b"}`)},
		{"control characters in profile id", "inbound", []byte(`{"profile_id":"p\u0000\n","body":"hi"}`)},
		{"raw control byte", "inbound", []byte("{\"profile_id\":\"ctl-2\",\"body\":\"a\x01b\"}")},
		{"1 MB body", "inbound", []byte(`{"profile_id":"big-1","body":"` + big + `"}`)},
		{"1 MB of garbage", "reply", bytes.Repeat([]byte{'{'}, 1_000_000)},
		{"invalid UTF-8 in body", "inbound", []byte("{\"profile_id\":\"utf-1\",\"body\":\"\xff\xfe\xc3\x28\"}")},
		{"invalid UTF-8 in profile id", "inbound", []byte("{\"profile_id\":\"\xc0\xaf\",\"body\":\"hi\"}")},
		{"invalid UTF-8 outside strings", "inbound", []byte("\xef\xbb\xbf\xff{\"profile_id\":\"p\",\"body\":\"hi\"}")},
		{"number as profile id", "inbound", []byte(`{"profile_id":42,"body":"hi"}`)},
		{"bool as body", "inbound", []byte(`{"profile_id":"p","body":true}`)},
		{"array as ticket id", "mark_read", []byte(`{"ticket_id":["a","b"]}`)},
		{"string as assignee object", "assign", []byte(`{` + tid + `,"assignee_id":{"id":"x"}}`)},
		{"unknown field", "inbound", []byte(`{"profile_id":"p","body":"hi","admin":true}`)},
		{"case-variant field", "inbound", []byte(`{"Profile_ID":"p","body":"hi"}`)},
		{"duplicate field", "inbound", []byte(`{"profile_id":"a","profile_id":"b","body":"hi"}`)},
		{"unknown command", "delete_everything", []byte(`{"profile_id":"p"}`)},
		{"case-variant command", "Inbound", []byte(`{"profile_id":"p","body":"hi"}`)},
		{"sql command name", "inbound;DROP", []byte(`{"profile_id":"p","body":"hi"}`)},
		{"nested JSON", "inbound", []byte(`{"profile_id":{"a":{"b":{"c":[1,[2,[3]]]}}},"body":"hi"}`)},
		{"deep nesting", "inbound", []byte(strings.Repeat(`{"a":`, 10_000) + `1` + strings.Repeat(`}`, 10_000))},
		{"JSON array", "inbound", []byte(`[{"profile_id":"p","body":"hi"}]`)},
		{"JSON null", "close", []byte(`null`)},
		{"empty body", "inbound", []byte(``)},
		{"two objects", "inbound", []byte(`{"profile_id":"p","body":"hi"}{"profile_id":"q","body":"hi"}`)},
		{"truncated JSON", "inbound", []byte(`{"profile_id":"p","body":"hi`)},
		{"number out of range", "snooze", []byte(`{` + tid + `,"duration":1e400}`)},
		{"huge duration", "snooze", []byte(`{` + tid + `,"duration":"99999999999999999999h"}`)},
		{"year out of range", "snooze", []byte(`{` + tid + `,"until":"99999-01-01T00:00:00Z"}`)},
		{"number as channel", "inbound", []byte(`{"profile_id":"p","body":"hi","channel":18446744073709551616}`)},
		{"bad command id", "inbound", []byte(`{"command_id":"'; DROP TABLE events; --","profile_id":"p","body":"hi"}`)},
	}
}

// natsRaw sends a raw command body over NATS as an anonymous producer and
// returns the decoded reply.
func natsRaw(t *testing.T, nc *nats.Conn, token, name string, body []byte) cmdReply {
	t.Helper()
	msg := nats.NewMsg("tickets.cmd." + name)
	msg.Data = body
	msg.Header.Set("Authorization", "Bearer "+token)
	resp, err := nc.RequestMsg(msg, 10*time.Second)
	if err != nil {
		t.Fatalf("nats %s: %v", name, err)
	}
	var r cmdReply
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		t.Fatalf("nats %s: decode %q: %v", name, resp.Data, err)
	}
	return r
}

// httpRaw posts a raw command body and returns the status and the reply.
func httpRaw(t *testing.T, m *Main, token, name string, body []byte) (int, cmdReply) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+m.HTTPAddr()+"/v1/commands/"+name, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("http %s: %v", name, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r cmdReply
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("http %s: decode %q: %v", name, raw, err)
	}
	return resp.StatusCode, r
}

func TestHostileInputBothTransports(t *testing.T) {
	m := MustRunMain(t, t.TempDir())
	ctx := context.Background()
	owner := &client{tb: t, m: m, token: ownerToken}
	// A ticket exists, so that ticket commands have something to aim at.
	opened := owner.cmd("inbound", map[string]any{"profile_id": "hostile-base", "body": "first"})

	nc := natsProducer(t, m, m.Server.ClientURL(), ownerToken)

	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			before, err := m.Log.LastSeq(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if r := natsRaw(t, nc, ownerToken, tc.command, tc.body); r.OK || r.Code() != "invalid_argument" || r.Error.Message == "" {
				t.Errorf("nats: got %+v (%+v), want invalid_argument", r, r.Error)
			}
			status, r := httpRaw(t, m, ownerToken, tc.command, tc.body)
			if status != http.StatusBadRequest || r.OK || r.Code() != "invalid_argument" || r.Error.Message == "" {
				t.Errorf("http: status %d, got %+v (%+v), want 400 invalid_argument", status, r, r.Error)
			}
			after, err := m.Log.LastSeq(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Errorf("the log moved from %d to %d on a refused command", before, after)
			}
		})
	}

	// The engine still answers on both transports.
	if r := owner.natsCmd("inbound", map[string]any{"profile_id": "hostile-base", "body": "still there?"}); !r.OK || r.TicketID != opened.TicketID {
		t.Fatalf("nats inbound after hostile input: %+v (%+v)", r, r.Error)
	}
	if r := owner.cmd("inbound", map[string]any{"profile_id": "hostile-after", "body": "hello"}); r.Outcome != "opened" {
		t.Fatalf("http inbound after hostile input: %+v", r)
	}
	if !contains(owner.list("all", "open"), opened.TicketID) {
		t.Fatalf("ticket %s missing from the open list", opened.TicketID)
	}
}

// SQL-looking text in a message body is ordinary free text: it is stored
// verbatim and the views keep working.
func TestHostileInputSQLBodyIsText(t *testing.T) {
	m := MustRunMain(t, t.TempDir())
	owner := &client{tb: t, m: m, token: ownerToken}
	bodies := map[string]string{
		"sql-http": "'; DROP TABLE tickets; --",
		"sql-nats": "Robert'); DROP TABLE messages;-- \"quoted\" \\ 100% _under_",
	}

	viaHTTP := owner.cmd("inbound", map[string]any{"profile_id": "sql-http", "body": bodies["sql-http"]})
	viaNATS := owner.natsCmd("inbound", map[string]any{"profile_id": "sql-nats", "body": bodies["sql-nats"]})
	if !viaNATS.OK || viaNATS.Outcome != "opened" {
		t.Fatalf("nats inbound: %+v (%+v)", viaNATS, viaNATS.Error)
	}
	reply := owner.cmd("reply", map[string]any{"ticket_id": viaHTTP.TicketID, "body": "1; DELETE FROM users WHERE 1=1; --"})
	if reply.Outcome != "done" {
		t.Fatalf("reply: %+v", reply)
	}

	open := owner.list("all", "open")
	byID := map[string]summary{}
	for _, s := range open {
		byID[s.ID] = s
	}
	for _, r := range []cmdReply{viaHTTP, viaNATS} {
		s, ok := byID[r.TicketID]
		if !ok {
			t.Fatalf("ticket %s of %s missing from %v", r.TicketID, r.ProfileID, ids(open))
		}
		want := bodies[r.ProfileID]
		if r.TicketID == viaHTTP.TicketID {
			want = "1; DELETE FROM users WHERE 1=1; --"
		}
		if s.Preview != want {
			t.Errorf("preview of %s = %q, want %q", r.ProfileID, s.Preview, want)
		}
		var detail summary
		if code := owner.do("GET", "/v1/tickets/"+r.TicketID, nil, &detail); code != 200 {
			t.Fatalf("GET ticket %s: %d", r.TicketID, code)
		}
		if len(detail.Messages) == 0 || detail.Messages[0].Body != bodies[r.ProfileID] {
			t.Errorf("messages of %s = %+v, want first body %q", r.ProfileID, detail.Messages, bodies[r.ProfileID])
		}
	}
	var counts map[string]map[string]int
	if code := owner.do("GET", "/v1/tickets/counts", nil, &counts); code != 200 || counts["all"]["open"] != 2 {
		t.Fatalf("counts: %d %v", code, counts)
	}
}
