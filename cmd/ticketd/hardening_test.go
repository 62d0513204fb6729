package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSecurityHeaders: every answer forbids framing, sniffing and
// referrers and carries the page's policy; every /v1 answer, which may
// hold a customer's text, forbids any copy in a browser or proxy cache, so
// that a block erases what the agent's browser was shown (R6).
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, t.TempDir())
	cases := []struct {
		method, path, token string
		noStore             bool
	}{
		{"GET", "/v1/tickets", ownerToken, true},
		{"GET", "/v1/tickets", "", true}, // refused, still not stored
		{"POST", "/v1/commands/inbound", ownerToken, true},
		{"GET", "/v1/me", ownerToken, true},
		{"GET", "/", "", false},
		{"GET", "/web/app.js", "", false},
		{"GET", "/healthz", "", false},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			req, err := http.NewRequest(c.method, "http://"+m.HTTPAddr()+c.path, strings.NewReader(`{"profile_id":"p","body":"hello"}`))
			if err != nil {
				t.Fatal(err)
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := resp.Header
			for name, want := range map[string]string{
				"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
			} {
				if got := h.Get(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") {
				t.Errorf("Content-Security-Policy %q allows inline code", csp)
			}
			if got := h.Get("Cache-Control"); (got == "no-store") != c.noStore {
				t.Errorf("Cache-Control %q, want no-store: %v", got, c.noStore)
			}
		})
	}
}

// TestSlowClientWithoutTokenIsCutOff: a command whose caller has no valid
// token is refused from its headers, before its body is read, so that a
// client sending "{" and waiting holds nothing.
func TestSlowClientWithoutTokenIsCutOff(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, t.TempDir())
	conn, err := net.Dial("tcp", m.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A body announced as 1,000 bytes, of which one is sent.
	fmt.Fprintf(conn, "POST /v1/commands/inbound HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tbk_wrong\r\nContent-Length: 1000\r\n\r\n{")
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the body is still coming: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401 before the body", resp.StatusCode)
	}
}

// TestUsersBodyIsStrict: POST /v1/users decodes as strictly as a command,
// and writes nothing for a body it refuses.
func TestUsersBodyIsStrict(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, t.TempDir())
	owner := &client{tb: t, m: m, token: ownerToken}
	for _, body := range []string{
		`{"name":"ada","role":"support"} trailing`,
		`{"name":"ada","role":"support","role":"owner"}`,
		`{"name":"ada","ROLE":"support"}`,
		`{"name":"ada","role":"support","extra":1}`,
		"{\"name\":\"a\xffb\",\"role\":\"support\"}",
		`["ada","support"]`,
		``,
	} {
		req, err := http.NewRequest("POST", "http://"+m.HTTPAddr()+"/v1/users", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+ownerToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("body %q: status %d, want 400", body, resp.StatusCode)
		}
	}
	last, err := m.Log.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var users []struct{ Name string }
	if code := owner.do("GET", "/v1/users?min_position="+itoa(last), nil, &users); code != 200 || len(users) != 1 {
		t.Fatalf("users after refused bodies: %d %+v, want the owner alone", code, users)
	}
}

// TestOnlyAnOwnerMakesOwnersAndAdmins: an admin manages users but cannot
// make an owner or another admin (docs/security.md, role management).
func TestOnlyAnOwnerMakesOwnersAndAdmins(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, t.TempDir())
	owner := &client{tb: t, m: m, token: ownerToken}
	var admin struct{ Token string }
	if code := owner.do("POST", "/v1/users", map[string]any{"name": "Ann", "role": "admin"}, &admin); code != 201 {
		t.Fatalf("owner creates an admin: %d", code)
	}
	as := &client{tb: t, m: m, token: admin.Token}
	for role, want := range map[string]int{"owner": 403, "admin": 403, "manager": 201, "support": 201, "integration": 201} {
		if code := as.do("POST", "/v1/users", map[string]any{"name": "x", "role": role}, nil); code != want {
			t.Errorf("admin creates %s: %d, want %d", role, code, want)
		}
	}
	if code := owner.do("POST", "/v1/users", map[string]any{"name": "Olga", "role": "owner"}, nil); code != 201 {
		t.Errorf("owner creates an owner: %d", code)
	}
}
