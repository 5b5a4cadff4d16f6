package main

import (
	"casegate/vocab"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate/internal/pgtest"
	"casegate/templates"
	"casegate/threads"
)

// The default rules of dev/casegate.toml, with a fast sweep for tests.
const escalationConfig = `
[classify]
press_domains = ["daily-planet.example"]

[calendars.office]
timezone = "Europe/Berlin"
hours = { mon = "09:00-17:00", tue = "09:00-17:00", wed = "09:00-17:00", thu = "09:00-17:00", fri = "09:00-17:00" }
holidays = ["2026-12-25"]

[[rule]]
name = "press"
category = "journalist"
when = "opened"
after = "0s"
actions = ["cc_pr"]

[[rule]]
name = "public-risk"
risk = "high"
when = "opened"
after = "0s"
actions = ["cc_pr"]

[[rule]]
name = "first-response"
when = "no_staff_reply"
after = "4h"
calendar = "office"
actions = ["cc_pr"]

[[rule]]
name = "resolution"
when = "unresolved"
after = "24h"
calendar = "office"
actions = ["cc_pr", "priority:high"]

[escalation]
sweep_interval = "50ms"
`

// movableClock is the gateway's clock, moved by the test.
type movableClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *movableClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *movableClock) Set(t time.Time)     { c.mu.Lock(); c.now = t; c.mu.Unlock() }
func (c *movableClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// startEscalationGateway runs casegate serve in-process with the rules
// above on the clock; like startGateway otherwise.
func startEscalationGateway(t *testing.T, dbURL string, clock *movableClock) *gateway {
	t.Helper()
	// Staff replies from loopback count as proven (trusted_networks), so a
	// test can answer as staff through the listener.
	conf := strings.Replace(fmt.Sprintf(testConfig, dbURL), "[staff]\n", "[staff]\ntrusted_networks = [\"127.0.0.0/8\"]\n", 1)
	g, _ := runGateway(t, "", dbURL, conf+escalationConfig, clock.Now)
	return g
}

// mailsTo returns the mails in maildirs (each a gateway's) delivered to
// addr (the Maildir sink writes one file per recipient), without waiting.
func mailsTo(t *testing.T, addr string, maildirs ...string) []*mail.Reader {
	t.Helper()
	var out []*mail.Reader
	for _, dir := range maildirs {
		files, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r, err := mail.CreateReader(strings.NewReader(string(b)))
			if err != nil {
				t.Fatalf("outbound mail does not parse: %v", err)
			}
			if strings.EqualFold(r.Header.Get("Delivered-To"), addr) {
				out = append(out, r)
			}
		}
	}
	return out
}

