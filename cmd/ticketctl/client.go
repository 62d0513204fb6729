package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxReply bounds what ticketctl reads of one reply; an inbox page of 500
// tickets or a long ticket thread is far below it.
const maxReply = 64 << 20

// client calls the engine's HTTP API.
type client struct {
	base  string // scheme://host[:port][/prefix], no trailing slash
	token string
	http  *http.Client
}

// APIError is an error reply of the engine: {"ok":false,"error":{...}}.
type APIError struct {
	Status  int    // HTTP status
	Code    string // the contract's error code, e.g. not_found
	Message string
}

// Error gives the code and message, as main prints them.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Message, e.Status)
}

// errorEnvelope is the shape of every error reply, and of command replies.
type errorEnvelope struct {
	OK    *bool `json:"ok"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// seg escapes one path segment. PathEscape leaves "." and ".." alone,
// which a server's path cleaning would resolve as directories; profile ids
// may be spelled that way, so they are escaped too.
func seg(s string) string {
	switch s {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(s)
}

// do sends one request and returns the reply body of a success. With auth
// the token is required, so that a forgotten token is reported before
// anything is sent rather than as the engine's 401.
func (c *client) do(ctx context.Context, method, path string, q url.Values, body any, auth bool) ([]byte, error) {
	if auth && c.token == "" {
		return nil, usagef("", "no API token: give -token or set TICKETCTL_TOKEN")
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// The URL is in the message already; the hint is for the usual
		// cause, an engine not started or started on another address.
		return nil, fmt.Errorf("%w (is ticketd running there? see -server)", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading reply: %w", method, path, err)
	}
	if len(raw) > maxReply {
		return nil, fmt.Errorf("%s %s: reply larger than %d bytes", method, path, maxReply)
	}
	if apiErr := replyError(resp.StatusCode, raw); apiErr != nil {
		return raw, apiErr
	}
	return raw, nil
}

// replyError returns the API error a reply carries: a non-2xx status, or
// "ok": false whatever the status. A failure reply that is not the
// contract's envelope (a proxy's error page) still yields an error naming
// the status.
func replyError(status int, raw []byte) *APIError {
	var env errorEnvelope
	isObject := bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{"))
	if isObject {
		_ = json.Unmarshal(raw, &env)
	}
	failed := status < 200 || status > 299 || (env.OK != nil && !*env.OK)
	if !failed {
		return nil
	}
	e := &APIError{Status: status}
	if env.Error != nil && env.Error.Code != "" {
		e.Code, e.Message = env.Error.Code, env.Error.Message
		return e
	}
	e.Code = fmt.Sprintf("http_%d", status)
	e.Message = strings.TrimSpace(string(raw))
	if len(e.Message) > 200 {
		e.Message = e.Message[:200] + "..."
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// call sends a request for a subcommand and decodes a success into out
// (unless out is nil); the subcommand prints raw itself with -json. An
// error reply is printed here with -json, so that scripts can read its
// code on stdout as well as see the exit status.
func (r *runner) call(method, path string, q url.Values, body, out any) ([]byte, error) {
	raw, err := r.client.do(r.ctx, method, path, q, body, true)
	if err != nil {
		if _, ok := err.(*APIError); ok && r.json && len(raw) > 0 {
			r.printRaw(raw)
		}
		return raw, err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, fmt.Errorf("%s %s: unexpected reply: %w", method, path, err)
		}
	}
	return raw, nil
}

// printRaw writes a reply as the engine sent it, one per line.
// fetch is call for the subcommands whose -json output is the reply as
// it came: printed reports that it was printed, and nothing is left to do.
func (r *runner) fetch(method, path string, q url.Values, body, out any) (printed bool, err error) {
	raw, err := r.call(method, path, q, body, out)
	if err != nil || !r.json {
		return false, err
	}
	r.printRaw(raw)
	return true, nil
}

func (r *runner) printRaw(raw []byte) {
	_, _ = r.stdout.Write(raw)
	if !bytes.HasSuffix(raw, []byte("\n")) {
		_, _ = io.WriteString(r.stdout, "\n")
	}
}
