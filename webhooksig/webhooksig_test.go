package webhooksig

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const secret = "whsec_test"

var (
	body  = []byte(`{"id":"e1","type":"ReplySent"}`)
	sent  = time.Unix(1767261600, 0)
	valid = Sign(secret, sent, body)
)

// TestSignKnownValue pins the format against a value computed
// independently (printf '%s' "1767261600.<body>" | openssl dgst -sha256 -hmac whsec_test).
func TestSignKnownValue(t *testing.T) {
	want := "t=1767261600,v1=" + knownMAC
	if valid != want {
		t.Errorf("Sign = %s, want %s", valid, want)
	}
}

func TestVerify(t *testing.T) {
	v1 := strings.TrimPrefix(valid, "t=1767261600,v1=")
	other := Sign("whsec_old", sent, body)
	otherV1 := other[strings.Index(other, "v1=")+3:]
	tests := []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		tol    time.Duration
		want   error // nil for success
	}{
		{"valid", secret, valid, body, sent, time.Minute, nil},
		{"valid at the edge of tolerance", secret, valid, body, sent.Add(time.Minute), time.Minute, nil},
		{"valid a little in the future", secret, valid, body, sent.Add(-time.Minute), time.Minute, nil},
		{"spaces and unknown scheme", secret, " t=1767261600 , v0=zz, v1=" + v1 + " ", body, sent, time.Minute, nil},
		{"rotation, new secret second", secret, "t=1767261600,v1=" + otherV1 + ",v1=" + v1, body, sent, time.Minute, nil},
		{"rotation, old secret verifies too", "whsec_old", "t=1767261600,v1=" + otherV1 + ",v1=" + v1, body, sent, time.Minute, nil},
		{"upper-case hex", secret, "t=1767261600,v1=" + strings.ToUpper(v1), body, sent, time.Minute, nil},
		{"zero tolerance is the default", secret, valid, body, sent.Add(DefaultTolerance), 0, nil},
		{"too old", secret, valid, body, sent.Add(time.Minute + time.Second), time.Minute, ErrTimestamp},
		{"too far in the future", secret, valid, body, sent.Add(-time.Minute - time.Second), time.Minute, ErrTimestamp},
		{"zero tolerance refuses past the default", secret, valid, body, sent.Add(DefaultTolerance + time.Second), 0, ErrTimestamp},
		{"wrong secret", "whsec_other", valid, body, sent, time.Minute, ErrMismatch},
		{"body changed", secret, valid, []byte(`{"id":"e2"}`), sent, time.Minute, ErrMismatch},
		{"timestamp changed", secret, "t=1767261601,v1=" + v1, body, sent, time.Minute, ErrMismatch},
		{"stale and forged is a mismatch", secret, "t=1,v1=" + v1, body, sent, time.Minute, ErrMismatch},
		{"empty", secret, "", body, sent, time.Minute, ErrMalformed},
		{"no timestamp", secret, "v1=" + v1, body, sent, time.Minute, ErrMalformed},
		{"two timestamps", secret, "t=1767261600,t=1767261600,v1=" + v1, body, sent, time.Minute, ErrMalformed},
		{"signed timestamp", secret, "t=+1767261600,v1=" + v1, body, sent, time.Minute, ErrMalformed},
		{"negative timestamp", secret, "t=-5,v1=" + v1, body, sent, time.Minute, ErrMalformed},
		{"huge timestamp", secret, "t=99999999999999999999,v1=" + v1, body, sent, time.Minute, ErrMalformed},
		{"no v1", secret, "t=1767261600", body, sent, time.Minute, ErrNoSignature},
		{"only another scheme", secret, "t=1767261600,v2=" + v1, body, sent, time.Minute, ErrNoSignature},
		{"v1 not hex", secret, "t=1767261600,v1=xyz", body, sent, time.Minute, ErrMalformed},
		{"v1 too short", secret, "t=1767261600,v1=" + v1[:62], body, sent, time.Minute, ErrMalformed},
		{"item without =", secret, valid + ",junk", body, sent, time.Minute, ErrMalformed},
		{"too long", secret, valid + strings.Repeat(",x=y", 2000), body, sent, time.Minute, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.header, tt.body, tt.now, tt.tol)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyEmptySecret(t *testing.T) {
	if err := Verify("", Sign("", sent, body), body, sent, time.Minute); err == nil {
		t.Fatal("an empty secret verified a delivery")
	}
}

// FuzzVerify feeds the parser arbitrary headers: it must never panic, and
// it may accept only a header carrying the real signature.
func FuzzVerify(f *testing.F) {
	v1 := strings.TrimPrefix(valid, "t=1767261600,v1=")
	for _, seed := range []string{valid, "", "t=", "v1=", ",,,", "t=1767261600,v1=" + v1 + ",v1=00", "t=1,t=2", "t=1767261600,v1=" + v1[:10], "=,=", "t=1767261600;v1=" + v1} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		err := Verify(secret, header, body, sent, time.Minute)
		if err != nil {
			for _, known := range []error{ErrMalformed, ErrNoSignature, ErrMismatch, ErrTimestamp} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("Verify(%q) = %v, not one of the package's errors", header, err)
		}
		if !strings.Contains(strings.ToLower(header), v1) {
			t.Fatalf("Verify accepted %q, which lacks the signature", header)
		}
	})
}

const knownMAC = "f62e9af27dee9d7d1d0d2dcb0340cbe059016cc7e84131dc1d28a03ebbf96262"
