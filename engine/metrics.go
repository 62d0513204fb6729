package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// Metrics holds the command side's measurements. A nil *Metrics discards
// everything, so tests and tools need not build one.
type Metrics struct {
	commands     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	appended     prometheus.Counter
	batchCalls   prometheus.Histogram
	batchMsgs    prometheus.Histogram
	wakeups      prometheus.Counter
	dropped      prometheus.Counter
	erasure      erasureMetrics
	loaded       prometheus.Counter
	loadedRead   prometheus.Counter
	evicted      prometheus.Counter
	tailed       prometheus.Counter
	indexPos     prometheus.Gauge
	snapshots    prometheus.Counter
	unanswerable *prometheus.CounterVec
	logins       *prometheus.CounterVec
}

type erasureMetrics struct {
	pending   prometheus.Gauge
	waiting   prometheus.Gauge
	rotations prometheus.Counter
	failures  prometheus.Counter
}

// NewMetrics creates the command side's metrics on reg, which the engine
// owns (never the global registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	sizes := prometheus.ExponentialBuckets(1, 2, 11)
	m := &Metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketbus_commands_total", Help: "Commands handled, by name and outcome or error code.",
		}, []string{"command", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ticketbus_commands_duration_seconds", Help: "Time to decide and durably append a command.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"command"}),
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ticketbus_eventstore_events_appended_total", Help: "Events appended to the log.",
		}),
		batchCalls: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ticketbus_eventstore_batch_commands", Help: "Commands sharing one group-commit batch.", Buckets: sizes,
		}),
		batchMsgs: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ticketbus_eventstore_batch_events", Help: "Events in one group-commit batch.", Buckets: sizes,
		}),
		wakeups: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ticketbus_scheduler_wakeups_total", Help: "Snoozed tickets woken by the timer.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ticketbus_commands_inbound_dropped_total", Help: "Inbound messages dropped because the sender is blocked.",
		}),
	}
	m.erasure = erasureMetrics{
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ticketbus_erasure_pending",
			Help: "Blocks whose erasure is not yet complete on every replica (erasure notes written after the last confirmed one).",
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ticketbus_erasure_waiting_replicas",
			Help: "Replicas (or unfinished rotation steps) that a pending erasure waits for.",
		}),
		rotations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ticketbus_erasure_rotations_total", Help: "Keyring rotations this instance carried out.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ticketbus_erasure_failures_total", Help: "Rotation or confirmation attempts that failed and will be retried.",
		}),
	}
	m.loaded = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ticketbus_engine_aggregates_loaded_total", Help: "Aggregates read from the log because they were not cached.",
	})
	m.loadedRead = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ticketbus_engine_aggregate_events_read_total", Help: "Events read from the log to load aggregates.",
	})
	m.evicted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ticketbus_engine_aggregates_evicted_total", Help: "Aggregates dropped from the cache to keep it within its bound.",
	})
	m.tailed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ticketbus_engine_tail_events_total", Help: "Log entries the engine's tail applied since the start.",
	})
	m.indexPos = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ticketbus_engine_index_position", Help: "Log position the engine's index has written.",
	})
	m.snapshots = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ticketbus_engine_snapshots_written_total", Help: "Snapshots of long aggregates this instance stored.",
	})
	m.unanswerable = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ticketbus_commands_unanswerable_total",
		Help: "Commands received without a reply subject the engine may answer, by reason; none is run.",
	}, []string{"reason"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ticketbus_nats_logins_total",
		Help: "NATS logins this instance answered (auth callout), by outcome: accepted or refused.",
	}, []string{"outcome"})
	reg.MustRegister(m.loaded, m.loadedRead, m.evicted, m.tailed, m.indexPos, m.snapshots, m.unanswerable, m.logins)
	reg.MustRegister(m.commands, m.latency, m.appended, m.batchCalls, m.batchMsgs, m.wakeups, m.dropped,
		m.erasure.pending, m.erasure.waiting, m.erasure.rotations, m.erasure.failures)
	return m
}

// OnBatch records one group-commit batch; pass it as LogConfig.OnBatch.
func (m *Metrics) OnBatch(requests, messages int, _ time.Duration) {
	if m == nil {
		return
	}
	m.batchCalls.Observe(float64(requests))
	m.batchMsgs.Observe(float64(messages))
}

func (m *Metrics) observeCommand(name string, res Result, err error, d time.Duration) {
	if m == nil {
		return
	}
	result := res.Outcome
	if err != nil {
		result = domain.ErrorCode(err)
	}
	m.commands.WithLabelValues(name, result).Inc()
	if d > 0 {
		m.latency.WithLabelValues(name).Observe(d.Seconds())
	}
}

func (m *Metrics) eventsAppended(n int) {
	if m != nil {
		m.appended.Add(float64(n))
	}
}

func (m *Metrics) wakeupFired() {
	if m != nil {
		m.wakeups.Inc()
	}
}

func (m *Metrics) inboundDropped() {
	if m != nil {
		m.dropped.Inc()
	}
}

func (m *Metrics) erasureState(st eventstore.ErasureStatus) {
	if m != nil {
		m.erasure.pending.Set(float64(st.Pending))
		m.erasure.waiting.Set(float64(len(st.Waiting)))
	}
}

func (m *Metrics) erasureRotated() {
	if m != nil {
		m.erasure.rotations.Inc()
	}
}

func (m *Metrics) erasureFailed() {
	if m != nil {
		m.erasure.failures.Inc()
	}
}

func (m *Metrics) aggregateLoaded(eventsRead, evicted int) {
	if m != nil {
		m.loaded.Inc()
		m.loadedRead.Add(float64(eventsRead))
		m.evicted.Add(float64(evicted))
	}
}

func (m *Metrics) tailApplied() {
	if m != nil {
		m.tailed.Inc()
	}
}

func (m *Metrics) indexAt(pos uint64) {
	if m != nil {
		m.indexPos.Set(float64(pos))
	}
}

func (m *Metrics) snapshotWritten() {
	if m != nil {
		m.snapshots.Inc()
	}
}

// Login counts a NATS login answered: accepted, or refused.
func (m *Metrics) Login(accepted bool) {
	if m == nil {
		return
	}
	outcome := "refused"
	if accepted {
		outcome = "accepted"
	}
	m.logins.WithLabelValues(outcome).Inc()
}

// Unanswerable counts a command a transport refused to run because it
// could not answer it.
func (m *Metrics) Unanswerable(reason string) {
	if m != nil {
		m.unanswerable.WithLabelValues(reason).Inc()
	}
}
