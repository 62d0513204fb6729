// Package webhooksig signs and verifies the Ticketbus-Signature header of
// webhook deliveries (spec section 7):
//
//	Ticketbus-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//
// The timestamp is inside the signed text, so a receiver that refuses old
// timestamps also refuses a delivery captured and replayed later. A header
// may carry several v1 values, one per secret, while a secret is rotated.
package webhooksig

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of a delivery.
const (
	SignatureHeader = "Ticketbus-Signature"
	EventIDHeader   = "Ticketbus-Event-Id"
	AttemptHeader   = "Ticketbus-Delivery-Attempt"
)

// DefaultTolerance is how far a delivery's timestamp may be from the
// receiver's clock; Verify uses it when given a tolerance of zero or less,
// so that replay protection cannot be switched off by omission.
const DefaultTolerance = 5 * time.Minute

// maxHeader bounds the header Verify reads: a few signatures fit many
// times over, and a hostile header costs no more than this to parse.
const maxHeader = 4096

// Errors of Verify, wrapped with details; test them with errors.Is.
var (
	ErrMalformed   = errors.New("webhooksig: malformed signature header")
	ErrNoSignature = errors.New("webhooksig: no v1 signature in header")
	ErrMismatch    = errors.New("webhooksig: signature does not match")
	ErrTimestamp   = errors.New("webhooksig: timestamp outside tolerance")
)

// Sign returns the signature header value of body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := t.Unix()
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(strconv.FormatInt(ts, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks that header signs body with secret and that its timestamp
// is within tolerance of now, either way. Any one v1 value may match.
// The signature is checked before the timestamp, so ErrTimestamp means an
// authentic but stale (or clock-skewed) delivery.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return errors.New("webhooksig: empty secret")
	}
	ts, sigs, err := parse(header)
	if err != nil {
		return err
	}
	want := mac(secret, ts, body)
	ok := 0
	for _, s := range sigs {
		// Every value is compared, so timing tells nothing of which matched.
		ok |= subtle.ConstantTimeCompare(s, want)
	}
	if ok == 0 {
		return fmt.Errorf("%w (%d v1 value(s) checked)", ErrMismatch, len(sigs))
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	tol := int64(tolerance / time.Second)
	if n := now.Unix(); ts < n-tol || ts > n+tol {
		return fmt.Errorf("%w: t=%d is %ds from now (%d), tolerance %s", ErrTimestamp, ts, ts-n, n, tolerance)
	}
	return nil
}

// parse reads "t=<digits>,v1=<hex>[,v1=<hex>...]". Unknown schemes (a
// future v2) are skipped so that a sender may add one without breaking
// receivers; everything else that is off is refused, since the header is
// outside input.
func parse(header string) (ts int64, sigs [][]byte, err error) {
	if len(header) > maxHeader {
		return 0, nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxHeader)
	}
	if strings.TrimSpace(header) == "" {
		return 0, nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	seenT := false
	for _, item := range strings.Split(header, ",") {
		item = strings.TrimSpace(item)
		key, val, found := strings.Cut(item, "=")
		if !found || key == "" {
			return 0, nil, fmt.Errorf("%w: item %q is not key=value", ErrMalformed, short(item))
		}
		switch key {
		case "t":
			if seenT {
				return 0, nil, fmt.Errorf("%w: t given twice", ErrMalformed)
			}
			seenT = true
			if ts, err = parseUnix(val); err != nil {
				return 0, nil, err
			}
		case "v1":
			sig, err := hex.DecodeString(val)
			if err != nil || len(sig) != sha256.Size {
				return 0, nil, fmt.Errorf("%w: v1 %q is not %d hex digits", ErrMalformed, short(val), 2*sha256.Size)
			}
			sigs = append(sigs, sig)
		}
	}
	if !seenT {
		return 0, nil, fmt.Errorf("%w: no t= timestamp", ErrMalformed)
	}
	if len(sigs) == 0 {
		return 0, nil, ErrNoSignature
	}
	return ts, sigs, nil
}

// parseUnix accepts plain decimal seconds: no sign, no spaces, and few
// enough digits that arithmetic with now cannot overflow.
func parseUnix(s string) (int64, error) {
	if s == "" || len(s) > 12 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: t %q is not unix seconds", ErrMalformed, short(s))
	}
	return strconv.ParseInt(s, 10, 64)
}

// short keeps an error message readable whatever the header holds.
func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
