package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casegate/internal/gatewaytest"
	"casegate/internal/pgtest"
	"casegate/views"
)

// `casegate report` prints, as a table and as JSON, the figures the read
// side computes for the cases in its window (their values are views'
// TestReportFigures, on the same data set), and the report metrics expose
// them as gauges at scrape time.
func TestReportCommandAndGauges(t *testing.T) {
	g, _ := gatewaytest.ReportData(t)
	ctx := context.Background()
	reader, err := views.New(g.DB, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "casegate.toml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(testConfig, g.DatabaseURL)), 0o600); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := run(ctx, []string{"report", "-config", path, "-since", "30d", "-json"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	var rep views.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	now := time.Now()
	want, err := reader.Report(ctx, now.Add(-30*24*time.Hour), now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep.Total, want.Total) || !reflect.DeepEqual(rep.ByCategory, want.ByCategory) {
		t.Errorf("report -json:\n%+v\nwant the read side's figures\n%+v", rep, want)
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }

	// The table names every figure.
	out.Reset()
	if err := run(ctx, []string{"report", "-config", path}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"resolution rate", "75%", "first response, median", "1h0m0s", "CSAT (4–5)", "50%", "escalated to PR: first-response", "vip"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report table lacks %q:\n%s", want, out.String())
		}
	}

	// The same figures as Prometheus gauges, read at scrape time.
	reg := prometheus.NewRegistry()
	reg.MustRegister(&reportCollector{views: reader, log: slog.New(slog.NewTextHandler(testWriter{t}, nil)), now: time.Now})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	gauge := func(name string, labels map[string]string) float64 {
		t.Helper()
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
		metrics:
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if labels[lp.GetName()] != lp.GetValue() {
						continue metrics
					}
				}
				return m.GetGauge().GetValue()
			}
		}
		t.Errorf("no %s %v", name, labels)
		return -1
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"casegate_report_cases_opened", map[string]string{"category": "all"}, 4},
		{"casegate_report_cases_resolved", map[string]string{"category": "customer"}, 2},
		{"casegate_report_up", nil, 1},
		{"casegate_report_resolution_ratio", map[string]string{"category": "all"}, 0.75},
		{"casegate_report_resolution_p90_seconds", map[string]string{"category": "all"}, 36000},
		{"casegate_report_first_response_median_seconds", map[string]string{"category": "all"}, 3600},
		{"casegate_report_csat_ratio", map[string]string{"category": "all"}, 0.5},
		{"casegate_report_ratings", map[string]string{"category": "vip"}, 0},
		{"casegate_report_escalations_to_pr", map[string]string{"category": "all", "rule": "first-response"}, 1},
	} {
		if got := gauge(c.name, c.labels); !near(got, c.want) {
			t.Errorf("%s %v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Nothing to divide and no times to rank: absent, not 0. No journalist
	// case was opened; the vip case got no staff reply and no rating. No
	// gauge carries a quantile label.
	absent := map[string]bool{"journalist": true}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			category := ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "category" {
					category = lp.GetValue()
				}
				if lp.GetName() == "quantile" {
					t.Errorf("%s has a quantile label", mf.GetName())
				}
			}
			name := mf.GetName()
			empty := absent[category] && (strings.HasSuffix(name, "_ratio") || strings.HasSuffix(name, "_seconds")) ||
				category == "vip" && (strings.HasPrefix(name, "casegate_report_first_response_") || name == "casegate_report_csat_ratio")
			if empty {
				t.Errorf("%s{category=%s} = %v, want it absent (nothing to compute it from)", name, category, m.GetGauge().GetValue())
			}
		}
	}
	if gauge("casegate_report_resolution_ratio", map[string]string{"category": "vip"}) != 1 {
		t.Error("vip resolution ratio is not 1")
	}
}

// The running gateway sends the weekly report mail of [report] weekly_to
// at its time, once, through the outbox like any mail.
func TestServeSendsWeeklyReport(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	clock := &movableClock{now: time.Date(2026, 11, 30, 7, 59, 0, 0, berlin)} // a Monday, a minute early
	dbURL := pgtest.URL(t)
	conf := fmt.Sprintf(testConfig, dbURL) + `
[calendars.office]
timezone = "Europe/Berlin"
hours = { mon = "09:00-17:00" }
[report]
calendar = "office"
weekly_to = ["PR <pr@example.com>", "lead@example.com"]
weekly_at = "mon 08:00"
`
	g, _ := runGateway(t, "", dbURL, conf, clock.Now)
	time.Sleep(500 * time.Millisecond)
	if n := count(t, g.db, `SELECT count(*) FROM report_mails`); n != 0 {
		t.Fatalf("a report went before its time")
	}
	g.stop()
	clock.Set(time.Date(2026, 11, 30, 8, 0, 0, 0, berlin))
	g, _ = runGateway(t, "", dbURL, conf, clock.Now) // looks at start
	var to []string
	for _, m := range waitMaildir(t, g.maildir, 2) { // one delivery to each recipient
		to = append(to, m.Header.Get("Delivered-To"))
		if s := m.Header.Get("Subject"); s != "Support report, week of 23 Nov 2026" || m.Header.Get("Auto-Submitted") != "auto-generated" {
			t.Errorf("weekly mail: Subject %q, Auto-Submitted %q", s, m.Header.Get("Auto-Submitted"))
		}
	}
	if slices.Sort(to); strings.Join(to, ",") != "lead@example.com,pr@example.com" {
		t.Errorf("weekly mail went to %v", to)
	}
	if n := count(t, g.db, `SELECT count(*) FROM report_mails`); n != 1 {
		t.Errorf("report_mails = %d", n)
	}
}
