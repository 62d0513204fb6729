package clustertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// apiClient calls a ticketd's HTTP API with one token.
type apiClient struct {
	t     *testing.T
	url   string
	token string
}

// do sends a request and decodes a 2xx answer into out; it returns the
// status, or 0 when the request did not get through.
func (a *apiClient) do(method, path string, body, out any) int {
	a.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			a.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// cmd sends a command, resending it (same command_id) while the cluster
// answers unavailable, and fails the test on any other error.
func (a *apiClient) cmd(name string, body map[string]any) {
	a.t.Helper()
	body["command_id"] = newUUID()
	var reply struct {
		OK bool `json:"ok"`
	}
	var code int
	waitFor(a.t, time.Minute, name+" accepted", func() bool {
		code = a.do("POST", "/v1/commands/"+name, body, &reply)
		if code/100 == 2 {
			return reply.OK
		}
		if code == 0 || code == http.StatusServiceUnavailable || code == http.StatusConflict {
			return false
		}
		a.t.Fatalf("%s: HTTP %d", name, code)
		return false
	}, func() string { return fmt.Sprintf("HTTP %d", code) })
}

// erasureStatus is GET /v1/erasure's answer.
type erasureStatus struct {
	Pending    int      `json:"pending"`
	WaitingFor []string `json:"waiting_for"`
	Generation uint64   `json:"keyring_generation"`
}

func (a *apiClient) erasure() erasureStatus {
	a.t.Helper()
	var st erasureStatus
	if code := a.do("GET", "/v1/erasure", nil, &st); code != http.StatusOK {
		return erasureStatus{WaitingFor: []string{fmt.Sprintf("(GET /v1/erasure: HTTP %d)", code)}}
	}
	return st
}

// profileErasure is the profile's erasure state, "" when it cannot be read.
func (a *apiClient) profileErasure(profile string) string {
	a.t.Helper()
	var p struct {
		Erasure string `json:"erasure"`
	}
	a.do("GET", "/v1/profiles/"+profile, nil, &p)
	return p.Erasure
}

func stString(st erasureStatus) string {
	return fmt.Sprintf("pending %d, waiting for [%s], keyring %d", st.Pending, strings.Join(st.WaitingFor, ", "), st.Generation)
}

func newUUID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}
