package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startupDeadline bounds how long ticketd may take to print its HTTP
// address; a first start creates the stream and the views.
const startupDeadline = 60 * time.Second

// TestEndToEnd drives a real ticketd, built from ../ticketd, through a
// ticket's life. It is skipped until the engine serves the HTTP API.
func TestEndToEnd(t *testing.T) {
	if _, err := os.Stat("../ticketd/http.go"); err != nil {
		t.Skip("ticketd has no HTTP API yet (../ticketd/http.go missing)")
	}
	if testing.Short() {
		t.Skip("builds and starts ticketd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	bin := buildTicketd(ctx, t)
	token := randomToken()
	server := startTicketd(ctx, t, bin, token)
	env := map[string]string{"TICKETCTL_SERVER": server, "TICKETCTL_TOKEN": token}
	ctl := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
		if err := m.Run(ctx, args); err != nil {
			t.Fatalf("ticketctl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		return out.String()
	}
	// send runs a command with -json and returns its reply, so that the
	// queries after it can ask for its position (read-your-writes).
	send := func(args ...string) commandReply {
		t.Helper()
		var rep commandReply
		out := ctl(append([]string{"-json"}, args...)...)
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("ticketctl %s: %v: %q", strings.Join(args, " "), err, out)
		}
		return rep
	}
	pos := func(rep commandReply) string { return strconv.FormatInt(rep.Position, 10) }

	profile := "e2e-" + newUUID()[:8]
	opened := send("inbound", "-profile", profile, "-body", "Hello, my parcel is late", "-channel", "sms")
	if opened.Outcome != "opened" || opened.TicketID == "" {
		t.Fatalf("inbound: %+v, want a new ticket", opened)
	}
	id := opened.TicketID

	row := rowOf(t, ctl("inbox", "-min-position", pos(opened)), id)
	if !strings.Contains(row, unreadDot) || !strings.Contains(row, profile) {
		t.Errorf("new ticket's inbox row %q, want the profile and the blue dot", row)
	}
	if out := ctl("show", id); !strings.Contains(out, "inbound ("+profile+"): Hello, my parcel is late") {
		t.Errorf("show:\n%s", out)
	}
	// The customer waits since their message (WAITING SINCE is the sixth
	// column, LAST MESSAGE the eighth), until the reply below.
	waiting := func(after commandReply) string {
		t.Helper()
		f := fields(rowOf(t, ctl("inbox", "-sort", "waiting", "-min-position", pos(after)), id))
		if len(f) < 8 {
			t.Fatalf("inbox row %q", f)
		}
		if f[5] != "-" && f[5] != f[7] {
			t.Errorf("waiting since %s, last message %s: want the message's time", f[5], f[7])
		}
		return f[5]
	}
	if waiting(opened) == "-" {
		t.Error("the customer's first message is not waiting")
	}
	// A reply shows its delivery status: no webhook takes it here.
	replied := send("reply", "-ticket", id, "-body", "It is on its way")
	if out := ctl("show", id, "-min-position", pos(replied)); !strings.Contains(out, " [pending]: It is on its way") {
		t.Errorf("show after a reply:\n%s", out)
	}
	if since := waiting(replied); since != "-" {
		t.Errorf("after the reply the customer still waits since %s", since)
	}

	read := send("mark-read", "-ticket", id)
	if row := rowOf(t, ctl("inbox", "-min-position", pos(read)), id); strings.Contains(row, unreadDot) {
		t.Errorf("after mark-read the row still has the dot: %q", row)
	}

	snoozed := send("snooze", "-ticket", id, "-for", "1h")
	if row := rowOf(t, ctl("inbox", "-status", "snoozed", "-min-position", pos(snoozed)), id); !strings.Contains(row, "snoozed") {
		t.Errorf("snoozed row %q", row)
	}
	if out := ctl("inbox", "-min-position", pos(snoozed)); strings.Contains(out, id) {
		t.Errorf("snoozed ticket still in the open inbox:\n%s", out)
	}

	ctl("clock", "advance", "2h")
	// R4: once its time has passed a ticket is never shown as snoozed, so
	// no position is needed to see it open.
	if row := rowOf(t, ctl("inbox"), id); !strings.Contains(row, " open ") {
		t.Errorf("woken ticket's row %q, want open", row)
	}

	closed := send("close", "-ticket", id)
	if row := rowOf(t, ctl("inbox", "-status", "closed", "-min-position", pos(closed)), id); !strings.Contains(row, "closed") {
		t.Errorf("closed row %q", row)
	}

	// A note on the closed ticket shows under its author's name, and a
	// search finds the ticket by its words, the note's included.
	var me userInfo
	if err := json.Unmarshal([]byte(ctl("-json", "me")), &me); err != nil || me.Name == "" {
		t.Fatalf("me: %+v, %v", me, err)
	}
	noted := send("note", "-ticket", id, "-body", "Refund sent by bank transfer")
	if out := ctl("show", id, "-min-position", pos(noted)); !strings.Contains(out, "] note ("+me.Name+"): Refund sent by bank transfer") ||
		!strings.Contains(out, "] outbound ("+me.Name+") [pending]") {
		t.Errorf("show after a note:\n%s", out)
	}
	for _, q := range [][]string{{"parcel", "late"}, {"bank", "transfer"}, {profile}} {
		if row := rowOf(t, ctl(append([]string{"search", "-min-position", pos(noted)}, q...)...), id); !strings.Contains(row, "closed") {
			t.Errorf("search %v: row %q", q, row)
		}
	}

	history := ctl("history", id, "-min-position", pos(closed))
	var types []string
	for _, l := range lines(history)[1:] {
		if f := fields(l); len(f) >= 3 {
			types = append(types, f[2])
		}
	}
	at := 0
	for _, want := range []string{"TicketOpened", "MessageReceived", "TicketMarkedRead", "TicketSnoozed", "TicketWoke", "TicketClosed", "NoteAdded"} {
		for at < len(types) && types[at] != want {
			at++
		}
		if at == len(types) {
			t.Errorf("history lacks %s in order; got %v\n%s", want, types, history)
			break
		}
	}
}

// ticketdBuild is the ticketd binary, built once for every test of the
// package that runs a real process.
var ticketdBuild struct {
	once sync.Once
	dir  string
	bin  string
	out  []byte
	err  error
}

// TestMain removes the ticketd binary once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if ticketdBuild.dir != "" {
		_ = os.RemoveAll(ticketdBuild.dir)
	}
	os.Exit(code)
}

