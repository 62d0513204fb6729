// Package natsauth answers NATS auth callout requests: a client that
// connects with a token is let in, with the permissions the authorize
// function gives it, by a user JWT that this package signs with the
// callout issuer's account key. nats-server asks on $SYS.REQ.USER.AUTH for
// every connection whose user is not one of the callout's own auth users.
package natsauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Permissions is what a logged-in client may do. Neither list may be
// empty: in a user JWT an empty allow list allows everything.
type Permissions struct {
	Name      string   // shown in the server's connection list
	Publish   []string // subjects it may publish to
	Subscribe []string // subjects it may subscribe to
}

// Authorize maps a connection's token to its permissions. An error refuses
// the connection; its message goes to the server's log, never to the
// client.
type Authorize func(ctx context.Context, token string) (Permissions, error)

// Account is the account logged-in clients land in: the global account of
// a server configured without accounts, the embedded one included.
const Account = "$G"

// subject is where nats-server sends authorization requests.
const subject = "$SYS.REQ.USER.AUTH"

// queue lets several ticketd instances share the callout: each request is
// answered by one of them.
const queue = "ticketd"

// answerTimeout bounds one authorization; nats-server gives up after its
// own timeout (2 s by default) anyway.
const answerTimeout = 2 * time.Second

// Responder answers auth callout requests until Close.
type Responder struct {
	sub *nats.Subscription
}

// NewIssuer makes a fresh account key to sign logins with: the embedded
// server's, which lives as long as the process.
func NewIssuer() (nkeys.KeyPair, error) {
	kp, err := nkeys.CreateAccount()
	if err != nil {
		return nil, fmt.Errorf("natsauth: new issuer: %w", err)
	}
	return kp, nil
}

// ParseIssuer reads an account seed ("SA..."), as an operator keeps it for
// a cluster of their own.
func ParseIssuer(seed string) (nkeys.KeyPair, error) {
	kp, err := nkeys.FromSeed([]byte(seed))
	if err != nil {
		return nil, errors.New("natsauth: the callout key is not an nkey seed")
	}
	if pub, err := kp.PublicKey(); err != nil || !nkeys.IsValidPublicAccountKey(pub) {
		return nil, errors.New("natsauth: the callout key is not an account seed (SA...)")
	}
	return kp, nil
}

// Report learns the outcome of each login: nil when the client was let
// in, else why it was not.
type Report func(err error)

// Serve answers auth callout requests on nc, which must be a connection of
// one of the callout's auth users.
func Serve(nc *nats.Conn, issuer nkeys.KeyPair, authorize Authorize, report Report) (*Responder, error) {
	sub, err := nc.QueueSubscribe(subject, queue, func(m *nats.Msg) {
		report(answer(m, issuer, authorize))
	})
	if err != nil {
		return nil, fmt.Errorf("natsauth: subscribe: %w", err)
	}
	if err := nc.Flush(); err != nil {
		return nil, fmt.Errorf("natsauth: subscribe: %w", err)
	}
	return &Responder{sub: sub}, nil
}

// answer signs a user JWT for an authorized client, or a refusal. The
// returned error, if any, says why a client was refused.
func answer(m *nats.Msg, issuer nkeys.KeyPair, authorize Authorize) error {
	req, err := jwt.DecodeAuthorizationRequestClaims(string(m.Data))
	if err != nil {
		return fmt.Errorf("undecodable authorization request: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), answerTimeout)
	defer cancel()
	res := jwt.NewAuthorizationResponseClaims(req.UserNkey)
	res.Audience = req.Server.ID
	var refusal error
	perms, err := authorize(ctx, req.ConnectOptions.Token)
	switch {
	case err != nil:
		refusal = err
	case len(perms.Publish) == 0 || len(perms.Subscribe) == 0:
		refusal = errors.New("no permissions")
	default:
		uc := jwt.NewUserClaims(req.UserNkey)
		uc.Name = perms.Name
		uc.Audience = Account
		uc.Pub.Allow.Add(perms.Publish...)
		uc.Sub.Allow.Add(perms.Subscribe...)
		if res.Jwt, err = uc.Encode(issuer); err != nil {
			return fmt.Errorf("sign a user JWT: %w", err)
		}
	}
	if refusal != nil {
		res.Error = "not authorized"
	}
	out, err := res.Encode(issuer)
	if err != nil {
		return fmt.Errorf("sign an authorization response: %w", err)
	}
	if err := m.Respond([]byte(out)); err != nil {
		return fmt.Errorf("answer an authorization request: %w", err)
	}
	if refusal != nil {
		return fmt.Errorf("client %s from %s: %w", req.ClientInformation.Name, req.ClientInformation.Host, refusal)
	}
	return nil
}

// Close stops answering.
func (r *Responder) Close() error {
	return r.sub.Unsubscribe()
}
