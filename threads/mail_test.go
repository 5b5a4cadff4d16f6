package threads_test

// What the behaviour tests of threads share: the mails customers and staff
// write, and the gateway configurations they run on (internal/gatewaytest).

import (
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the office calendar is in Europe/Berlin

	"casegate/calendar"
	"casegate/internal/gatewaytest"
	"casegate/mailin"
	"casegate/threads"
	"casegate/vocab"
)

const customerMail = `From: Ada Lovelace <ada@customer.example>
To: support@support.example.com
Subject: Printer on fire
Message-ID: <first-1@customer.example>
Date: Sun, 22 Nov 2026 10:00:00 +0000
Content-Type: text/plain; charset=utf-8

My printer is on fire. Please help.
`

const journalistMail = `From: Lois Lane <lois@daily-planet.example>
To: support@support.example.com
Subject: Exploding printers
Message-ID: <lois-1@daily-planet.example>
Content-Type: text/plain; charset=utf-8

We are running a story tomorrow on printers catching fire. Does your
company have a comment?

Lois Lane
Daily Planet
`

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

func berlinTime(t testing.TB, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fill replaces the placeholders of a test mail.
func fill(s string, kv ...string) string {
	return strings.NewReplacer(kv...).Replace(s)
}

// muttReply is a reply as mutt 2.2 writes it (text/plain, inline
// disposition, "On …, … wrote:" attribution, signature below the quote).
const muttReply = `Date: Sun, 22 Nov 2026 10:03:11 +0000
From: Alice Example <alice@example.com>
To: Example Support <TOKEN>
Subject: Re: [#CASE] New case: Printer on fire
Message-ID: <20261122100311.GA4711@example.com>
References: <PARENT>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii
Content-Disposition: inline
In-Reply-To: <PARENT>
User-Agent: Mutt/2.2.12 (2023-09-09)

BODY

On Sun, Nov 22, 2026 at 10:00:00AM +0000, Example Support wrote:
> New case #CASE: Printer on fire
> From:     Ada Lovelace <ada@customer.example>

-- 
Alice Example, Example Corp support
`

// staffReply fills muttReply; id makes its Message-ID unique.
func staffReply(from, token, parent string, caseID int64, id, body string) string {
	return fill(muttReply, "Alice Example <alice@example.com>", from, "TOKEN", token, "PARENT", parent,
		"CASE", fmt.Sprint(caseID), "GA4711", id, "BODY", body)
}

// relayedText is a staff reply as the customer gets it.
func relayedText(caseID int64, text string) string {
	return fmt.Sprintf("%s\n\n-- \nExample Support\nCase #%d: reply to this email to add to it.\n", text, caseID)
}

// resolvedText is a relayed reply that resolved the case: the staff text,
// then the resolution line.
func resolvedText(caseID int64, text string) string {
	return fmt.Sprintf("%s\n\nWe have marked your case as resolved. If something is still not right,\njust reply to this email and it opens again.\n\n-- \nExample Support\nCase #%d: reply to this email to add to it.\n", text, caseID)
}

// openCase files customerMail on a gateway with staffOptions and returns
// the case, the customer's and staff's reply addresses and the
// notification's Message-ID.
func openCase(t *testing.T, g *gatewaytest.Gateway) (caseID int64, customerToken, staffToken, notificationID string) {
	t.Helper()
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, customerMail); err != nil {
		t.Fatal(err)
	}
	g.DB.Get(&caseID, `SELECT max(id) FROM cases`)
	got := g.Outbox.Expect(t, "ada@customer.example", "alice@example.com,bob@example.com")
	n := got["alice@example.com,bob@example.com"]
	return caseID, got["ada@customer.example"].ReplyTo(t), n.ReplyTo(t), n.MessageID(t)
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

// caseOf returns the one case's number.
func caseOf(t *testing.T, g *gatewaytest.Gateway) int64 {
	t.Helper()
	var id int64
	if err := g.DB.Get(&id, `SELECT id FROM cases`); err != nil {
		t.Fatal(err)
	}
	return id
}

func dueAt(t *testing.T, g *gatewaytest.Gateway, caseID int64, rule string) time.Time {
	t.Helper()
	var due time.Time
	if err := g.DB.Get(&due, `SELECT due_at FROM timers WHERE case_id = $1 AND rule = $2`, caseID, rule); err != nil {
		t.Fatalf("timer %s: %v", rule, err)
	}
	return due
}