// buildTicketd returns ../ticketd built, building it on the first call.
func buildTicketd(ctx context.Context, t *testing.T) string {
	t.Helper()
	b := &ticketdBuild
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "ticketd-bin-"); b.err != nil {
			return
		}
		b.bin = filepath.Join(b.dir, "ticketd")
		b.out, b.err = exec.CommandContext(ctx, "go", "build", "-o", b.bin, "../ticketd").CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("go build ../ticketd: %v\n%s", b.err, b.out)
	}
	return b.bin
}

// startTicketd runs the engine on a fresh data directory and a test clock
// and returns its HTTP base URL, learnt from its startup line.
func startTicketd(ctx context.Context, t *testing.T, bin, token string) string {
	t.Helper()
	url, _ := startTicketdIn(ctx, t, bin, token, t.TempDir())
	return url
}

// startTicketdIn runs the engine on the given data directory and returns
// its HTTP base URL and the process, so a test can kill it.
// Extra flags come last and so override the defaults here.
func startTicketdIn(ctx context.Context, t *testing.T, bin, token, dataDir string, extra ...string) (string, *exec.Cmd) {
	t.Helper()
	args := append([]string{"-data-dir", dataDir, "-http", "127.0.0.1:0", "-nats-listen", "127.0.0.1:0", "-test-clock"}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "TICKETD_BOOTSTRAP_TOKEN="+token)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("ticketd stderr:\n%s", stderr.String())
		}
	})
	addr := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		const marker = "HTTP on http://"
		for sc.Scan() {
			if i := strings.Index(sc.Text(), marker); i >= 0 {
				select {
				case addr <- "http://" + strings.TrimSpace(sc.Text()[i+len(marker):]):
				default:
				}
			}
		}
		// Keep reading until ticketd exits, so that it never blocks on a
		// full pipe; Wait then reaps it.
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
	}()
	select {
	case a := <-addr:
		return a, cmd
	case <-exited:
		t.Fatalf("ticketd exited before serving HTTP:\n%s", stderr.String())
	case <-time.After(startupDeadline):
		t.Fatalf("ticketd printed no HTTP address within %s", startupDeadline)
	}
	return "", nil
}

// rowOf returns the table line that names the ticket, failing without one.
func rowOf(t *testing.T, table, id string) string {
	t.Helper()
	for _, l := range lines(table) {
		if strings.Contains(l, id) {
			return l
		}
	}
	t.Fatalf("ticket %s not listed:\n%s", id, table)
	return ""
}

// randomToken makes a bootstrap token in the engine's own format.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "tbk_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// lockedBuffer collects ticketd's stderr, written by exec's copier while
// the test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
