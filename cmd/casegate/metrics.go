package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"casegate/mailout"
)

// metrics is the gateway's Prometheus registry, owned by one serve call (no
// global registry: tests run several gateways in one process). Components
// report through the hook functions of their Options.
type metrics struct {
	registry  *prometheus.Registry
	received  *prometheus.CounterVec
	filing    *prometheus.HistogramVec
	delivered *prometheus.CounterVec
	reloads   *prometheus.CounterVec
	reloaded  prometheus.Gauge
}

func newMetrics(db *sqlx.DB, log *slog.Logger, now func() time.Time) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casegate_messages_received_total",
			Help: "Messages received, by source (smtp, lmtp) and result (filed, duplicate, failed = answered 4xx, rejected = 5xx).",
		}, []string{"source", "result"}),
		filing: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "casegate_filing_duration_seconds",
			Help:    "Time from the end of DATA to the committed filing (or its failure).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"source"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casegate_delivery_attempts_total",
			Help: "Outbound delivery attempts by result (sent, deferred, failed = given up).",
		}, []string{"result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casegate_config_reloads_total",
			Help: "SIGHUP reloads by result (ok, refused).",
		}, []string{"result"}),
		reloaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "casegate_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration in force was loaded.",
		}),
	}
	// Every series with known labels exists from the start, at 0, so a
	// rate() or an alert on it works before the first event.
	for _, source := range []string{"smtp", "lmtp"} {
		for _, result := range []string{"filed", "duplicate", "failed", "rejected"} {
			m.received.WithLabelValues(source, result)
		}
		m.filing.WithLabelValues(source)
	}
	for _, result := range []string{"sent", "deferred", "failed"} {
		m.delivered.WithLabelValues(result)
	}
	for _, result := range []string{"ok", "refused"} {
		m.reloads.WithLabelValues(result)
	}
	m.reloaded.Set(float64(now().Unix()))
	m.registry.MustRegister(m.received, m.filing, m.delivered, m.reloads, m.reloaded,
		&outboxCollector{db: db, log: log, now: now},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeMessage is mailin's SMTPOptions.Observe.
func (m *metrics) observeMessage(source, result string, took time.Duration) {
	m.received.WithLabelValues(source, result).Inc()
	if result == "filed" || result == "duplicate" || result == "failed" {
		m.filing.WithLabelValues(source).Observe(took.Seconds())
	}
}

// observeDelivery is mailout's SenderOptions.OnAttempt.
func (m *metrics) observeDelivery(result string) { m.delivered.WithLabelValues(result).Inc() }

var (
	outboxUpDesc = prometheus.NewDesc("casegate_outbox_up",
		"1 when the outbox gauges were read from the database at this scrape; 0 when it could not be read (the outbox gauges are then absent).", nil, nil)
	outboxQueuedDesc = prometheus.NewDesc("casegate_outbox_queued",
		"Deliveries waiting to be sent.", nil, nil)
	outboxOldestDesc = prometheus.NewDesc("casegate_outbox_oldest_age_seconds",
		"Age of the oldest mail still waiting to be sent; 0 when none waits.", nil, nil)
	outboxFailedDesc = prometheus.NewDesc("casegate_outbox_failed",
		"Deliveries casegate gave up on (see `casegate outbox -failed`).", nil, nil)
)

// outboxCollector reads the queue from the database at scrape time, so the
// numbers are right across every instance sharing the database.
type outboxCollector struct {
	db  *sqlx.DB
	log *slog.Logger
	now func() time.Time
}

func (o *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxUpDesc
	ch <- outboxQueuedDesc
	ch <- outboxOldestDesc
	ch <- outboxFailedDesc
}

func (o *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := mailout.Stats(ctx, o.db, o.now())
	if err != nil {
		// The scrape still succeeds: the counters (the 451s above all)
		// matter most when the database is down.
		o.log.Warn("metrics: reading the outbox failed", "err", err)
		ch <- prometheus.MustNewConstMetric(outboxUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(outboxUpDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(outboxQueuedDesc, prometheus.GaugeValue, float64(st.Queued))
	ch <- prometheus.MustNewConstMetric(outboxOldestDesc, prometheus.GaugeValue, st.OldestAge.Seconds())
	ch <- prometheus.MustNewConstMetric(outboxFailedDesc, prometheus.GaugeValue, float64(st.Failed))
}
