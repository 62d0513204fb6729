package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/natsauth"
)

// natsLogin is how ticketd logs in to a NATS server or cluster of its own
// (-nats-url): one set of credentials for every server of the list.
// nats.go sends a URL's userinfo to that URL's server only, so after
// losing the one server whose URL carried them the others would refuse
// ticketd. The credentials are therefore taken out of the URLs and given
// as nats.go options, which apply to every server, those the cluster
// announces included.
type natsLogin struct {
	servers  string // the URL list, without userinfo
	user     string
	password string
	token    string
	// fromFlags says that -nats-user and -nats-password replaced
	// credentials found in the URLs.
	fromFlags bool
}

// parseNATSLogin reads -nats-url, -nats-user and -nats-password. Error
// messages never repeat a URL, since it may carry a password.
func parseNATSLogin(c Config) (natsLogin, error) {
	if c.NATSURL == "" {
		if c.NATSUser != "" || c.NATSPassword != "" {
			return natsLogin{}, errors.New("-nats-user and -nats-password need -nats-url; the embedded server has credentials of its own")
		}
		return natsLogin{}, nil
	}
	var l natsLogin
	var servers []string
	found := 0 // the position in the list of the first URL with credentials
	for i, s := range strings.Split(c.NATSURL, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "://") {
			s = "nats://" + s // as nats.go reads a URL without a scheme
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return natsLogin{}, fmt.Errorf("-nats-url: server %d of the list is not a URL such as nats://host:4222", i+1)
		}
		if u.User != nil {
			var got natsLogin
			if pw, ok := u.User.Password(); ok {
				got.user, got.password = u.User.Username(), pw
			} else {
				// Userinfo without a password is a token, as nats.go reads it.
				got.token = u.User.Username()
			}
			if found != 0 && (got.user != l.user || got.password != l.password || got.token != l.token) {
				return natsLogin{}, fmt.Errorf("-nats-url: servers %d and %d of the list carry different credentials; "+
					"give them once, on any one URL, or with -nats-user and -nats-password", found, i+1)
			}
			l.user, l.password, l.token, found = got.user, got.password, got.token, i+1
			u.User = nil
		}
		servers = append(servers, u.String())
	}
	if len(servers) == 0 {
		return natsLogin{}, errors.New("-nats-url: no server in the list")
	}
	l.servers = strings.Join(servers, ",")
	switch {
	case c.NATSUser == "" && c.NATSPassword == "":
	case c.NATSUser == "" || c.NATSPassword == "":
		return natsLogin{}, errors.New("-nats-user and -nats-password go together (TICKETD_NATS_USER, TICKETD_NATS_PASSWORD)")
	default:
		l.fromFlags = found != 0
		l.user, l.password, l.token = c.NATSUser, c.NATSPassword, ""
	}
	return l, nil
}

// options are the nats.go options that present the credentials.
func (l natsLogin) options() []nats.Option {
	switch {
	case l.token != "":
		return []nats.Option{nats.Token(l.token)}
	case l.user != "" || l.password != "":
		return []nats.Option{nats.UserInfo(l.user, l.password)}
	}
	return nil
}

// connect opens the engine's two NATS connections, to -nats-url or to the
// embedded server it starts.
func (m *Main) connect() error {
	login, err := parseNATSLogin(m.Config)
	if err != nil {
		return err
	}
	// Both engine connections are made alike, with the watch's handlers,
	// on a server of one's own as on the embedded one.
	var open func(name string) (*nats.Conn, error)
	if m.Config.NATSCalloutSeed != "" {
		if m.Config.NATSURL == "" {
			return errors.New("TICKETD_NATS_CALLOUT_SEED needs -nats-url; the embedded server makes a key of its own")
		}
		if m.issuer, err = natsauth.ParseIssuer(m.Config.NATSCalloutSeed); err != nil {
			return fmt.Errorf("TICKETD_NATS_CALLOUT_SEED: %w", err)
		}
	}
	if m.Config.NATSURL != "" {
		if m.issuer == nil {
			m.Logger.Info("no TICKETD_NATS_CALLOUT_SEED: this ticketd answers no NATS logins; producers use the cluster's own users (docs/operations.md)")
		}
		if login.fromFlags {
			m.Logger.Info("-nats-user and -nats-password replace the credentials in -nats-url", "user", login.user)
		}
		open = func(name string) (*nats.Conn, error) {
			// Replies to the engine (event and key reads) go to an inbox prefix
			// of its own, never to the _INBOX.> that producers may read.
			opts := append(m.nats.options(name), nats.MaxReconnects(-1), nats.CustomInboxPrefix(eventstore.EngineInboxPrefix))
			nc, err := nats.Connect(login.servers, append(opts, login.options()...)...)
			if err != nil {
				return nil, fmt.Errorf("connect to %s: %w", login.servers, err)
			}
			return nc, nil
		}
	} else {
		if err := m.openServer(); err != nil {
			return err
		}
		open = func(name string) (*nats.Conn, error) {
			return m.Server.EngineConnect(name, m.nats.options(name)...)
		}
	}
	dial := func(name string) (*nats.Conn, error) {
		nc, err := open(name)
		if err == nil {
			m.nats.add(name, nc)
		}
		return nc, err
	}
	if m.NC, err = dial("ticketd"); err != nil {
		return err
	}
	m.CmdNC, err = dial("ticketd-commands")
	return err
}

// openServer starts the embedded NATS server.
func (m *Main) openServer() error {
	host, portStr, err := net.SplitHostPort(m.Config.NATSListen)
	if err != nil {
		return fmt.Errorf("-nats-listen: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("-nats-listen port: %w", err)
	}
	if port == 0 {
		port = -1
	}
	store := filepath.Join(m.Config.DataDir, "nats")
	// A key for this process's life: the server it signs for lives as long.
	if m.issuer, err = natsauth.NewIssuer(); err != nil {
		return err
	}
	issuer, _ := m.issuer.PublicKey()
	m.Server, err = eventstore.OpenServer(eventstore.ServerConfig{StoreDir: store, Host: host, Port: port, CalloutIssuer: issuer})
	if err != nil {
		return fmt.Errorf("start embedded NATS: %w", err)
	}
	return nil
}
