package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"regexp"
	"sort"
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
	registry   *prometheus.Registry
	collectors []prometheus.Collector // what register added, for names
	received   *prometheus.CounterVec
	filing     *prometheus.HistogramVec
	delivered  *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	reloaded   prometheus.Gauge
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
	m.register(m.received, m.filing, m.delivered, m.reloads, m.reloaded,
		&outboxCollector{db: db, log: log, now: now},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// register adds collectors to the registry.
func (m *metrics) register(cs ...prometheus.Collector) {
	m.registry.MustRegister(cs...)
	m.collectors = append(m.collectors, cs...)
}

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

// names lists every metric the gateway can export, whether or not it has a
// sample now (the alerting rules and the dashboard may use only these).
// Histograms are listed with their _bucket, _sum and _count series.
func (m *metrics) names() []string {
	seen := map[string]bool{}
	for _, c := range m.collectors {
		ch := make(chan *prometheus.Desc)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if n := descName.FindStringSubmatch(d.String()); n != nil {
				seen[n[1]] = true
			}
		}
	}
	for _, c := range m.collectors {
		if h, ok := c.(*prometheus.HistogramVec); ok {
			ch := make(chan *prometheus.Desc)
			go func() { h.Describe(ch); close(ch) }()
			for d := range ch {
				n := descName.FindStringSubmatch(d.String())[1]
				seen[n+"_bucket"], seen[n+"_sum"], seen[n+"_count"] = true, true, true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// observeMessage is mailin's SMTPOptions.Observe.
func (m *metrics) observeMessage(source, result string, took time.Duration) {
	m.received.WithLabelValues(source, result).Inc()
	if result == "filed" || result == "duplicate" || result == "failed" {
		m.filing.WithLabelValues(source).Observe(took.Seconds())
	}
}

// observeCertificate exports when the STARTTLS certificate expires, so an
// alert can warn weeks before; nothing without TLS.
func (m *metrics) observeCertificate(tc *tls.Config) {
	if tc == nil || len(tc.Certificates) == 0 {
		return
	}
	leaf := tc.Certificates[0].Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(tc.Certificates[0].Certificate[0]); err != nil {
			return
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "casegate_tls_certificate_expiry_timestamp_seconds",
		Help: "When the [smtp] tls_cert certificate expires (its NotAfter), as a Unix time.",
	})
	g.Set(float64(leaf.NotAfter.Unix()))
	m.register(g)
}

// observeReadiness exports what /readyz answers, for alerting rules.
func (m *metrics) observeReadiness(problems func(context.Context) []string) {
	m.register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "casegate_ready",
		Help: "1 when /readyz answers 200 (database reachable, listeners bound, sender running), else 0.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if len(problems(ctx)) > 0 {
			return 0
		}
		return 1
	}))
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
