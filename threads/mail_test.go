package threads_test

// What the behaviour tests of threads share: the gateway configurations
// they run on and readers of what it sent. The mails customers and staff
// write, and the texts expected back, are internal/gatewaytest's
// (fixtures.go), shared with the tests of mailin, mailout and cmd.

import (
	"testing"
	"time"
	_ "time/tzdata" // the office calendar is in Europe/Berlin

	"casegate/calendar"
	"casegate/internal/gatewaytest"
	"casegate/mailin"
	"casegate/threads"
	"casegate/vocab"
)

// staffOptions are the staff of the staff tests: two members, a PR desk
// with a name, and the [staff] settings of a test.
func staffOptions(o gatewaytest.Options) gatewaytest.Options {
	o.Staff = []string{"Alice Example <alice@example.com>", "bob@example.com"}
	o.PR = "PR Desk <pr@example.com>"
	return o
}

// loopbackIsStaff makes mail from loopback proof of a staff sender's
// origin ([staff] trusted_networks), so a test can answer as staff
// through the listener.
var loopbackIsStaff = []string{"127.0.0.0/8"}

// officeRules are the default rules of dev/casegate.toml: the press and
// public-risk wording reach PR at once, a first response is due within 4
// business hours of a Berlin office (Monday to Friday 9–17, closed on
// Christmas Day) and a resolution within 24.
func officeRules(t testing.TB) []threads.Rule {
	t.Helper()
	office, err := calendar.New("office", calendar.Spec{Timezone: "Europe/Berlin", Holidays: []string{"2026-12-25"},
		Hours: map[string]string{"mon": "09:00-17:00", "tue": "09:00-17:00", "wed": "09:00-17:00", "thu": "09:00-17:00", "fri": "09:00-17:00"}})
	if err != nil {
		t.Fatal(err)
	}
	ccPR := threads.Action{Kind: threads.ActionCCPR}
	return []threads.Rule{
		{Name: "press", Category: vocab.CategoryJournalist, When: threads.WhenOpened, Actions: []threads.Action{ccPR}},
		{Name: "public-risk", Risk: vocab.RiskHigh, When: threads.WhenOpened, Actions: []threads.Action{ccPR}},
		{Name: "first-response", When: threads.WhenNoStaffReply, After: 4 * time.Hour, Calendar: office, Actions: []threads.Action{ccPR}},
		{Name: "resolution", When: threads.WhenUnresolved, After: 24 * time.Hour, Calendar: office,
			Actions: []threads.Action{ccPR, {Kind: threads.ActionPriority, Priority: vocab.PriorityHigh}}},
	}
}

// escalationOptions are the office rules with the press domain of the
// Daily Planet, staff answering from loopback, on clock.
func escalationOptions(t testing.TB, clock *gatewaytest.Clock) gatewaytest.Options {
	return gatewaytest.Options{
		Rules:           officeRules(t),
		Classify:        mailin.ClassifyOptions{PressDomains: []string{"daily-planet.example"}},
		TrustedNetworks: loopbackIsStaff,
		Clock:           clock,
	}
}

// headerTo keeps the mails whose To header is addr alone, failing the
// test when there is none.
func headerTo(t *testing.T, ms []gatewaytest.Mail, addr string) []gatewaytest.Mail {
	t.Helper()
	var out []gatewaytest.Mail
	for _, m := range ms {
		to, _ := m.Header.AddressList("To")
		if len(to) == 1 && to[0].Address == addr {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no mail to %s", addr)
	}
	return out
}

func dueAt(t *testing.T, g *gatewaytest.Gateway, caseID int64, rule string) time.Time {
	t.Helper()
	var due time.Time
	if err := g.DB.Get(&due, `SELECT due_at FROM timers WHERE case_id = $1 AND rule = $2`, caseID, rule); err != nil {
		t.Fatalf("timer %s: %v", rule, err)
	}
	return due
}
