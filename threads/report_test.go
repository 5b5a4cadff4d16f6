package threads_test

import (
	"context"
	"math"
	"testing"
	"time"

	"casegate/internal/gatewaytest"
	"casegate/threads"
	"casegate/vocab"
)

// reportData builds a known data set the way it happens (mail over SMTP,
// staff resolving on a moving clock, customers rating by mail) plus a staff
// reply and a PR escalation recorded directly, and returns the gateway and
// a second Store on it, as the admin commands have one.
//
// cmd/casegate's TestReportCommandAndGauges builds the same data set to
// check what `casegate report` and the report metrics show of it.
func reportData(t *testing.T) (*gatewaytest.Gateway, *threads.Store) {
	t.Helper()
	start := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)
	clock := gatewaytest.NewClock(start)
	g, staff := startFollowupGateway(t, clock)
	ctx := context.Background()
	a := openFollowupCase(t, g, "a@customer.example", "a")
	b := openFollowupCase(t, g, "b@customer.example", "b")
	c := openFollowupCase(t, g, "c@customer.example", "c")
	openFollowupCase(t, g, "d@customer.example", "d")
	g.DB.MustExec(`UPDATE cases SET category = 'vip' WHERE id = $1`, c)
	// First staff replies to a after 1h, to b after 3h.
	g.DB.MustExec(`INSERT INTO events (case_id, at, kind, actor, detail) VALUES ($1, $3, 'relayed', 'alice@example.com', ''), ($2, $4, 'relayed', 'alice@example.com', '')`,
		a, b, start.Add(time.Hour), start.Add(3*time.Hour))
	g.DB.MustExec(`INSERT INTO escalations (case_id, rule, since, due_at, fired_at, actions) VALUES ($1, 'first-response', $2, $2, $2, '{cc_pr}'), ($1, 'quiet', $2, $2, $2, '{notify:x@example.com}')`,
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
	na := gatewaytest.WithSubject(t, g.Relay.WaitTo(t, "a@customer.example", 2), "resolved")
	nb := gatewaytest.WithSubject(t, g.Relay.WaitTo(t, "b@customer.example", 2), "resolved")
	reply(t, g, "a@customer.example", "a-rating", na, "5 great")
	reply(t, g, "b@customer.example", "b-rating", nb, "1 still broken")
	waitStatus(t, g, a, "closed")
	waitStatus(t, g, b, "open")
	return g, staff
}

// The figures of `casegate report` (and the report metrics) for a known
// data set: opened, resolved, rates, response and resolution times,
// reopenings, ratings and escalations to PR, overall and by category.
func TestReportFigures(t *testing.T) {
	_, staff := reportData(t)
	now := time.Now()
	rep, err := staff.Report(context.Background(), now.Add(-30*24*time.Hour), now, nil) // -since 30d, 24x7
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
