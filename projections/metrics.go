package projections

import "github.com/prometheus/client_golang/prometheus"

// Metrics holds the projector's measurements. A nil *Metrics discards
// everything.
type Metrics struct {
	position prometheus.Gauge
	lag      prometheus.Gauge
	apply    prometheus.Histogram
	events   prometheus.Counter
	failures *prometheus.CounterVec
	stalled  prometheus.Gauge
}

// NewMetrics creates the projector's metrics on reg, which the caller owns
// (never the global registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		position: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ticketbus_projector_position", Help: "Last log position applied to the views.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ticketbus_projector_lag_events", Help: "Events in the log not yet applied to the views.",
		}),
		apply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ticketbus_projector_apply_seconds", Help: "Time to apply and commit one batch of events.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ticketbus_projector_events_total", Help: "Log entries applied to the views, skipped ones included.",
		}),
	}
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ticketbus_projector_failures_total",
		Help: "Times the projector stopped on a failure and restarted from its last committed position, by reason.",
	}, []string{"reason"})
	for _, r := range failureReasons {
		m.failures.WithLabelValues(r)
	}
	m.stalled = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ticketbus_projector_stalled",
		Help: "1 while the projector's last attempt failed and the views are not moving, 0 once a batch is applied again.",
	})
	reg.MustRegister(m.position, m.lag, m.apply, m.events, m.failures, m.stalled)
	return m
}

// startBatch starts timing a batch; the returned func records it.
func (m *Metrics) startBatch() func() {
	if m == nil {
		return func() {}
	}
	t := prometheus.NewTimer(m.apply)
	return func() { t.ObserveDuration() }
}

// applied records a committed batch of n entries.
func (m *Metrics) applied(n int, pos, last uint64) {
	if m == nil {
		return
	}
	m.events.Add(float64(n))
	m.stalled.Set(0)
	m.setPosition(pos, last)
}

// setPosition sets the position and the lag behind the log's last known
// position.
func (m *Metrics) setPosition(pos, last uint64) {
	if m == nil {
		return
	}
	m.position.Set(float64(pos))
	if last < pos {
		last = pos
	}
	m.lag.Set(float64(last - pos))
}

// failed records a stop of the projector for reason, one of
// failureReasons.
func (m *Metrics) failed(reason string) {
	if m == nil {
		return
	}
	m.failures.WithLabelValues(reason).Inc()
	m.stalled.Set(1)
}
