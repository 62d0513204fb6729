package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
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

// natsWatch follows the engine's NATS connections: it logs what happens
// to them, counts it on /metrics, and tells /healthz about a connection
// that NATS gave up on, which only a restart of ticketd brings back.
type natsWatch struct {
	logger     *slog.Logger
	reconnects *prometheus.CounterVec
	errors     *prometheus.CounterVec
	// closing is set when ticketd closes its connections itself, which is
	// not news.
	closing atomic.Bool

	mu    sync.Mutex
	conns []watchedConn
}

type watchedConn struct {
	name string
	nc   *nats.Conn
}

var natsConnectedDesc = prometheus.NewDesc("ticketbus_nats_connected",
	"1 while the engine's NATS connection is connected, 0 while it reconnects or after NATS gave up on it.",
	[]string{"connection"}, nil)

func newNATSWatch(reg prometheus.Registerer, logger *slog.Logger) *natsWatch {
	w := &natsWatch{
		logger: logger,
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketbus_nats_reconnects_total", Help: "Reconnections of the engine's NATS connections.",
		}, []string{"connection"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketbus_nats_errors_total", Help: "Asynchronous errors NATS reported on the engine's connections (refused logins, permission violations, slow consumers).",
		}, []string{"connection"}),
	}
	reg.MustRegister(w.reconnects, w.errors, w)
	return w
}

// options are the handlers for the connection called name.
func (w *natsWatch) options(name string) []nats.Option {
	// Series at zero from the start, so that a rate or an alert sees the
	// first increase.
	w.reconnects.WithLabelValues(name)
	w.errors.WithLabelValues(name)
	log := w.logger.With("connection", name)
	return []nats.Option{
		nats.Name(name),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if !w.closing.Load() {
				log.Warn("NATS disconnected; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			w.reconnects.WithLabelValues(name).Inc()
			log.Info("NATS reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			w.errors.WithLabelValues(name).Inc()
			if sub != nil {
				log.Warn("NATS error", "err", err, "subject", sub.Subject)
				return
			}
			log.Warn("NATS error", "err", err)
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			if !w.closing.Load() {
				log.Error("NATS gave up on the connection; ticketd must be restarted", "err", nc.LastError())
			}
		}),
	}
}

// add watches nc, connected with options(name).
func (w *natsWatch) add(name string, nc *nats.Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conns = append(w.conns, watchedConn{name, nc})
}

// gaveUp describes the connections that are closed for good, and why.
func (w *natsWatch) gaveUp() []string {
	var out []string
	for _, c := range w.list() {
		if c.nc.IsClosed() {
			out = append(out, fmt.Sprintf("%q (%v)", c.name, c.nc.LastError()))
		}
	}
	return out
}

func (w *natsWatch) list() []watchedConn {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]watchedConn(nil), w.conns...)
}

// Describe and Collect make the connected gauge read each connection's
// status at scrape time, so that it never lags behind a callback.
func (w *natsWatch) Describe(ch chan<- *prometheus.Desc) { ch <- natsConnectedDesc }

func (w *natsWatch) Collect(ch chan<- prometheus.Metric) {
	for _, c := range w.list() {
		v := 0.0
		if c.nc.IsConnected() {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(natsConnectedDesc, prometheus.GaugeValue, v, c.name)
	}
}
