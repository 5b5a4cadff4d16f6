package threads_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"casegate/internal/gatewaytest"
	"casegate/threads"
	"casegate/vocab"
)

func TestJournalistReachesPRAtOnce(t *testing.T) {
	clock := gatewaytest.NewClock(gatewaytest.BerlinTime(t, "2026-11-28 22:10")) // a Saturday night
	g := gatewaytest.Start(t, escalationOptions(t, clock))
	if err := g.Send(t, "lois@daily-planet.example", []string{"support@support.example.com"}, gatewaytest.JournalistMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	var c struct {
		ID       int64  `db:"id"`
		Category string `db:"category"`
	}
	if err := g.DB.Get(&c, `SELECT id, category FROM cases`); err != nil {
		t.Fatal(err)
	}
	if c.Category != "journalist" {
		t.Errorf("category = %q, want journalist", c.Category)
	}
	// The digest to PR was queued with the filing: no clock movement, no
	// business hours.
	digests := g.Relay.WaitTo(t, "pr@example.com", 2) // the digest, and the acknowledgement's copy
	var digest, ack *gatewaytest.Mail
	for _, m := range digests {
		if to, _ := m.Header.AddressList("To"); to[0].Address == "pr@example.com" {
			digest = &m
		} else {
			ack = &m
		}
	}
	if digest == nil || ack == nil {
		t.Fatal("want one digest to PR and one acknowledgement copied to PR")
	}
	subject, _ := digest.Header.Subject()
	if want := fmt.Sprintf("[#%d] Exploding printers", c.ID); subject != want {
		t.Errorf("digest subject = %q, want %q", subject, want)
	}
	replyTo, _ := digest.Header.AddressList("Reply-To")
	if len(replyTo) != 1 || !strings.HasPrefix(replyTo[0].Address, fmt.Sprintf("support+%d-", c.ID)) {
		t.Errorf("digest Reply-To = %v, want the case's staff reply address", replyTo)
	}
	if v := digest.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("digest Auto-Submitted = %q", v)
	}
	text := digest.Text
	for _, want := range []string{"Lois Lane <lois@daily-planet.example>", "category is journalist", "press_domains: daily-planet.example",
		"running a story tomorrow", "Timeline:", "How to reply", replyTo[0].Address} {
		if !strings.Contains(text, want) {
			t.Errorf("digest lacks %q:\n%s", want, text)
		}
	}
	// The journalist got the press acknowledgement, with PR in copy.
	if to, _ := ack.Header.AddressList("To"); to[0].Address != "lois@daily-planet.example" {
		t.Errorf("acknowledgement To = %v", to)
	}
	if text := ack.Text; !strings.Contains(text, "press office") {
		t.Errorf("journalist acknowledgement is not the press template:\n%s", text)
	}
	if n := g.Count(t, `SELECT count(*) FROM participants WHERE case_id = $1 AND address = 'pr@example.com' AND role = 'pr'`, c.ID); n != 1 {
		t.Errorf("PR is not a participant with role pr")
	}
	if n := g.Count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'classified' AND detail LIKE 'journalist%press_domains%'`, c.ID); n != 1 {
		t.Errorf("no classified event with the evidence")
	}
	// The same mail again, and a sweep: nothing more.
	g.Send(t, "lois@daily-planet.example", []string{"support@support.example.com"}, gatewaytest.JournalistMail)
	if _, err := threads.NewSweeper(g.SecondStore(t), threads.SweeperOptions{}).SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := g.Count(t, `SELECT count(*) FROM escalations`); n != 1 {
		t.Errorf("escalations = %d, want 1", n)
	}
}

// A customer writes on Friday evening; 4 business hours (Mon–Fri 9–17
// Berlin) later is Monday 13:00, not Saturday morning. At 12:59 nothing
// fires; at 13:00 PR gets exactly one digest.
func TestFridayEveningEscalatesMondayAtTheMinute(t *testing.T) {
	clock := gatewaytest.NewClock(gatewaytest.BerlinTime(t, "2026-11-27 19:30"))
	g := gatewaytest.Start(t, escalationOptions(t, clock))
	other := threads.NewSweeper(g.SecondStore(t), threads.SweeperOptions{})
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.FridayMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	id := gatewaytest.OnlyCase(t, g.DB)
	if due, want := dueAt(t, g, id, "first-response"), gatewaytest.BerlinTime(t, "2026-11-30 13:00"); !due.Equal(want) {
		t.Fatalf("first-response due %s, want %s", due, want)
	}
	// The acknowledgement, and the staff notification, which names the deadline.
	notice := headerTo(t, g.Relay.Wait(t, 2), "alice@example.com")
	if len(notice) != 1 {
		t.Fatalf("%d notifications to staff, want 1", len(notice))
	}
	if text := notice[0].Text; !strings.Contains(text, "first-response due Mon, 30 Nov 2026 12:00 UTC") {
		t.Errorf("notification does not name the deadline:\n%s", text)
	}

	for _, at := range []string{"2026-11-28 09:00", "2026-11-29 23:00", "2026-11-30 12:59"} {
		clock.Set(gatewaytest.BerlinTime(t, at))
		// A sweep of our own at this time is synchronous: if anything
		// were due it would fire now.
		if _, err := other.SweepOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := g.Count(t, `SELECT count(*) FROM escalations`); n != 0 {
			t.Fatalf("escalated at %s, before the deadline", at)
		}
	}
	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 13:00"))
	digests := g.Relay.WaitTo(t, "pr@example.com", 1)
	text := digests[0].Text
	if !strings.Contains(text, `"first-response"`) || !strings.Contains(text, "You charged me twice.") {
		t.Errorf("digest:\n%s", text)
	}
	var fired time.Time
	g.DB.Get(&fired, `SELECT fired_at FROM escalations WHERE case_id = $1 AND rule = 'first-response'`, id)
	if want := gatewaytest.BerlinTime(t, "2026-11-30 13:00"); !fired.Equal(want) {
		t.Errorf("fired at %s, want %s", fired, want)
	}
	// More sweeps, by both instances, send nothing more.
	clock.Add(time.Minute)
	if _, err := other.SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(g.Relay.To(t, "pr@example.com")); n != 1 {
		t.Errorf("digests = %d, want 1", n)
	}
	// PR is now on the case: the resolution rule (Wednesday 17:00, three
	// business days after Friday 19:30) is still pending.
	if due, want := dueAt(t, g, id, "resolution"), gatewaytest.BerlinTime(t, "2026-12-02 17:00"); !due.Equal(want) {
		t.Errorf("resolution due %s, want %s", due, want)
	}
}

// Staff act before the deadline (here: open the case): the no-reply
// deadline is met and cleared, and nothing fires on Monday.
func TestStaffActionBeforeDeadlineStopsEscalation(t *testing.T) {
	clock := gatewaytest.NewClock(gatewaytest.BerlinTime(t, "2026-11-27 19:30"))
	g := gatewaytest.Start(t, escalationOptions(t, clock))
	staff := g.SecondStore(t)
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.FridayMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	id := gatewaytest.OnlyCase(t, g.DB)
	dueAt(t, g, id, "first-response")
	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 12:30"))
	if err := staff.ChangeStatus(context.Background(), id, vocab.StatusOpen, "alice@example.com", "looking into it"); err != nil {
		t.Fatal(err)
	}
	if n := g.Count(t, `SELECT count(*) FROM timers WHERE case_id = $1 AND rule = 'first-response'`, id); n != 0 {
		t.Errorf("first-response timer survived the staff action")
	}
	clock.Set(gatewaytest.BerlinTime(t, "2026-12-01 16:00"))
	if _, err := threads.NewSweeper(staff, threads.SweeperOptions{}).SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := g.Count(t, `SELECT count(*) FROM escalations`); n != 0 {
		t.Errorf("escalations = %d after a staff action, want 0", n)
	}
	// The customer writes again on Tuesday 16:00: a new cycle, due
	// Wednesday 12:00 (one hour on Tuesday, three on Wednesday).
	next := strings.Replace(strings.Replace(gatewaytest.FridayMail, "friday-1", "tuesday-2", 1), "You charged me twice.", "Any news?", 1)
	next = strings.Replace(next, "Subject: Invoice wrong", fmt.Sprintf("Subject: Re: Invoice wrong [#%d]", id), 1)
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, next); err != nil {
		t.Fatalf("send: %v", err)
	}
	if due, want := dueAt(t, g, id, "first-response"), gatewaytest.BerlinTime(t, "2026-12-02 12:00"); !due.Equal(want) {
		t.Errorf("first-response after the customer's new mail due %s, want %s", due, want)
	}
	if len(g.Relay.To(t, "pr@example.com")) != 0 {
		t.Error("PR got mail")
	}
}

// Two instances on one database, and a deadline that passes while both
// run: exactly one digest.
func TestTwoInstancesOneDigest(t *testing.T) {
	clock := gatewaytest.NewClock(gatewaytest.BerlinTime(t, "2026-11-27 19:30"))
	a := gatewaytest.Start(t, escalationOptions(t, clock))
	o := escalationOptions(t, clock)
	o.DatabaseURL, o.Relay = a.DatabaseURL, a.Relay // one database, one smarthost
	b := gatewaytest.Start(t, o)
	if err := a.Send(t, "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.FridayMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 13:00"))
	a.Relay.WaitTo(t, "pr@example.com", 1)
	// Let both sweep a while longer (each sweeps every 50 ms) and wait
	// until each has delivered whatever it queued.
	clock.Add(time.Minute)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if n := len(b.Relay.To(t, "pr@example.com")); n != 1 {
			t.Fatalf("digests = %d, want exactly 1", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := a.Count(t, `SELECT count(*) FROM escalations`); n != 1 {
		t.Errorf("escalations = %d, want 1", n)
	}
}

// The deadline passes while no casegate runs: the next start fires it,
// late and once, and a second restart fires nothing more.
func TestRestartAfterMissedDeadline(t *testing.T) {
	clock := gatewaytest.NewClock(gatewaytest.BerlinTime(t, "2026-11-27 19:30"))
	first := gatewaytest.Start(t, escalationOptions(t, clock))
	// Each restart on the same database and smarthost.
	restart := func() *gatewaytest.Gateway {
		o := escalationOptions(t, clock)
		o.DatabaseURL, o.Relay = first.DatabaseURL, first.Relay
		return gatewaytest.Start(t, o)
	}
	if err := first.Send(t, "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.FridayMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	first.Relay.Wait(t, 2) // the acknowledgement and the staff notification
	first.Stop(t)
	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 15:45")) // down over the deadline (Monday 13:00)
	second := restart()
	second.Relay.WaitTo(t, "pr@example.com", 1)
	var detail string
	second.DB.Get(&detail, `SELECT detail FROM events WHERE kind = 'escalated'`)
	if !strings.Contains(detail, "due 2026-11-30 13:00 CET, fired 2h45m0s late") {
		t.Errorf("escalated event = %q, want it to say how late", detail)
	}
	second.Stop(t)
	clock.Add(time.Hour)
	third := restart()
	// A synchronous sweep as well: had anything been left due, it fires now.
	if _, err := threads.NewSweeper(third.SecondStore(t), threads.SweeperOptions{}).SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(third.Relay.To(t, "pr@example.com")); n != 1 {
		t.Errorf("digests = %d after restarts, want 1", n)
	}
	if n := third.Count(t, `SELECT count(*) FROM escalations`); n != 1 {
		t.Errorf("escalations = %d, want 1", n)
	}
}

// Once PR is on a case, it stays on the thread: a staff member answering
// the journalist from the digest's reply address copies PR.
func TestPRIsCopiedOnTheStaffReply(t *testing.T) {
	clock := gatewaytest.NewClock(gatewaytest.BerlinTime(t, "2026-11-30 10:00"))
	g := gatewaytest.Start(t, escalationOptions(t, clock))
	if err := g.Send(t, "lois@daily-planet.example", []string{"support@support.example.com"}, gatewaytest.JournalistMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	var digest *gatewaytest.Mail
	for _, m := range g.Relay.WaitTo(t, "pr@example.com", 2) {
		if to, _ := m.Header.AddressList("To"); to[0].Address == "pr@example.com" {
			digest = &m
		}
	}
	if digest == nil {
		t.Fatal("no digest to PR")
	}
	replyTo, _ := digest.Header.AddressList("Reply-To")
	digestID, _ := digest.Header.MessageID()
	reply := fmt.Sprintf(`From: Alice Example <alice@example.com>
To: %s
Subject: Re: Exploding printers
Message-ID: <alice-statement@example.com>
In-Reply-To: <%s>

Dear Ms Lane, our statement is attached below.
`, replyTo[0].Address, digestID)
	if err := g.Send(t, "alice@example.com", []string{replyTo[0].Address}, reply); err != nil {
		t.Fatalf("staff reply: %v", err)
	}
	relayed := g.Relay.WaitTo(t, "lois@daily-planet.example", 2) // the acknowledgement, the reply
	var found bool
	for _, m := range relayed {
		if m.Header.Get("Auto-Submitted") != "" {
			continue // the acknowledgement
		}
		found = true
		cc, _ := m.Header.AddressList("Cc")
		if len(cc) != 1 || cc[0].Address != "pr@example.com" {
			t.Errorf("relayed reply Cc = %v, want PR", cc)
		}
		if from, _ := m.Header.AddressList("From"); from[0].Address != "support@support.example.com" {
			t.Errorf("relayed reply From = %v", from)
		}
		if text := m.Text; !strings.Contains(text, "our statement") {
			t.Errorf("relayed text = %q", text)
		}
	}
	if !found {
		t.Fatal("the staff reply was not relayed to the journalist")
	}
}
