package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWaitingOverHTTP: each ticket says since when its customer waits,
// GET /v1/tickets?sort=waiting lists the longest waiting first, then the
// answered ones, newest first, plain or searched, in pages whose cursors
// only their own sort takes.
func TestWaitingOverHTTP(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, t.TempDir())
	owner := &client{tb: t, m: m, token: ownerToken}
	minute := func() {
		if code := owner.do("POST", "/v1/test-clock/advance", map[string]string{"duration": "1m"}, nil); code != 200 {
			t.Fatalf("advance the clock: %d", code)
		}
	}
	answered := owner.cmd("inbound", map[string]any{"profile_id": "ann", "body": "parcel lost"}).TicketID
	minute()
	longest := owner.cmd("inbound", map[string]any{"profile_id": "ben", "body": "parcel late"}).TicketID
	minute()
	owner.cmd("reply", map[string]any{"ticket_id": answered, "body": "found it"})
	minute()
	later := owner.cmd("inbound", map[string]any{"profile_id": "cid", "body": "parcel broken"}).TicketID
	minute()
	owner.cmd("note", map[string]any{"ticket_id": later, "body": "call the carrier"})

	list := func(params ...string) (int, []summary, *string) {
		t.Helper()
		v := url.Values{"min_position": {itoa(owner.last)}}
		for i := 0; i+1 < len(params); i += 2 {
			v.Set(params[i], params[i+1])
		}
		var page struct {
			Tickets    []summary `json:"tickets"`
			NextCursor *string   `json:"next_cursor"`
		}
		code := owner.do("GET", "/v1/tickets?"+v.Encode(), nil, &page)
		return code, page.Tickets, page.NextCursor
	}
	byWait := []string{longest, later, answered}
	for _, c := range []struct {
		name   string
		params []string
		want   []string
	}{
		{"newest by default", nil, []string{later, answered, longest}},
		{"newest", []string{"sort", "newest"}, []string{later, answered, longest}},
		{"waiting", []string{"sort", "waiting"}, byWait},
		{"waiting, unassigned", []string{"sort", "waiting", "view", "unassigned"}, byWait},
		{"waiting, searched", []string{"sort", "waiting", "q", "parcel"}, byWait},
		{"waiting, searched, open", []string{"sort", "waiting", "q", "parcel", "status", "open"}, byWait},
	} {
		code, got, _ := list(c.params...)
		if code != 200 || !slices.Equal(ids(got), c.want) {
			t.Errorf("%s: %d %v, want %v", c.name, code, ids(got), c.want)
		}
	}

	// One ticket a page: the cursors walk the same order.
	var got []string
	var cursor *string
	for page := 0; page == 0 || cursor != nil; page++ {
		params := []string{"sort", "waiting", "limit", "1"}
		if cursor != nil {
			params = append(params, "cursor", *cursor)
		}
		code, ts, next := list(params...)
		if code != 200 || page > 3 {
			t.Fatalf("page %d: %d", page, code)
		}
		got, cursor = append(got, ids(ts)...), next
	}
	if !slices.Equal(got, byWait) {
		t.Errorf("pages of one: %v, want %v", got, byWait)
	}
	_, _, waitCursor := list("sort", "waiting", "limit", "1")
	_, _, newCursor := list("limit", "1")
	for _, c := range []struct{ sort, cursor string }{{"newest", *waitCursor}, {"", *waitCursor}, {"waiting", *newCursor}} {
		var r cmdReply
		path := "/v1/tickets?" + url.Values{"sort": {c.sort}, "cursor": {c.cursor}}.Encode()
		if code := owner.do("GET", path, nil, &r); code != http.StatusBadRequest || r.Code() != "invalid_argument" ||
			!strings.Contains(r.Error.Message, "another sort") {
			t.Errorf("sort %q with another sort's cursor: %d %+v", c.sort, code, r.Error)
		}
	}

	// The list and the detail carry waiting_since: the first message
	// after the last reply, none after a reply.
	_, ts, _ := list("sort", "waiting")
	var d summary
	if code := owner.do("GET", "/v1/tickets/"+longest, nil, &d); code != 200 || d.WaitingSince == nil ||
		!d.WaitingSince.Equal(ts[0].LastMessageAt) || ts[0].WaitingSince == nil || !ts[0].WaitingSince.Equal(*d.WaitingSince) {
		t.Errorf("waiting_since: detail %v, list %v, want the time of the message %v", d.WaitingSince, ts[0].WaitingSince, ts[0].LastMessageAt)
	}
	if ts[2].WaitingSince != nil {
		t.Errorf("the answered ticket waits since %v", ts[2].WaitingSince)
	}
	if ts[1].WaitingSince == nil || !ts[1].WaitingSince.Equal(ts[1].LastMessageAt) ||
		!ts[1].WaitingSince.After(ts[0].WaitingSince.Add(time.Minute)) {
		t.Errorf("the noted ticket waits since %v, want its message's time %v", ts[1].WaitingSince, ts[1].LastMessageAt)
	}
}
