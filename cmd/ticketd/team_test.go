package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// newUser creates a user of role and returns a client with its token and
// its id.
func newUser(t *testing.T, m *Main, name, role string) (*client, string) {
	t.Helper()
	owner := &client{tb: t, m: m, token: ownerToken}
	var u struct{ ID, Token string }
	if code := owner.do("POST", "/v1/users", map[string]any{"name": name, "role": role}, &u); code != http.StatusCreated {
		t.Fatalf("create %s: %d", role, code)
	}
	return &client{tb: t, m: m, token: u.Token}, u.ID
}

// search runs GET /v1/tickets with q and the other parameters given, read
// after the client's last write, and returns the status and the ids.
func (c *client) search(q string, params ...string) (int, []string) {
	c.tb.Helper()
	v := url.Values{"q": {q}, "min_position": {itoa(c.last)}}
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	var page struct {
		Tickets []summary `json:"tickets"`
	}
	code := c.do("GET", "/v1/tickets?"+v.Encode(), nil, &page)
	return code, ids(page.Tickets)
}

// TestNotesOverHTTP: an agent's note shows among the messages with its
// author, on an open or a closed ticket, and changes nothing else; roles
// without the inbox may not write one.
func TestNotesOverHTTP(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, t.TempDir())
	nora, noraID := newUser(t, m, "Nora", "support")
	analyst, _ := newUser(t, m, "Ana", "analyst")
	gateway, _ := newUser(t, m, "GW", "integration")
	tk := nora.cmd("inbound", map[string]any{"profile_id": "paula", "body": "Is my refund coming?"}).TicketID
	before := nora.list("all", "open")[0]
	nora.cmd("note", map[string]any{"ticket_id": tk, "body": "Refund approved by finance"})
	var d summary
	if code := nora.do("GET", "/v1/tickets/"+tk+"?min_position="+itoa(nora.last), nil, &d); code != 200 {
		t.Fatalf("show: %d", code)
	}
	if len(d.Messages) != 2 || d.Messages[1].Direction != "note" || d.Messages[1].Body != "Refund approved by finance" ||
		d.Messages[1].AuthorID != noraID {
		t.Fatalf("messages: %+v", d.Messages)
	}
	if d.Status != "open" || !d.Unread || d.AssigneeID != nil || d.Preview != before.Preview ||
		!d.LastMessageAt.Equal(before.LastMessageAt) || d.MessageCount != 2 {
		t.Fatalf("the note changed the ticket: %+v", d)
	}
	nora.cmd("close", map[string]any{"ticket_id": tk})
	nora.cmd("note", map[string]any{"ticket_id": tk, "body": "Closed: paid back on Monday"})
	for _, c := range []struct {
		who  *client
		body map[string]any
		want int
	}{
		{analyst, map[string]any{"ticket_id": tk, "body": "x"}, http.StatusForbidden},
		{gateway, map[string]any{"ticket_id": tk, "body": "x"}, http.StatusForbidden},
		{nora, map[string]any{"ticket_id": tk, "body": ""}, http.StatusBadRequest},
		{nora, map[string]any{"ticket_id": newID(), "body": "x"}, http.StatusNotFound},
	} {
		if got := c.who.do("POST", "/v1/commands/note", c.body, nil); got != c.want {
			t.Errorf("note %v: %d, want %d", c.body, got, c.want)
		}
	}
}

// TestNotesNeverReachWebhooks: a webhook subscribed to every event gets
// the reply written after a note, and never the note. Events of a ticket
// reach a webhook in log order, so the note would have come first.
func TestNotesNeverReachWebhooks(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, t.TempDir())
	owner := &client{tb: t, m: m, token: ownerToken}
	var mu sync.Mutex
	var types []string
	replied := make(chan struct{})
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d struct {
			Type string `json:"type"`
		}
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &d)
		mu.Lock()
		if !slices.Contains(types, d.Type) && d.Type == "ReplySent" {
			close(replied)
		}
		types = append(types, d.Type)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer rs.Close()
	if code := owner.do("POST", "/v1/webhooks", map[string]any{"url": rs.URL, "events": []string{"*"}}, nil); code != http.StatusCreated {
		t.Fatalf("create webhook: %d", code)
	}
	if code := owner.do("POST", "/v1/webhooks", map[string]any{"url": rs.URL, "events": []string{"NoteAdded"}}, nil); code != http.StatusBadRequest {
		t.Fatalf("a webhook for NoteAdded: %d, want 400", code)
	}
	tk := owner.cmd("inbound", map[string]any{"profile_id": "quentin", "body": "hello"}).TicketID
	owner.cmd("note", map[string]any{"ticket_id": tk, "body": "VIP, answer fast"})
	owner.cmd("reply", map[string]any{"ticket_id": tk, "body": "Hello Quentin"})
	select {
	case <-replied:
	case <-time.After(30 * time.Second):
		t.Fatal("the reply was not delivered")
	}
	mu.Lock()
	defer mu.Unlock()
	if slices.Contains(types, "NoteAdded") {
		t.Fatalf("a webhook received a note: %v", types)
	}
}

