package main

import (
	"bytes"
	"casegate/vocab"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casegate/internal/pgtest"
	"casegate/views"
)

// A known data set, built the way it happens (mail over SMTP, staff
// resolving on a moving clock, customers rating by mail) plus a staff reply
// and a PR escalation recorded directly, and the figures `casegate report`
// prints for it.
func TestReportFigures(t *testing.T) {
	start := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)
	clock := &movableClock{now: start}
	g, staff, path := startFollowupGateway(t, clock)
	ctx := context.Background()
	a := openFollowupCase(t, g, "a@customer.example", "a")
	b := openFollowupCase(t, g, "b@customer.example", "b")
	c := openFollowupCase(t, g, "c@customer.example", "c")
	openFollowupCase(t, g, "d@customer.example", "d")
	g.db.MustExec(`UPDATE cases SET category = 'vip' WHERE id = $1`, c)
	// First staff replies to a after 1h, to b after 3h.
	g.db.MustExec(`INSERT INTO events (case_id, at, kind, actor, detail) VALUES ($1, $3, 'relayed', 'alice@example.com', ''), ($2, $4, 'relayed', 'alice@example.com', '')`,
		a, b, start.Add(time.Hour), start.Add(3*time.Hour))
	g.db.MustExec(`INSERT INTO escalations (case_id, rule, since, due_at, fired_at, actions) VALUES ($1, 'first-response', $2, $2, $2, '{cc_pr}'), ($1, 'quiet', $2, $2, $2, '{notify:x@example.com}')`,
		a, start.Add(4*time.Hour))
	resolve := func(id int64, after time.Duration) {
		clock.Set(start.Add(after))
		if err := staff.ChangeStatus(ctx, id, vocab.StatusResolved, "alice@example.com", ""); err != nil {
			t.Fatal(err)
		}
	}
	resolve(a, 2*time.Hour)
	resolve(b, 4*time.Hour)
	resolve(c, 10*time.Hour)
	na := withSubject(t, waitMailsTo(t, "a@customer.example", 2, g.maildir), "resolved")
	nb := withSubject(t, waitMailsTo(t, "b@customer.example", 2, g.maildir), "resolved")
	reply(t, g, "a@customer.example", "a-rating", na, "5 great")
	reply(t, g, "b@customer.example", "b-rating", nb, "1 still broken")
	waitStatus(t, g.db, a, "closed")
	waitStatus(t, g.db, b, "open")

	var out bytes.Buffer
	if err := run(ctx, []string{"report", "-config", path, "-since", "30d", "-json"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	var rep views.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	tot := rep.Total
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	if tot.Opened != 4 || tot.Resolved != 3 || !near(tot.ResolutionRate, 0.75) {
		t.Errorf("opened/resolved/rate = %d/%d/%v, want 4/3/0.75", tot.Opened, tot.Resolved, tot.ResolutionRate)
	}
	if s := tot.Resolution; s.Count != 3 || s.MedianSeconds != 4*3600 || s.P90Seconds != 10*3600 {
		t.Errorf("resolution times = %+v, want median 4h, p90 10h", s)
	}
	if s := tot.FirstResponse; s.Count != 2 || s.MedianSeconds != 3600 || s.P90Seconds != 3*3600 {
		t.Errorf("first response = %+v, want median 1h, p90 3h", s)
	}
	if tot.Reopened != 1 || !near(tot.ReopenRate, 1.0/3) {
		t.Errorf("reopened %d, rate %v; want 1, 1/3", tot.Reopened, tot.ReopenRate)
	}
	if tot.Ratings != 2 || !near(tot.CSAT, 0.5) {
		t.Errorf("ratings %d, CSAT %v; want 2, 0.5", tot.Ratings, tot.CSAT)
	}
	if len(tot.EscalationsPR) != 1 || tot.EscalationsPR["first-response"] != 1 {
		t.Errorf("escalations to PR = %v, want first-response: 1 (a notify is not PR)", tot.EscalationsPR)
	}
	if v := rep.ByCategory["vip"]; v.Opened != 1 || v.Resolved != 1 || v.Resolution.MedianSeconds != 10*3600 || v.Ratings != 0 {
		t.Errorf("vip = %+v", v)
	}
	if cu := rep.ByCategory["customer"]; cu.Opened != 3 || cu.Resolved != 2 || cu.Ratings != 2 {
		t.Errorf("customer = %+v", cu)
	}
	if j := rep.ByCategory["journalist"]; j.Opened != 0 {
		t.Errorf("journalist = %+v", j)
	}

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
	reader, err := views.New(g.db, nil)
	if err != nil {
		t.Fatal(err)
	}
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
	m := waitMailsTo(t, "lead@example.com", 1, g.maildir)[0]
	if s := m.Header.Get("Subject"); s != "Support report, week of 23 Nov 2026" || m.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("weekly mail: Subject %q, Auto-Submitted %q", s, m.Header.Get("Auto-Submitted"))
	}
	waitMailsTo(t, "pr@example.com", 1, g.maildir)
	if n := count(t, g.db, `SELECT count(*) FROM report_mails`); n != 1 {
		t.Errorf("report_mails = %d", n)
	}
}
