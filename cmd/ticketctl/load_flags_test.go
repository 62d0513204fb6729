package main

import (
	"errors"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

// TestLoadProfilesCarryTheRunID: profiles are load-<run id>-<n>, with the
// id given by -run-id or, by default, a new one for every run, so that a
// second run never lands on the tickets the first one closed.
func TestLoadProfilesCarryTheRunID(t *testing.T) {
	f := newFakeCommandEngine(t)
	profilesOf := func(runID string) {
		t.Helper()
		want := regexp.MustCompile(`^load-` + regexp.QuoteMeta(runID) + `-\d+$`)
		got := f.seenProfiles()
		if len(got) == 0 {
			t.Fatal("no command named a profile")
		}
		for _, p := range got {
			if !want.MatchString(p) {
				t.Fatalf("profile %q, want load-%s-<n>", p, runID)
			}
		}
	}

	s, out, err := runLoadAt(t, f, "-run-id", "nightly.7")
	if err != nil || s.RunID != "nightly.7" {
		t.Fatalf("load -run-id nightly.7: err %v, run id %q\n%s", err, s.RunID, out)
	}
	profilesOf("nightly.7")

	var ids []string
	for range 2 {
		f.set(func(f *fakeCommandEngine) { f.profiles = nil })
		s, out, err := runLoadAt(t, f)
		if err != nil || s.RunID == "" {
			t.Fatalf("load: err %v, run id %q\n%s", err, s.RunID, out)
		}
		profilesOf(s.RunID)
		ids = append(ids, s.RunID)
	}
	if ids[0] == ids[1] {
		t.Errorf("two runs without -run-id both used %q", ids[0])
	}

	for _, bad := range []string{"a/b", "with space", strings.Repeat("x", 65)} {
		if _, _, err := runLoadAt(t, f, "-run-id", bad); ExitCode(err) != 2 {
			t.Errorf("-run-id %q: err %v, want a usage error", bad, err)
		}
	}
}

// TestLoadNATSCredentials: -nats-user and -nats-password, or their
// environment twins, log in to every server of the -nats-url list.
func TestLoadNATSCredentials(t *testing.T) {
	f := newFakeCommandEngine(t)
	// A server that is down, listed first: the credentials must still
	// reach the one that answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "nats://" + l.Addr().String()
	_ = l.Close()
	list := down + "," + f.NATSURL

	base := []string{"-json", "load", "-producers", "1", "-duration", "100ms", "-mix", "inbound=1", "-nats-url", list}
	server := map[string]string{"TICKETCTL_SERVER": f.HTTPURL, "TICKETCTL_TOKEN": "tok"}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range server {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}

	if out, errb, err := run(server, append(base, "-nats-user", fakeLoadUser, "-nats-password", fakeLoadPassword)...); err != nil {
		t.Fatalf("flags: %v\n%s%s", err, out, errb)
	}
	if out, errb, err := run(with(map[string]string{"TICKETCTL_NATS_USER": fakeLoadUser, "TICKETCTL_NATS_PASSWORD": fakeLoadPassword}), base...); err != nil {
		t.Fatalf("environment: %v\n%s%s", err, out, errb)
	}
	// Refusals on the live server alone: with the list, the error would
	// be that of whichever server was tried last.
	single := append(base[:len(base)-1:len(base)-1], f.NATSURL)
	// The flags win over the environment.
	_, _, err = run(with(map[string]string{"TICKETCTL_NATS_USER": fakeLoadUser, "TICKETCTL_NATS_PASSWORD": fakeLoadPassword}),
		append(single, "-nats-password", "wrong")...)
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("wrong -nats-password over a right environment: err %v, want an authorization error", err)
	}
	if _, _, err := run(server, single...); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("no credentials: err %v, want an authorization error", err)
	}
	if _, _, err := run(server, append(single, "-nats-password", fakeLoadPassword)...); ExitCode(err) != 2 {
		t.Errorf("-nats-password alone: err %v, want a usage error", err)
	}
	// A password written into the URL never shows in the error.
	inURL := strings.Replace(f.NATSURL, "nats://", "nats://"+fakeLoadUser+":not-the-password@", 1)
	_, _, err = run(server, "load", "-duration", "100ms", "-nats-url", inURL)
	if err == nil || strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("wrong password in the URL: err %v, want a failure that hides the password", err)
	}
	if f.seenProfiles() == nil {
		t.Error("no command reached the engine")
	}
}
