package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"casegate/calendar"
	"casegate/reportmail"
	"casegate/views"
)

// ReportConfig is [report].
type ReportConfig struct {
	// Calendar names a [calendars.NAME] whose business hours response and
	// resolution times count in; empty for 24x7.
	Calendar string `toml:"calendar"`

	// WeeklyTo are the addresses of the weekly report mail (PR, support
	// leads); empty: no weekly mail.
	WeeklyTo []string `toml:"weekly_to"`
	// WeeklyAt is when it goes: a weekday and a time, "mon 08:00" (the
	// default), in the time zone of Calendar (UTC without one).
	WeeklyAt string `toml:"weekly_at"`
	// WeeklyWindow is how far back the weekly report reaches; default
	// "672h" (four weeks, so each trend has four points).
	WeeklyWindow Duration `toml:"weekly_window"`

	cal     *calendar.Calendar // built by validateReport; nil is 24x7
	weekday time.Weekday       // of WeeklyAt
	clock   string             // of WeeklyAt, "08:00"
}

func (c *Config) validateReport() error {
	bad := func(key, format string, args ...any) error {
		return &configError{msg: fmt.Sprintf("%s: %s: %s", c.path, key, fmt.Sprintf(format, args...)), key: key}
	}
	for _, a := range c.Report.WeeklyTo {
		if _, err := mail.ParseAddress(a); err != nil {
			return bad("report.weekly_to", "%q: %v", a, err)
		}
	}
	at := c.Report.WeeklyAt
	if at == "" {
		at = "mon 08:00"
	}
	day, clock, _ := strings.Cut(strings.ToLower(strings.TrimSpace(at)), " ")
	wd, ok := weekdays[day]
	if _, err := time.Parse("15:04", clock); !ok || err != nil {
		return bad("report.weekly_at", "%q: use a weekday and a time, e.g. \"mon 08:00\"", c.Report.WeeklyAt)
	}
	c.Report.weekday, c.Report.clock = wd, clock
	if c.Report.WeeklyWindow.Duration < 0 {
		return bad("report.weekly_window", "must not be negative")
	}
	if c.Report.Calendar == "" || c.Report.Calendar == "24x7" {
		c.Report.cal = nil
		return nil
	}
	cc, ok := c.Calendars[c.Report.Calendar]
	if !ok {
		return &configError{msg: fmt.Sprintf("%s: report.calendar: %q is not a [calendars.*] table", c.path, c.Report.Calendar), key: "report.calendar"}
	}
	cal, err := calendar.New(c.Report.Calendar, calendar.Spec{Timezone: cc.Timezone, Hours: cc.Hours, Holidays: cc.Holidays})
	if err != nil {
		return &configError{msg: fmt.Sprintf("%s: calendars.%s: %v", c.path, c.Report.Calendar, err), key: "calendars." + c.Report.Calendar}
	}
	c.Report.cal = cal
	return nil
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// weeklyReportMailer is the weekly report mail of [report] weekly_to, or
// nil when none is configured.
func weeklyReportMailer(c *Config, db *sqlx.DB, reader *views.Reader, log *slog.Logger, wake func()) (*reportmail.Mailer, error) {
	if len(c.Report.WeeklyTo) == 0 {
		return nil, nil
	}
	var to []gomail.Address
	for _, s := range c.Report.WeeklyTo {
		a, _ := mail.ParseAddress(s) // validated
		to = append(to, gomail.Address{Name: a.Name, Address: a.Address})
	}
	support, _ := mail.ParseAddress(c.Addresses.Support)
	return reportmail.New(reportmail.Options{
		DB: db, Views: reader, From: gomail.Address{Name: support.Name, Address: support.Address}, To: to,
		Weekday: c.Report.weekday, Clock: c.Report.clock, Location: c.Report.cal.Location(), Calendar: c.Report.cal,
		Window: c.Report.WeeklyWindow.Duration, Now: c.now, Logger: log, AfterQueue: wake,
	})
}

// parseSince reads -since: "30d", "12h", "90m".
func parseSince(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("-since %q: use e.g. 30d, 12h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("-since %q: use e.g. 30d, 12h", s)
	}
	return d, nil
}

// reportCommand is `casegate report [-since 30d] [-json | -html | -csv]
// [-o FILE]`: the outcomes of the cases opened in the window, overall and
// by category; as a table, JSON, a self-contained HTML page with charts, or
// CSV.
func reportCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newCLIFlags("report", stderr)
	since := f.String("since", "30d", "the window: cases opened (ratings given, escalations fired) this long ago or later")
	html := f.Bool("html", false, "write a self-contained HTML page with charts")
	csv := f.Bool("csv", false, "write every figure as CSV (section, key, figure, value)")
	output := f.String("o", "", "write to this file instead of standard output")
	if _, err := f.parse(args, "[-since 30d] [-json | -html | -csv] [-o FILE]", 0, 0); err != nil {
		return err
	}
	window, err := parseSince(*since)
	if err != nil {
		return configErrorf("report: %v", err)
	}
	if btoi(*html)+btoi(*csv)+btoi(*f.json) > 1 {
		return configErrorf("report: choose one of -json, -html and -csv")
	}
	a, err := openAdmin(ctx, f, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	now := time.Now()
	if a.c.now != nil {
		now = a.c.now()
	}
	page, err := a.views.ReportPage(ctx, now.Add(-window), now, a.c.Report.cal)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	switch {
	case *f.json:
		enc := json.NewEncoder(&out)
		enc.SetIndent("", "  ")
		err = enc.Encode(page.Report)
	case *html:
		err = views.WriteHTML(&out, page)
	case *csv:
		err = views.WriteCSV(&out, page)
	default:
		err = views.WriteText(&out, page.Report)
	}
	if err != nil {
		return err
	}
	return a.writeOut(*output, out.Bytes())
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// reportWindow is the window of the report metrics.
const reportWindow = 30 * 24 * time.Hour

var (
	reportUpDesc = prometheus.NewDesc("casegate_report_up",
		"1 when the report figures were computed from the database at this scrape; 0 when they could not be (they are then absent).", nil, nil)
	reportOpenedDesc = prometheus.NewDesc("casegate_report_cases_opened",
		"Cases opened in the last 30 days, by category.", []string{"category"}, nil)
	reportResolvedDesc = prometheus.NewDesc("casegate_report_cases_resolved",
		"Of the cases opened in the last 30 days, those resolved at least once.", []string{"category"}, nil)
	reportResolutionRatioDesc = prometheus.NewDesc("casegate_report_resolution_ratio",
		"Resolved / opened, last 30 days; absent when none was opened.", []string{"category"}, nil)
	reportFirstResponseMedianDesc = prometheus.NewDesc("casegate_report_first_response_median_seconds",
		"Median business time from opening to the first staff reply, last 30 days; absent without replies.", []string{"category"}, nil)
	reportFirstResponseP90Desc = prometheus.NewDesc("casegate_report_first_response_p90_seconds",
		"90th percentile of the business time from opening to the first staff reply, last 30 days; absent without replies.", []string{"category"}, nil)
	reportResolutionMedianDesc = prometheus.NewDesc("casegate_report_resolution_median_seconds",
		"Median business time from opening to the first resolution, last 30 days; absent without resolutions.", []string{"category"}, nil)
	reportResolutionP90Desc = prometheus.NewDesc("casegate_report_resolution_p90_seconds",
		"90th percentile of the business time from opening to the first resolution, last 30 days; absent without resolutions.", []string{"category"}, nil)
	reportReopenRatioDesc = prometheus.NewDesc("casegate_report_reopen_ratio",
		"Resolved cases open again / resolved cases, last 30 days; absent when none was resolved.", []string{"category"}, nil)
	reportRatingsDesc = prometheus.NewDesc("casegate_report_ratings",
		"Satisfaction ratings given in the last 30 days.", []string{"category"}, nil)
	reportCSATDesc = prometheus.NewDesc("casegate_report_csat_ratio",
		"Share of ratings 4 or 5 in the last 30 days; absent without ratings.", []string{"category"}, nil)
	reportEscalationsDesc = prometheus.NewDesc("casegate_report_escalations_to_pr",
		"Escalations to PR in the last 30 days, by rule.", []string{"category", "rule"}, nil)
)

// reportCollector computes the report at scrape time, like the outbox
// gauges, so every instance exports the same figures.
type reportCollector struct {
	views *views.Reader
	cal   *calendar.Calendar
	log   *slog.Logger
	now   func() time.Time
}

// registerReport adds the report figures to the registry of m; they count
// in [report] calendar's business hours, on the gateway's clock.
func (m *metrics) registerReport(reader *views.Reader, c *Config, log *slog.Logger) {
	now := c.now
	if now == nil {
		now = time.Now
	}
	m.register(&reportCollector{views: reader, cal: c.Report.cal, log: log, now: now})
}

func (r *reportCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{reportUpDesc, reportOpenedDesc, reportResolvedDesc, reportResolutionRatioDesc,
		reportFirstResponseMedianDesc, reportFirstResponseP90Desc, reportResolutionMedianDesc, reportResolutionP90Desc,
		reportReopenRatioDesc, reportRatingsDesc, reportCSATDesc, reportEscalationsDesc} {
		ch <- d
	}
}

func (r *reportCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := r.now()
	rep, err := r.views.Report(ctx, now.Add(-reportWindow), now, r.cal)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if err != nil {
		// Stale figures are worse than none; the scrape still answers.
		r.log.Warn("metrics: computing the report failed", "err", err)
		gauge(reportUpDesc, 0)
		return
	}
	gauge(reportUpDesc, 1)
	all := map[string]views.Figures{"all": rep.Total}
	for c, f := range rep.ByCategory {
		all[c] = f
	}
	for c, f := range all {
		gauge(reportOpenedDesc, float64(f.Opened), c)
		gauge(reportResolvedDesc, float64(f.Resolved), c)
		gauge(reportRatingsDesc, float64(f.Ratings), c)
		// A share of nothing and a percentile of no times do not exist:
		// they are left out rather than reported as 0.
		if f.Opened > 0 {
			gauge(reportResolutionRatioDesc, f.ResolutionRate, c)
		}
		if f.Resolved > 0 {
			gauge(reportReopenRatioDesc, f.ReopenRate, c)
		}
		if f.Ratings > 0 {
			gauge(reportCSATDesc, f.CSAT, c)
		}
		if f.FirstResponse.Count > 0 {
			gauge(reportFirstResponseMedianDesc, f.FirstResponse.MedianSeconds, c)
			gauge(reportFirstResponseP90Desc, f.FirstResponse.P90Seconds, c)
		}
		if f.Resolution.Count > 0 {
			gauge(reportResolutionMedianDesc, f.Resolution.MedianSeconds, c)
			gauge(reportResolutionP90Desc, f.Resolution.P90Seconds, c)
		}
		for rule, n := range f.EscalationsPR {
			gauge(reportEscalationsDesc, float64(n), c, rule)
		}
	}
}
