package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/nats-io/nats.go"
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