// TestSearchOverHTTP: q searches every status unless one is given,
// within a view, and finds notes and replies; a blocked customer's words
// are then found nowhere, neither by a search nor in any file of the data
// directory.
func TestSearchOverHTTP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := MustRunMain(t, dir)
	ada, adaID := newUser(t, m, "Ada", "support")
	open := ada.cmd("inbound", map[string]any{"profile_id": "rita", "phone": "+33611223344",
		"body": "Mon colis Zanzibarquokka est cassé"}).TicketID
	ada.cmd("assign", map[string]any{"ticket_id": open, "assignee_id": adaID})
	m.Clock.Advance(time.Minute) // newest first: the second ticket lists first
	closed := ada.cmd("inbound", map[string]any{"profile_id": "sam", "body": "Colis jamais reçu"}).TicketID
	ada.cmd("reply", map[string]any{"ticket_id": closed, "body": "Remboursement envoyé"})
	ada.cmd("note", map[string]any{"ticket_id": closed, "body": "Transporteur prévenu"})
	ada.cmd("close", map[string]any{"ticket_id": closed})
	for _, c := range []struct {
		q      string
		params []string
		want   []string
	}{
		{"colis", nil, []string{closed, open}},
		{"COLIS casse", nil, []string{open}},
		{"colis", []string{"status", "open"}, []string{open}},
		{"colis", []string{"status", "closed"}, []string{closed}},
		{"colis", []string{"view", "mine"}, []string{open}},
		{"colis", []string{"view", "unassigned", "limit", "1"}, []string{closed}},
		{"rembours", nil, []string{closed}},
		{"transporteur", nil, []string{closed}},
		{"+33611223344", nil, []string{open}},
		{"rita", nil, []string{open}},
		{closed[:8], nil, []string{closed}},
		{"nothing here", nil, []string{}},
	} {
		code, got := ada.search(c.q, c.params...)
		if code != 200 || !slices.Equal(got, c.want) {
			t.Errorf("q=%q %v: %d %v, want %v", c.q, c.params, code, got, c.want)
		}
	}
	for _, bad := range [][]string{{"q", "a b c d e f g h i"}, {"q", "x", "status", "lost"}, {"q", "x", "view", "everyone"}} {
		v := url.Values{}
		for i := 0; i < len(bad); i += 2 {
			v.Set(bad[i], bad[i+1])
		}
		var r cmdReply
		if code := ada.do("GET", "/v1/tickets?"+v.Encode(), nil, &r); code != http.StatusBadRequest || r.Code() != "invalid_argument" {
			t.Errorf("%v: %d %+v, want 400 invalid_argument", bad, code, r.Error)
		}
	}

	if files := filesHolding(t, dir, "anzibarquokka"); len(files) == 0 {
		t.Fatal("the word is in no file before the block: this test could not see it stay")
	}
	ada.cmd("block", map[string]any{"profile_id": "rita"})
	for _, q := range []string{"zanzibarquokka", "Zanzibar"} {
		if code, got := ada.search(q); code != 200 || len(got) != 0 {
			t.Fatalf("after the block %q finds %d %v", q, code, got)
		}
	}
	// The ticket itself is still found by what stays: its profile and id.
	if _, got := ada.search("rita " + open[:8]); !slices.Equal(got, []string{open}) {
		t.Fatalf("the blocked profile's ticket: %v", got)
	}
	if files := filesHolding(t, dir, "anzibarquokka"); len(files) > 0 {
		t.Fatalf("after the block the erased word is still in %v", files)
	}
}

// filesHolding lists the files under dir whose bytes contain text, in
// any case the text is written (the search index folds it).
func filesHolding(t *testing.T, dir, text string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return nil // files gone meanwhile
		}
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(bytes.ToLower(b), bytes.ToLower([]byte(text))) {
			rel, _ := filepath.Rel(dir, path)
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestTeammates: every inbox role lists the users, names and roles, never
// tokens; the other roles may not.
func TestTeammates(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, t.TempDir())
	for _, c := range []struct {
		role string
		want int
	}{
		{"owner", 200}, {"admin", 200}, {"manager", 200}, {"support", 200},
		{"analyst", 403}, {"campaign_coordinator", 403}, {"content_creator", 403}, {"integration", 403},
	} {
		cl, _ := newUser(t, m, "user "+c.role, c.role)
		last, err := m.Log.LastSeq(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var raw json.RawMessage
		code := cl.do("GET", "/v1/users?min_position="+itoa(last), nil, &raw)
		if code != c.want {
			t.Errorf("%s lists users: %d, want %d", c.role, code, c.want)
		}
		if code != 200 {
			continue
		}
		var users []map[string]any
		if err := json.Unmarshal(raw, &users); err != nil || len(users) < 2 {
			t.Fatalf("%s: %s", c.role, raw)
		}
		for _, u := range users {
			if len(u) != 3 || u["id"] == nil || u["name"] == nil || u["role"] == nil {
				t.Fatalf("%s sees a user as %v, want id, name and role only", c.role, u)
			}
		}
		if bytes.Contains(raw, []byte("tbk_")) || bytes.Contains(raw, []byte("token")) {
			t.Fatalf("the list shows tokens: %s", raw)
		}
	}
}
