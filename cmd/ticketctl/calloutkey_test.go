package main

import (
	"strings"
	"testing"

	"github.com/ticketbus/ticketbus/natsauth"
)

// TestCalloutKey: callout-key prints a public account key and the seed it
// comes from, each as the environment line its reader expects, and a new
// pair each time.
func TestCalloutKey(t *testing.T) {
	seen := map[string]bool{}
	for range 2 {
		out, _, err := run(nil, "callout-key")
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{}
		for _, l := range lines(out) {
			k, v, _ := strings.Cut(l, "=")
			env[k] = v
		}
		issuer, seed := env["NATS_CALLOUT_ISSUER"], env["TICKETD_NATS_CALLOUT_SEED"]
		kp, err := natsauth.ParseIssuer(seed)
		if err != nil {
			t.Fatalf("seed %q: %v", seed, err)
		}
		if pub, _ := kp.PublicKey(); pub != issuer || !strings.HasPrefix(issuer, "A") {
			t.Fatalf("issuer %q, the seed's public key %q", issuer, pub)
		}
		if seen[issuer] {
			t.Fatal("the same key twice")
		}
		seen[issuer] = true
	}
}
