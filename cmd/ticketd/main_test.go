package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
	"github.com/ticketbus/ticketbus/natsapi"
)

// MustRunMain starts ticketd in-process on a temporary data directory,
// with the embedded NATS server and the test clock, and stops it when the
// test ends.
func MustRunMain(tb testing.TB, dataDir string) *Main {
	tb.Helper()
	m, err := runMain(tb, slog.New(slog.NewTextHandler(io.Discard, nil)), nil,
		"-data-dir", dataDir, "-nats-listen", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// runMain runs ticketd in-process with these flags and TICKETD_ variables
// besides a free HTTP port, the test clock and the bootstrap owner. It
// returns ParseFlags' or Run's error, and stops ticketd when the test ends.
func runMain(tb testing.TB, logger *slog.Logger, env map[string]string, args ...string) (*Main, error) {
	tb.Helper()
	m := NewMain()
	m.Stdout = io.Discard
	m.Logger = logger
	getenv := func(k string) string {
		if k == "TICKETD_BOOTSTRAP_TOKEN" {
			return ownerToken
		}
		return env[k]
	}
	if err := m.ParseFlags(append([]string{"-http", "127.0.0.1:0", "-test-clock"}, args...), getenv); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		return nil, fmt.Errorf("run: %w", err)
	}
	tb.Cleanup(func() { _ = m.Close() })
	return m, nil
}

// ownerToken is the bootstrap owner's token in these tests.
const ownerToken = "tbk_test-owner-token-0123456789abcdefghijklmnop"

// client speaks to one running Main as one user.
type client struct {
	tb    testing.TB
	m     *Main
	token string
	last  uint64 // position of this client's last write, for read-your-writes
}

func (c *client) do(method, path string, body any, out any) int {
	c.tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+c.m.HTTPAddr()+path, rd)
	if err != nil {
		c.tb.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.tb.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// cmdReply is a command's JSON answer, decoded apart from the production type.
type cmdReply = eventstoretest.Reply

// cmd sends a command over HTTP and fails the test unless it succeeds.
func (c *client) cmd(name string, body map[string]any) cmdReply {
	c.tb.Helper()
	var r cmdReply
	status := c.do("POST", "/v1/commands/"+name, body, &r)
	if status != 200 || !r.OK {
		c.tb.Fatalf("%s %v: status %d, %+v", name, body, status, r.Error)
	}
	c.last = r.Position
	return r
}

// natsProducer connects to url as a producer does: logged in with token,
// on the inbox prefix of token's user.
func natsProducer(tb testing.TB, m *Main, url, token string, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	user, err := m.Engine.Authenticate(context.Background(), token)
	if err != nil {
		tb.Fatal(err)
	}
	nc, err := nats.Connect(url, append([]nats.Option{nats.Token(token), nats.CustomInboxPrefix(natsapi.InboxPrefix(user.ID))}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// natsCmd sends a command over NATS, as a producer.
func (c *client) natsCmd(name string, body map[string]any) cmdReply {
	c.tb.Helper()
	nc := natsProducer(c.tb, c.m, c.m.Server.ClientURL(), c.token)
	defer nc.Close()
	b, _ := json.Marshal(body)
	msg := nats.NewMsg("tickets.cmd." + name)
	msg.Data = b
	msg.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := nc.RequestMsg(msg, 10*time.Second)
	if err != nil {
		c.tb.Fatal(err)
	}
	var r cmdReply
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		c.tb.Fatal(err)
	}
	if r.OK {
		c.last = r.Position
	}
	return r
}

// summary is a ticket as the list and the detail return it.
type summary struct {
	ID            string     `json:"id"`
	ProfileID     string     `json:"profile_id"`
	Status        string     `json:"status"`
	AssigneeID    *string    `json:"assignee_id"`
	Unread        bool       `json:"unread"`
	SnoozedUntil  *time.Time `json:"snoozed_until"`
	ClosedAt      *time.Time `json:"closed_at"`
	LastMessageAt time.Time  `json:"last_message_at"`
	WaitingSince  *time.Time `json:"waiting_since"`
	Preview       string     `json:"preview"`
	MessageCount  int        `json:"message_count"`
	Messages      []struct {
		ID        string `json:"id"`
		Direction string `json:"direction"`
		Body      string `json:"body"`
		AuthorID  string `json:"author_id"`
	} `json:"messages"`
}

// list returns the ids in one view and status, read after the client's
// last write.
func (c *client) list(view, status string) []summary {
	c.tb.Helper()
	var page struct {
		Tickets []summary `json:"tickets"`
	}
	q := url.Values{"view": {view}, "status": {status}, "min_position": {fmt.Sprint(c.last)}}
	if code := c.do("GET", "/v1/tickets?"+q.Encode(), nil, &page); code != 200 {
		c.tb.Fatalf("list %s/%s: status %d", view, status, code)
	}
	return page.Tickets
}

func ids(ts []summary) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

func contains(ts []summary, id string) bool {
	for _, t := range ts {
		if t.ID == id {
			return true
		}
	}
	return false
}

func newID() string { return uuid.NewString() }