// waitMailsTo waits (bounded) until exactly n mails to addr are in the
// maildirs.
func waitMailsTo(t *testing.T, addr string, n int, maildirs ...string) []*mail.Reader {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := mailsTo(t, addr, maildirs...)
		if len(got) == n {
			return got
		}
		if len(got) > n || time.Now().After(deadline) {
			t.Fatalf("%d mails to %s, want %d", len(got), addr, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func berlinTime(t *testing.T, s string) time.Time {
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

// staffStore is a second threads.Store on the gateway's database, as an
// admin command or another instance would have: tests drive staff actions
// and extra sweeps through it.
func staffStore(t *testing.T, dbURL string, clock *movableClock) *threads.Store {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "casegate.toml")
	os.WriteFile(path, []byte(fmt.Sprintf(testConfig, dbURL)+escalationConfig), 0o600)
	c, err := loadConfig(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	db := sqlx.MustOpen("postgres", dbURL)
	t.Cleanup(func() { db.Close() })
	s, err := threads.NewStore(threads.Options{
		DB: db, Templates: tpl, Support: mail.Address{Name: "Example Support", Address: "support@support.example.com"},
		Secret: []byte(c.Staff.Secret), Rules: c.rules, PR: c.prAddress(), Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

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

func TestJournalistReachesPRAtOnce(t *testing.T) {
	clock := &movableClock{now: berlinTime(t, "2026-11-28 22:10")} // a Saturday night
	url := pgtest.URL(t)
	g := startEscalationGateway(t, url, clock)
	if err := send(t, g.addr, "lois@daily-planet.example", []string{"support@support.example.com"}, journalistMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	var c struct {
		ID       int64  `db:"id"`
		Category string `db:"category"`
	}
	if err := g.db.Get(&c, `SELECT id, category FROM cases`); err != nil {
		t.Fatal(err)
	}
	if c.Category != "journalist" {
		t.Errorf("category = %q, want journalist", c.Category)
	}
	// The digest to PR was queued with the filing: no clock movement, no
	// business hours.
	digests := waitMailsTo(t, "pr@example.com", 2, g.maildir) // the digest, and the acknowledgement's copy
	var digest, ack *mail.Reader
	for _, m := range digests {
		if to, _ := m.Header.AddressList("To"); to[0].Address == "pr@example.com" {
			digest = m
		} else {
			ack = m
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
	text := bodyText(t, digest)
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
	if text := bodyText(t, ack); !strings.Contains(text, "press office") {
		t.Errorf("journalist acknowledgement is not the press template:\n%s", text)
	}
	if n := count(t, g.db, `SELECT count(*) FROM participants WHERE case_id = $1 AND address = 'pr@example.com' AND role = 'pr'`, c.ID); n != 1 {
		t.Errorf("PR is not a participant with role pr")
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'classified' AND detail LIKE 'journalist%press_domains%'`, c.ID); n != 1 {
		t.Errorf("no classified event with the evidence")
	}
	// The same mail again, and a sweep: nothing more.
	send(t, g.addr, "lois@daily-planet.example", []string{"support@support.example.com"}, journalistMail)
	if _, err := threads.NewSweeper(staffStore(t, url, clock), threads.SweeperOptions{}).SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM escalations`); n != 1 {
		t.Errorf("escalations = %d, want 1", n)
	}
}

const fridayMail = `From: Ada Lovelace <ada@customer.example>
To: support@support.example.com
Subject: Invoice wrong
Message-ID: <friday-1@customer.example>
Content-Type: text/plain; charset=utf-8

You charged me twice.
`

// caseOf returns the one case's number.
func caseOf(t *testing.T, db *sqlx.DB) int64 {
	t.Helper()
	var id int64
	if err := db.Get(&id, `SELECT id FROM cases`); err != nil {
		t.Fatal(err)
	}
	return id
}

func dueAt(t *testing.T, db *sqlx.DB, caseID int64, rule string) time.Time {
	t.Helper()
	var due time.Time
	if err := db.Get(&due, `SELECT due_at FROM timers WHERE case_id = $1 AND rule = $2`, caseID, rule); err != nil {
		t.Fatalf("timer %s: %v", rule, err)
	}
	return due
}

// A customer writes on Friday evening; 4 business hours (Mon–Fri 9–17
// Berlin) later is Monday 13:00, not Saturday morning. At 12:59 nothing
// fires; at 13:00 PR gets exactly one digest.
func TestFridayEveningEscalatesMondayAtTheMinute(t *testing.T) {
	clock := &movableClock{now: berlinTime(t, "2026-11-27 19:30")}
	url := pgtest.URL(t)
	g := startEscalationGateway(t, url, clock)
	other := threads.NewSweeper(staffStore(t, url, clock), threads.SweeperOptions{})
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, fridayMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	id := caseOf(t, g.db)
	if due, want := dueAt(t, g.db, id, "first-response"), berlinTime(t, "2026-11-30 13:00"); !due.Equal(want) {
		t.Fatalf("first-response due %s, want %s", due, want)
	}
	// The acknowledgement, and the staff notification, which names the deadline.
	notice := mailTo(t, waitMaildir(t, g.maildir, 2), "alice@example.com")
	if len(notice) != 1 {
		t.Fatalf("%d notifications to staff, want 1", len(notice))
	}
	if text := bodyText(t, notice[0]); !strings.Contains(text, "first-response due Mon, 30 Nov 2026 12:00 UTC") {
		t.Errorf("notification does not name the deadline:\n%s", text)
	}

	for _, at := range []string{"2026-11-28 09:00", "2026-11-29 23:00", "2026-11-30 12:59"} {
		clock.Set(berlinTime(t, at))
		// A sweep of our own at this time is synchronous: if anything
		// were due it would fire now.
		if _, err := other.SweepOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := count(t, g.db, `SELECT count(*) FROM escalations`); n != 0 {
			t.Fatalf("escalated at %s, before the deadline", at)
		}
	}
	clock.Set(berlinTime(t, "2026-11-30 13:00"))
	digests := waitMailsTo(t, "pr@example.com", 1, g.maildir)
	text := bodyText(t, digests[0])
	if !strings.Contains(text, `"first-response"`) || !strings.Contains(text, "You charged me twice.") {
		t.Errorf("digest:\n%s", text)
	}
	var fired time.Time
	g.db.Get(&fired, `SELECT fired_at FROM escalations WHERE case_id = $1 AND rule = 'first-response'`, id)
	if want := berlinTime(t, "2026-11-30 13:00"); !fired.Equal(want) {
		t.Errorf("fired at %s, want %s", fired, want)
	}
	// More sweeps, by both instances, send nothing more.
	clock.Add(time.Minute)
	if _, err := other.SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(mailsTo(t, "pr@example.com", g.maildir)); n != 1 {
		t.Errorf("digests = %d, want 1", n)
	}
	// PR is now on the case: the resolution rule (Wednesday 17:00, three
	// business days after Friday 19:30) is still pending.
	if due, want := dueAt(t, g.db, id, "resolution"), berlinTime(t, "2026-12-02 17:00"); !due.Equal(want) {
		t.Errorf("resolution due %s, want %s", due, want)
	}
}

// Staff act before the deadline (here: open the case): the no-reply
// deadline is met and cleared, and nothing fires on Monday.
func TestStaffActionBeforeDeadlineStopsEscalation(t *testing.T) {
	clock := &movableClock{now: berlinTime(t, "2026-11-27 19:30")}
	url := pgtest.URL(t)
	g := startEscalationGateway(t, url, clock)
	staff := staffStore(t, url, clock)
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, fridayMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	id := caseOf(t, g.db)
	dueAt(t, g.db, id, "first-response")
	clock.Set(berlinTime(t, "2026-11-30 12:30"))
	if err := staff.ChangeStatus(context.Background(), id, vocab.StatusOpen, "alice@example.com", "looking into it"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM timers WHERE case_id = $1 AND rule = 'first-response'`, id); n != 0 {
		t.Errorf("first-response timer survived the staff action")
	}
	clock.Set(berlinTime(t, "2026-12-01 16:00"))
	if _, err := threads.NewSweeper(staff, threads.SweeperOptions{}).SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM escalations`); n != 0 {
		t.Errorf("escalations = %d after a staff action, want 0", n)
	}
	// The customer writes again on Tuesday 16:00: a new cycle, due
	// Wednesday 12:00 (one hour on Tuesday, three on Wednesday).
	next := strings.Replace(strings.Replace(fridayMail, "friday-1", "tuesday-2", 1), "You charged me twice.", "Any news?", 1)
	next = strings.Replace(next, "Subject: Invoice wrong", fmt.Sprintf("Subject: Re: Invoice wrong [#%d]", id), 1)
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, next); err != nil {
		t.Fatalf("send: %v", err)
	}
	if due, want := dueAt(t, g.db, id, "first-response"), berlinTime(t, "2026-12-02 12:00"); !due.Equal(want) {
		t.Errorf("first-response after the customer's new mail due %s, want %s", due, want)
	}
	if len(mailsTo(t, "pr@example.com", g.maildir)) != 0 {
		t.Error("PR got mail")
	}
}

// Two instances on one database, and a deadline that passes while both
// run: exactly one digest.
func TestTwoInstancesOneDigest(t *testing.T) {
	clock := &movableClock{now: berlinTime(t, "2026-11-27 19:30")}
	url := pgtest.URL(t)
	a := startEscalationGateway(t, url, clock)
	b := startEscalationGateway(t, url, clock)
	if err := send(t, a.addr, "ada@customer.example", []string{"support@support.example.com"}, fridayMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	clock.Set(berlinTime(t, "2026-11-30 13:00"))
	waitMailsTo(t, "pr@example.com", 1, a.maildir, b.maildir)
	// Let both sweep a while longer (each sweeps every 50 ms) and wait
	// until each has delivered whatever it queued.
	clock.Add(time.Minute)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if n := len(mailsTo(t, "pr@example.com", a.maildir, b.maildir)); n != 1 {
			t.Fatalf("digests = %d, want exactly 1", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := count(t, a.db, `SELECT count(*) FROM escalations`); n != 1 {
		t.Errorf("escalations = %d, want 1", n)
	}
}

// The deadline passes while no casegate runs: the next start fires it,
// late and once, and a second restart fires nothing more.
func TestRestartAfterMissedDeadline(t *testing.T) {
	clock := &movableClock{now: berlinTime(t, "2026-11-27 19:30")}
	url := pgtest.URL(t)
	first := startEscalationGateway(t, url, clock)
	if err := send(t, first.addr, "ada@customer.example", []string{"support@support.example.com"}, fridayMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	waitMaildir(t, first.maildir, 2) // the acknowledgement and the staff notification
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	clock.Set(berlinTime(t, "2026-11-30 15:45")) // down over the deadline (Monday 13:00)
	second := startEscalationGateway(t, url, clock)
	waitMailsTo(t, "pr@example.com", 1, second.maildir)
	var detail string
	second.db.Get(&detail, `SELECT detail FROM events WHERE kind = 'escalated'`)
	if !strings.Contains(detail, "due 2026-11-30 13:00 CET, fired 2h45m0s late") {
		t.Errorf("escalated event = %q, want it to say how late", detail)
	}
	if err := second.stop(); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Hour)
	third := startEscalationGateway(t, url, clock)
	// A synchronous sweep as well: had anything been left due, it fires now.
	if _, err := threads.NewSweeper(staffStore(t, url, clock), threads.SweeperOptions{}).SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(mailsTo(t, "pr@example.com", first.maildir, second.maildir, third.maildir)); n != 1 {
		t.Errorf("digests = %d after restarts, want 1", n)
	}
	if n := count(t, third.db, `SELECT count(*) FROM escalations`); n != 1 {
		t.Errorf("escalations = %d, want 1", n)
	}
}

// rules check -case N reads a real case and prints its deadlines.
func TestRulesCheckCase(t *testing.T) {
	clock := &movableClock{now: berlinTime(t, "2026-11-27 19:30")}
	url := pgtest.URL(t)
	g := startEscalationGateway(t, url, clock)
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, fridayMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	id := caseOf(t, g.db)
	path := filepath.Join(t.TempDir(), "casegate.toml")
	os.WriteFile(path, []byte(fmt.Sprintf(testConfig, url)+escalationConfig), 0o600)
	var out strings.Builder
	err := run(context.Background(), []string{"rules", "check", "-config", path, "-case", fmt.Sprint(id), "-at", "2026-11-30T12:00:00+01:00"},
		func(string) string { return "" }, &out, &out)
	if err != nil {
		t.Fatalf("rules check -case: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		fmt.Sprintf("case #%d: new, customer, priority normal, risk none", id),
		"1 unanswered customer mail(s)",
		"first-response  fires Mon 2026-11-30 13:00 CET (in 1h0m0s)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// Once PR is on a case, it stays on the thread: a staff member answering
// the journalist from the digest's reply address copies PR.
func TestPRIsCopiedOnTheStaffReply(t *testing.T) {
	clock := &movableClock{now: berlinTime(t, "2026-11-30 10:00")}
	g := startEscalationGateway(t, pgtest.URL(t), clock)
	if err := send(t, g.addr, "lois@daily-planet.example", []string{"support@support.example.com"}, journalistMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	var digest *mail.Reader
	for _, m := range waitMailsTo(t, "pr@example.com", 2, g.maildir) {
		if to, _ := m.Header.AddressList("To"); to[0].Address == "pr@example.com" {
			digest = m
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
	if err := send(t, g.addr, "alice@example.com", []string{replyTo[0].Address}, reply); err != nil {
		t.Fatalf("staff reply: %v", err)
	}
	relayed := waitMailsTo(t, "lois@daily-planet.example", 2, g.maildir) // the acknowledgement, the reply
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
		if text := bodyText(t, m); !strings.Contains(text, "our statement") {
			t.Errorf("relayed text = %q", text)
		}
	}
	if !found {
		t.Fatal("the staff reply was not relayed to the journalist")
	}
}
