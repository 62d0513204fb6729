package natsapi

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/ticketbus/ticketbus/engine"
	"github.com/ticketbus/ticketbus/natsauth"
)

// InboxPrefix is the user's own NATS inbox prefix: the only subjects under
// which they may subscribe, and the only ones the engine answers their
// commands on. A user id is a UUID, which is a valid subject token.
func InboxPrefix(userID string) string {
	return "_INBOX." + userID
}

// ServeLogins answers the NATS auth callout on nc: a client that connects
// with a user's API token may send commands and subscribe under that
// user's inbox prefix, nothing else.
func ServeLogins(e *engine.Engine, nc *nats.Conn, issuer nkeys.KeyPair) (*natsauth.Responder, error) {
	logger := e.Logger().With(slog.String("component", "nats logins"))
	var pace logPace
	report := func(err error) {
		e.Metrics().Login(err == nil)
		if err != nil && pace.allow() {
			logger.Warn("refused a NATS login (ticketbus_nats_logins_total counts them all)", "err", err)
		}
	}
	return natsauth.Serve(nc, issuer, func(ctx context.Context, token string) (natsauth.Permissions, error) {
		user, err := e.Authenticate(ctx, token)
		if err != nil {
			return natsauth.Permissions{}, err
		}
		return natsauth.Permissions{
			Name:      user.Name,
			Publish:   []string{CommandSubjectPrefix + ">"},
			Subscribe: []string{InboxPrefix(user.ID) + ".>"},
		}, nil
	}, report)
}
