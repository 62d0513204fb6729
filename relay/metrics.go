package relay

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of one delivery attempt, the outcome label of
// ticketbus_webhooks_deliveries_total.
const (
	outcomeDelivered = "delivered" // 2xx
	outcomeFailed    = "failed"    // another answer, a timeout or no connection: retried
	outcomeRejected  = "rejected"  // a 4xx other than 408 and 429: failed for good
	outcomeError     = "error"     // the delivery could not be built (engine unavailable, bad event)
)

type metrics struct {
	deliveries  *prometheus.CounterVec
	retries     *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	lag         *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ticketbus", Subsystem: "webhooks", Name: "deliveries_total",
			Help: "Delivery attempts to webhooks, by webhook and outcome (delivered, failed, rejected, error).",
		}, []string{"webhook", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ticketbus", Subsystem: "webhooks", Name: "retries_total",
			Help: "Delivery attempts to webhooks after the first of an event.",
		}, []string{"webhook"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ticketbus", Subsystem: "webhooks", Name: "dead_letters_total",
			Help: "Events that failed for good and were kept as dead letters.",
		}, []string{"webhook"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "ticketbus", Subsystem: "webhooks", Name: "lag_seconds",
			Help: "Time between the last event delivered to a webhook and its delivery.",
		}, []string{"webhook"}),
	}
	var err error
	if m.deliveries, err = register(reg, m.deliveries); err != nil {
		return nil, err
	}
	if m.retries, err = register(reg, m.retries); err != nil {
		return nil, err
	}
	if m.deadLetters, err = register(reg, m.deadLetters); err != nil {
		return nil, err
	}
	if m.lag, err = register(reg, m.lag); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector registered before it: a
// relay started again on the same registry keeps counting on the same
// series.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

func (m *metrics) outcome(webhook, outcome string) {
	m.deliveries.WithLabelValues(webhook, outcome).Inc()
}

// forget drops a removed webhook's series.
func (m *metrics) forget(webhook string) {
	for _, o := range []string{outcomeDelivered, outcomeFailed, outcomeRejected, outcomeError} {
		m.deliveries.DeleteLabelValues(webhook, o)
	}
	m.retries.DeleteLabelValues(webhook)
	m.deadLetters.DeleteLabelValues(webhook)
	m.lag.DeleteLabelValues(webhook)
}
