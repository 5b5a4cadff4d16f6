package gatewaytest

import (
	"context"
	"fmt"
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
	open := func(addr, tag string) int64 {
		raw := fmt.Sprintf("From: Customer <%s>\nTo: support@support.example.com\nSubject: Printer %s\nMessage-ID: <%s-1@customer.example>\nContent-Type: text/plain; charset=utf-8\n\nMy printer is on fire.\n", addr, tag, tag)
		if err := g.Send(t, addr, []string{"support@support.example.com"}, raw); err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := g.DB.Get(&id, `SELECT id FROM cases WHERE customer = $1`, addr); err != nil {
			t.Fatal(err)
		}
		g.Relay.WaitTo(t, addr, 1) // the acknowledgement
		return id
	}
	rate := func(addr, tag string, m Mail, text string) {
		id := m.MessageID(t)
		raw := fmt.Sprintf("From: Customer <%s>\nTo: support@support.example.com\nSubject: Re: your case\nMessage-ID: <%s@customer.example>\nIn-Reply-To: <%s>\nReferences: <%s>\nContent-Type: text/plain; charset=utf-8\n\n%s\n\n> quoted 1 of 5 earlier text\n", addr, tag, id, id, text)
		if err := g.Send(t, addr, []string{"support@support.example.com"}, raw); err != nil {
			t.Fatal(err)
		}
	}
	waitStatus := func(id int64, want string) {
		deadline := time.Now().Add(20 * time.Second)
		for g.Case(t, id).Status != want {
			if time.Now().After(deadline) {
				t.Fatalf("case %d is %s, want %s", id, g.Case(t, id).Status, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	a := open("a@customer.example", "a")
	b := open("b@customer.example", "b")
	c := open("c@customer.example", "c")
	open("d@customer.example", "d")
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
	rate("a@customer.example", "a-rating", WithSubject(t, g.Relay.WaitTo(t, "a@customer.example", 2), "resolved"), "5 great")
	rate("b@customer.example", "b-rating", WithSubject(t, g.Relay.WaitTo(t, "b@customer.example", 2), "resolved"), "1 still broken")
	waitStatus(a, "closed")
	waitStatus(b, "open")
	return g, staff
}
