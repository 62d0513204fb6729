package natsauth_test

import (
	"testing"

	"github.com/nats-io/nkeys"
	"github.com/ticketbus/ticketbus/natsauth"
)

// TestParseIssuer: only an account seed signs logins; a user's or an
// operator's seed, a public key or garbage is refused at start.
func TestParseIssuer(t *testing.T) {
	seed := func(create func() (nkeys.KeyPair, error)) string {
		kp, err := create()
		if err != nil {
			t.Fatal(err)
		}
		s, _ := kp.Seed()
		return string(s)
	}
	account, _ := natsauth.NewIssuer()
	accountSeed, _ := account.Seed()
	accountPub, _ := account.PublicKey()
	for _, c := range []struct {
		name, seed string
		ok         bool
	}{
		{"account seed", string(accountSeed), true},
		{"user seed", seed(nkeys.CreateUser), false},
		{"operator seed", seed(nkeys.CreateOperator), false},
		{"public key", accountPub, false},
		{"garbage", "SAnot-a-seed", false},
		{"empty", "", false},
	} {
		kp, err := natsauth.ParseIssuer(c.seed)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v, want ok=%v", c.name, err, c.ok)
		}
		if c.ok {
			if pub, _ := kp.PublicKey(); pub != accountPub {
				t.Errorf("%s: public key %s, want %s", c.name, pub, accountPub)
			}
		}
	}
}
