package gatewaytest

import (
	"context"
	"testing"
	"time"

	"casegate/threads"
	"casegate/vocab"
)

// ReportData starts a gateway and builds on it a known data set for the
// report figures, the way it happens (mail over SMTP, staff resolving on
// a moving clock, customers rating by mail) plus a staff reply and a PR
// escalation recorded directly. It returns the gateway and a second Store
// on it, as the admin commands have one.
//
// Four cases, opened 48 hours ago: a (customer: first reply after 1h,
// resolved after 2h, rated 5, escalated to PR by first-response after
// 4h), b (customer: reply after 3h, resolved after 4h, rated 1, so
// reopened), c (vip: resolved after 10h, no reply, no rating), d (open).
// views' TestReportFigures checks the figures of it; cmd's report tests
// check what `casegate report` and the metrics show of the same.
func ReportData(t *testing.T) (*Gateway, *threads.Store) {
	t.Helper()
	start := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)
	clock := NewClock(start)
	g := Start(t, Options{Clock: clock,
		Followup: threads.FollowupOptions{Delay: 48 * time.Hour, CloseAfter: 96 * time.Hour, ReopenAtOrBelow: 2}})
	staff := g.SecondStore(t)
	ctx := context.Background()
	a := g.OpenCase(t, "a@customer.example", "a")
	b := g.OpenCase(t, "b@customer.example", "b")
	c := g.OpenCase(t, "c@customer.example", "c")
	g.OpenCase(t, "d@customer.example", "d")
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
	g.Reply(t, "a@customer.example", "a-rating", WithSubject(t, g.Relay.WaitTo(t, "a@customer.example", 2), "resolved"), "5 great")
	g.Reply(t, "b@customer.example", "b-rating", WithSubject(t, g.Relay.WaitTo(t, "b@customer.example", 2), "resolved"), "1 still broken")
	g.WaitStatus(t, a, "closed")
	g.WaitStatus(t, b, "open")
	return g, staff
}
