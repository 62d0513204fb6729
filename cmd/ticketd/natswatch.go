package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// natsWatch follows the engine's NATS connections: it logs what happens
// to them, counts it on /metrics, and tells /healthz about a connection
// that NATS gave up on, which only a restart of ticketd brings back.
type natsWatch struct {
	logger     *slog.Logger
	reconnects *prometheus.CounterVec
	errs       *prometheus.CounterVec
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
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketbus_nats_errors_total", Help: "Asynchronous errors NATS reported on the engine's connections (refused logins, permission violations, slow consumers).",
		}, []string{"connection"}),
	}
	reg.MustRegister(w.reconnects, w.errs, w)
	return w
}

// options are the handlers for the connection called name.
func (w *natsWatch) options(name string) []nats.Option {
	// Series at zero from the start, so that a rate or an alert sees the
	// first increase.
	w.reconnects.WithLabelValues(name)
	w.errs.WithLabelValues(name)
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
			w.errs.WithLabelValues(name).Inc()
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
		if !c.nc.IsClosed() {
			continue
		}
		if err := c.nc.LastError(); err != nil {
			out = append(out, fmt.Sprintf("%q (%v)", c.name, err))
		} else {
			out = append(out, strconv.Quote(c.name))
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
