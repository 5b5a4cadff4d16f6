package views

import (
	"context"
	"math"
	"testing"
	"time"

	"casegate/internal/gatewaytest"
)

// The figures of `casegate report` (and the report metrics) for a known
// data set: opened, resolved, rates, response and resolution times,
// reopenings, ratings and escalations to PR, overall and by category.
func TestReportFigures(t *testing.T) {
	g, _ := gatewaytest.ReportData(t)
	r, err := New(g.DB, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rep, err := r.Report(context.Background(), now.Add(-30*24*time.Hour), now, nil) // -since 30d, 24x7
	if err != nil {
		t.Fatal(err)
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
}
