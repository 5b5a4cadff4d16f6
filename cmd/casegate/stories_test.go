package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"casegate/internal/gatewaytest"
	"casegate/internal/pgtest"
)

// Issue 16, the customer's side, played as stories: a customer and staff
// write through the real SMTP listener (staff also with the real mutt)
// into a real PostgreSQL, on a clock the test moves, with the escalation
// rules casegate ships (dev/casegate.toml), and every mail each party
// gets is read back from the outbox: how many, the subject, the language,
// the lines that matter, and how it threads.

// shippedRules is the escalation part of dev/casegate.toml — [classify],
// the office calendar and the default [[rule]]s — with a sweep fast
// enough for a test.
func shippedRules(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../dev/casegate.toml")
	if err != nil {
		t.Fatal(err)
	}
	_, rules, ok := strings.Cut(string(b), "\n[classify]\n")
	if !ok || !strings.Contains(rules, `sweep_interval = "30s"`) {
		t.Fatal("dev/casegate.toml no longer has its [classify] table and sweep_interval where this test expects them")
	}
	return "\n[classify]\n" + strings.Replace(rules, `sweep_interval = "30s"`, `sweep_interval = "50ms"`, 1)
}

// storyConfig is staffTestConfig (Alice and Bob on staff, the PR Desk),
// with mail from loopback proving a staff sender, the shipped rules, and
// extra TOML.
func storyConfig(t *testing.T, dbURL, staffKeys, extra string) string {
	return fmt.Sprintf(staffTestConfig, dbURL, `trusted_networks = ["127.0.0.0/8", "::1"]`+"\n"+staffKeys) + shippedRules(t) + extra
}

// startStory runs the gateway of a story on clock.
func startStory(t *testing.T, clock *movableClock, staffKeys, extra string) (*gateway, *gatewaytest.Outbox) {
	g, box, _ := startStoryCLI(t, clock, staffKeys, extra)
	return g, box
}

// startStoryCLI is startStory, also returning the gateway's configuration
// as the admin commands use it (on the real clock).
func startStoryCLI(t *testing.T, clock *movableClock, staffKeys, extra string) (*gateway, *gatewaytest.Outbox, *serviceGateway) {
	t.Helper()
	dbURL := pgtest.URL(t)
	g, c := runGateway(t, "", dbURL, storyConfig(t, dbURL, staffKeys, extra), clock.Now)
	return g, gatewaytest.NewOutbox(g.db), &serviceGateway{config: c.path, db: g.db}
}

// sendWithMutt sends draft (headers, blank line, body) as the real mutt
// does from a staff member's desk: From is from, submitted over SMTP to
// smtpAddr.
func sendWithMutt(t *testing.T, smtpAddr, from, draft string) {
	t.Helper()
	mutt, err := exec.LookPath("mutt")
	if err != nil {
		t.Fatalf("mutt is not installed; make test installs it (scripts/install-deps.sh mutt): %v", err)
	}
	dir := t.TempDir()
	rc, path := filepath.Join(dir, "muttrc"), filepath.Join(dir, "draft")
	conf := fmt.Sprintf("set smtp_url=\"smtp://%s/\"\nset ssl_starttls=no\nset ssl_force_tls=no\nset from=%q\nset use_from=yes\nset use_envelope_from=yes\nset hostname=example.com\nset record=\"\"\nset charset=utf-8\nset send_charset=\"us-ascii:utf-8\"\n", smtpAddr, from)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(draft), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mutt, "-n", "-F", rc, "-H", path)
	cmd.Env = append(os.Environ(), "HOME="+dir, "TMPDIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mutt: %v\n%s", err, out)
	}
}

// threadLog keeps what each party has (the Message-IDs of the mail they
// wrote and got) and checks that every mail to them threads under those
// only (issue 16 items 14 and 15).
type threadLog struct {
	has map[string][]string // party → Message-IDs, oldest first
}

func newThreadLog() *threadLog { return &threadLog{has: map[string][]string{}} }

// wrote records that party has the mail with Message-ID id.
func (l *threadLog) wrote(party, id string) {
	l.has[party] = append(l.has[party], strings.Trim(id, "<>"))
}

// got checks that m, just received by party, replies to and references
// only mail party has, then records it.
func (l *threadLog) got(t *testing.T, party string, m gatewaytest.Mail) {
	t.Helper()
	inReplyTo, _ := m.Header.MsgIDList("In-Reply-To")
	refs, _ := m.Header.MsgIDList("References")
	if len(inReplyTo) != 1 {
		t.Errorf("%s got %q with In-Reply-To %v: want the one message it answers", party, m.Subject, inReplyTo)
	}
	for _, id := range append(inReplyTo, refs...) {
		if !slices.Contains(l.has[party], id) {
			t.Errorf("%s got %q threaded under <%s>, a message %s never had (has %v)", party, m.Subject, id, party, l.has[party])
		}
	}
	if len(refs) > 0 && len(l.has[party]) > 0 && refs[0] != l.has[party][0] {
		t.Errorf("%s got %q whose References start at <%s>, not at the thread's root <%s>", party, m.Subject, refs[0], l.has[party][0])
	}
	id, _ := m.Header.MessageID()
	l.wrote(party, id)
}

// customerSays is a mail from Ada, sent to the address to, answering the
// mail with Message-ID parent (none when "").
func customerSays(to, id, parent, subject, text string) string {
	head := fmt.Sprintf("From: Ada Lovelace <ada@customer.example>\nTo: %s\nSubject: %s\nMessage-ID: <%s>\nDate: Mon, 30 Nov 2026 10:00:00 +0100\nContent-Type: text/plain; charset=utf-8\n", to, subject, id)
	if parent != "" {
		head += fmt.Sprintf("In-Reply-To: <%s>\nReferences: <%s>\n", parent, parent)
	}
	return head + "\n" + text + "\n"
}

const ada = "ada@customer.example"
const staffList = "alice@example.com,bob@example.com"

// The angry-customer story of issue 16: a customer writes; nobody answers
// within the first-response deadline, so she gets a personal holding reply
// and PR its digest; she writes again saying she will go to the press, so
// the risk is high, the priority raised, and staff see the risk, the words
// and that PR was alerted; Alice answers from mutt and resolves; three
// days later the follow-up asks; she rates 2, it still does not work: the
// case reopens, she is thanked, staff and PR are told.
func TestAngryCustomerStory(t *testing.T) {
	clock := &movableClock{now: gatewaytest.BerlinTime(t, "2026-11-30 10:00")} // a Monday
	g, box := startStory(t, clock, "", "")
	seen := newThreadLog()

	// Monday 10:00. She writes.
	const first = "ada-1@customer.example"
	if err := send(t, g.addr, ada, []string{"support@support.example.com"}, customerSays("support@support.example.com", first, "", "Printer on fire",
		"My printer has been smoking since this morning. What do I do?")); err != nil {
		t.Fatal(err)
	}
	seen.wrote("ada", first)
	var caseID int64
	if err := g.db.Get(&caseID, `SELECT id FROM cases`); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("[#%d]", caseID)
	opened := box.Wait(t, 2)
	ack, notification := gatewaytest.To(t, opened, ada), gatewaytest.To(t, opened, staffList)
	if want := "Re: Printer on fire " + tag; ack.Subject != want {
		t.Errorf("acknowledgement subject %q, want %q", ack.Subject, want)
	}
	gatewaytest.Has(t, "acknowledgement", ack.Text, "Hello Ada Lovelace,", fmt.Sprintf("case #%d", caseID))
	seen.got(t, "ada", ack)
	customerToken := gatewaytest.CustomerReplyAddress.FindString(ack.Header.Get("Reply-To"))
	staffSubject := tag + " Printer on fire"
	if notification.Subject != staffSubject {
		t.Errorf("staff notification subject %q, want %q", notification.Subject, staffSubject)
	}
	gatewaytest.Has(t, "staff notification", notification.Text, fmt.Sprintf("New case #%d", caseID), "My printer has been smoking")
	gatewaytest.HasNot(t, "staff notification", notification.Text, "Risk:", "PR:") // no risk yet, PR not alerted
	staffRoot := notification.MessageID(t)
	seen.wrote("staff", staffRoot)
	staffToken := gatewaytest.CustomerReplyAddress.FindString(notification.Header.Get("Reply-To"))

	// Monday 14:01, four business hours on, nobody has answered: PR gets
	// the digest, she a holding reply with PR in copy — once.
	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 14:01"))
	late := box.Wait(t, 2)
	digest, holding := gatewaytest.To(t, late, "pr@example.com"), gatewaytest.To(t, late, ada+",pr@example.com")
	if digest.Subject != staffSubject {
		t.Errorf("digest subject %q, want %q", digest.Subject, staffSubject)
	}
	gatewaytest.Has(t, "first-response digest", digest.Text, `rule "first-response"`, "Ada Lovelace", "My printer has been smoking")
	seen.got(t, "staff", digest)
	if holding.Subject != "Re: Printer on fire "+tag {
		t.Errorf("holding reply subject %q", holding.Subject)
	}
	gatewaytest.Has(t, "holding reply", holding.Text, "Hello Ada Lovelace,", fmt.Sprintf("case #%d", caseID), "is taking longer than it should",
		"senior member of our team", "by 10:01 CET tomorrow")
	gatewaytest.NoInternals(t, "holding reply", holding.Text)
	seen.got(t, "ada", holding)
	clock.Add(5 * time.Minute)
	box.Wait(t, 0) // at most one holding reply per deadline

	// Monday 14:30. She writes again: she will go to the press.
	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 14:30"))
	const threat = "ada-2@customer.example"
	if err := send(t, g.addr, ada, []string{customerToken}, customerSays(customerToken, threat, holding.MessageID(t), "Re: Printer on fire "+tag,
		"Nobody has called me back. If I do not hear from you today I will go to the press.")); err != nil {
		t.Fatal(err)
	}
	seen.wrote("ada", threat)
	var risk, priority string
	if err := g.db.QueryRow(`SELECT risk, priority FROM cases WHERE id = $1`, caseID).Scan(&risk, &priority); err != nil || risk != "high" || priority != "high" {
		t.Errorf("after the threat: risk %q, priority %q (%v); want high, high", risk, priority, err)
	}
	threatened := box.Wait(t, 2)
	toStaff, toPR := gatewaytest.To(t, threatened, staffList), gatewaytest.To(t, threatened, "pr@example.com")
	if toStaff.Subject != staffSubject {
		t.Errorf("staff notification subject %q, want %q", toStaff.Subject, staffSubject)
	}
	gatewaytest.Has(t, "staff notification of the threat", toStaff.Text, fmt.Sprintf("The customer wrote on case #%d", caseID), "Priority: high",
		"Risk:     high", `"go to the press" (3)`, "PR:       alerted", "I will go to the press")
	seen.got(t, "staff", toStaff)
	gatewaytest.Has(t, "public-risk digest", toPR.Text, `rule "public-risk"`, "high", `"go to the press"`)
	seen.got(t, "staff", toPR)
	// She was told at 14:01 when she will hear back; that has not passed,
	// so she is not told again.
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'holding-reply'`, caseID); n != 1 {
		t.Errorf("%d holding replies, want 1", n)
	}

	// Monday 15:00. Alice answers from mutt and resolves: one mail.
	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 15:00"))
	sendWithMutt(t, g.addr, "Alice Example <alice@example.com>", fmt.Sprintf(`To: Example Support <%s>
Subject: Re: %s
In-Reply-To: <%s>
References: <%s> <%s>

#resolve

Dear Ada,

I am sorry you waited. Please unplug the printer; we have sent you a
replacement, which arrives tomorrow morning.

Kind regards,
Alice Example
Example Corp support | +49 30 1234567

On Mon, Nov 30, 2026 at 02:30:00PM +0100, Example Support wrote:
> Nobody has called me back.
`, staffToken, staffSubject, toStaff.MessageID(t), staffRoot, toStaff.MessageID(t)))
	answer := box.Wait(t, 1)
	relayed := gatewaytest.To(t, answer, ada+",pr@example.com")
	if relayed.Subject != "Re: Printer on fire "+tag {
		t.Errorf("relayed subject %q", relayed.Subject)
	}
	if want := gatewaytest.ResolvedText(caseID, "Dear Ada,\n\nI am sorry you waited. Please unplug the printer; we have sent you a\nreplacement, which arrives tomorrow morning."); relayed.Text != want {
		t.Errorf("relayed text:\n%q\nwant\n%q", relayed.Text, want)
	}
	gatewaytest.HasNot(t, "relayed reply", relayed.Raw, "alice@", "1234567", "Alice")
	seen.got(t, "ada", relayed)
	if c := gatewaytest.GetCase(t, g.db, caseID); c.Status != "resolved" {
		t.Errorf("after #resolve: %+v", c)
	}

	// Thursday 15:00, three days later: the follow-up asks, in her zone,
	// with the true interval.
	clock.Set(gatewaytest.BerlinTime(t, "2026-12-03 15:00"))
	followup := gatewaytest.To(t, box.Wait(t, 1), ada+",pr@example.com")
	gatewaytest.Has(t, "follow-up", followup.Text, "On Monday 30 November (3 days ago) we resolved", "a number from 1 (not at all) to 5 (completely)")
	gatewaytest.NoInternals(t, "follow-up", followup.Text)
	seen.got(t, "ada", followup)

	// She rates 2: it still does not work.
	const rating = "ada-3@customer.example"
	if err := send(t, g.addr, ada, []string{customerToken}, customerSays(customerToken, rating, followup.MessageID(t), "Re: Printer on fire "+tag,
		"2 it still doesn't work, the new one smokes too")); err != nil {
		t.Fatal(err)
	}
	seen.wrote("ada", rating)
	rated := box.Wait(t, 4)
	thanks := gatewaytest.To(t, rated, ada+",pr@example.com")
	gatewaytest.Has(t, "rating thanks", thanks.Text, "(2 of 5)", "open again")
	seen.got(t, "ada", thanks)
	staffTold := gatewaytest.To(t, rated, staffList)
	gatewaytest.Has(t, "staff notification of the rating", staffTold.Text, fmt.Sprintf("The customer wrote on case #%d", caseID), "Status: open",
		"2 it still doesn't work", "Risk:     high", `"go to the press" (3)`, "PR:       alerted") // the risk stays visible
	seen.got(t, "staff", staffTold)
	var prTold []gatewaytest.Mail
	for _, m := range rated {
		if strings.Join(m.Rcpts, ",") == "pr@example.com" {
			prTold = append(prTold, m)
		}
	}
	if len(prTold) != 2 {
		t.Fatalf("PR got %d mails on the reopening, want the notification and the resolution digest", len(prTold))
	}
	for _, m := range prTold {
		seen.got(t, "staff", m)
	}
	if c := gatewaytest.GetCase(t, g.db, caseID); c.Status != "open" {
		t.Errorf("after the rating 2: %+v", c)
	}
	if n := count(t, g.db, `SELECT count(*) FROM ratings WHERE case_id = $1 AND score = 2`, caseID); n != 1 {
		t.Errorf("%d ratings of 2 stored, want 1", n)
	}
}

// storyCase is a case a story opened: its number, tag, the customer's and
// staff's reply addresses and the first mails.
type storyCase struct {
	id                         int64
	tag                        string
	customerToken, staffToken  string
	ack, notification          gatewaytest.Mail
	customerFirst, staffRoot   string // Message-IDs
	customerSubject, staffSubj string
}

// openStoryCase has Ada write to support (Message-ID id) and returns the
// case with its acknowledgement and staff notification.
func openStoryCase(t *testing.T, g *gateway, box *gatewaytest.Outbox, id, subject, text string) storyCase {
	t.Helper()
	if err := send(t, g.addr, ada, []string{"support@support.example.com"}, customerSays("support@support.example.com", id, "", subject, text)); err != nil {
		t.Fatal(err)
	}
	var c storyCase
	if err := g.db.Get(&c.id, `SELECT case_id FROM messages WHERE message_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	c.tag = fmt.Sprintf("[#%d]", c.id)
	opened := box.Wait(t, 2)
	c.ack, c.notification = gatewaytest.To(t, opened, ada), gatewaytest.To(t, opened, staffList)
	c.customerToken = gatewaytest.CustomerReplyAddress.FindString(c.ack.Header.Get("Reply-To"))
	c.staffToken = gatewaytest.CustomerReplyAddress.FindString(c.notification.Header.Get("Reply-To"))
	c.customerFirst, c.staffRoot = id, c.notification.MessageID(t)
	c.customerSubject, c.staffSubj = "Re: "+subject+" "+c.tag, c.tag+" "+subject
	return c
}

// staffAnswers has Alice reply to the case's staff address over SMTP
// (loopback proves her), answering the mail with Message-ID parent.
func staffAnswers(t *testing.T, g *gateway, c storyCase, parent, id, body string) {
	t.Helper()
	if err := send(t, g.addr, "alice@example.com", []string{c.staffToken}, gatewaytest.StaffReply("Alice Example <alice@example.com>", c.staffToken, parent, c.id, id, body)); err != nil {
		t.Fatal(err)
	}
}

// timers lists the pending deadlines of case id by rule.
func timers(t *testing.T, g *gateway, id int64) []string {
	t.Helper()
	var out []string
	if err := g.db.Select(&out, `SELECT rule FROM timers WHERE case_id = $1 ORDER BY rule`, id); err != nil {
		t.Fatal(err)
	}
	return out
}

// eventKinds lists the kinds of case id's events, oldest first.
func eventKinds(t *testing.T, g *gateway, id int64) []string {
	t.Helper()
	var out []string
	if err := g.db.Select(&out, `SELECT kind FROM events WHERE case_id = $1 ORDER BY id`, id); err != nil {
		t.Fatal(err)
	}
	return out
}

// deliveredFile waits for the Maildir sink to write delivery d and returns
// the file as delivered.
func deliveredFile(t *testing.T, g *gateway, outboxMessageID, rcpt string) string {
	t.Helper()
	var d int64
	if err := g.db.Get(&d, `SELECT d.id FROM deliveries d JOIN outbox o ON o.id = d.outbox_id WHERE o.message_id = $1 AND d.recipient = $2`, strings.Trim(outboxMessageID, "<>"), rcpt); err != nil {
		t.Fatalf("delivery of <%s> to %s: %v", outboxMessageID, rcpt, err)
	}
	path := filepath.Join(g.maildir, "new", fmt.Sprintf("d%d.casegate", d))
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %d was not written to the Maildir: %v", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Issue 16 item 3: after staff answered, only the customer's new words
// start the first-response clock again — not a status question answered
// automatically, her out-of-office, a bare thank-you or a bounce; a new
// question does, and four business hours later PR hears of it.
func TestOnlyNewWordsRestartTheClock(t *testing.T) {
	clock := &movableClock{now: gatewaytest.BerlinTime(t, "2026-11-30 10:00")}
	dbURL := pgtest.URL(t)
	// [escalation] thanks_words adds a thank-you of this desk's own.
	conf := strings.Replace(storyConfig(t, dbURL, "", ""), "\n[escalation]\n", "\n[escalation]\nthanks_words = [\"thanks\", \"cheers mate\"]\n", 1)
	g, _ := runGateway(t, "", dbURL, conf, clock.Now)
	box := gatewaytest.NewOutbox(g.db)
	c := openStoryCase(t, g, box, "clock-1@customer.example", "Printer on fire", "My printer is smoking.")

	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 10:30"))
	staffAnswers(t, g, c, c.staffRoot, "CLOCK1", "Hello Ada,\n\nplease unplug it; a technician calls you today.")
	relayed := gatewaytest.To(t, box.Wait(t, 1), ada)
	if got := timers(t, g, c.id); slices.Contains(got, "first-response") {
		t.Fatalf("after the staff reply the first-response deadline still runs: %v", got)
	}

	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 11:00"))
	if err := send(t, g.addr, ada, []string{c.customerToken}, customerSays(c.customerToken, "clock-2@customer.example", relayed.MessageID(t), c.customerSubject, "status")); err != nil {
		t.Fatal(err)
	}
	status := gatewaytest.To(t, box.Wait(t, 1), ada)
	gatewaytest.Has(t, "status reply", status.Text, "Last from us: we answered you today at 10:30 CET")

	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 11:05"))
	ooo := customerSays(c.customerToken, "clock-3@customer.example", status.MessageID(t), "Automatic reply: "+c.customerSubject,
		"I am out of the office until Wednesday.")
	if err := send(t, g.addr, ada, []string{c.customerToken}, "Auto-Submitted: auto-replied\n"+ooo); err != nil {
		t.Fatal(err)
	}
	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 11:10"))
	for i, thanks := range []string{"Thanks!\n\nAda", "Cheers mate!"} {
		if err := send(t, g.addr, ada, []string{c.customerToken}, customerSays(c.customerToken, fmt.Sprintf("clock-4-%d@customer.example", i), relayed.MessageID(t), c.customerSubject, thanks)); err != nil {
			t.Fatal(err)
		}
	}
	box.Wait(t, 0)

	// The relayed reply bounces (her mailbox is full for good).
	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 11:15"))
	verp := field(t, returnPathField, deliveredFile(t, g, relayed.MessageID(t), ada))
	if err := send(t, g.addr, "", []string{verp}, gatewaytest.DSN(verp, "clock-dsn@mx.customer.example")); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Has(t, "bounce notice", gatewaytest.To(t, box.Wait(t, 1), staffList).Text, "bounce")
	for _, kind := range []string{"status-sent", "automatic", "thanks", "bounced"} {
		if !slices.Contains(eventKinds(t, g, c.id), kind) {
			t.Errorf("no %q event on the case: %v", kind, eventKinds(t, g, c.id))
		}
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'thanks'`, c.id); n != 2 {
		t.Errorf("%d thank-yous recognised, want 2", n)
	}
	if got := timers(t, g, c.id); slices.Contains(got, "first-response") {
		t.Errorf("a status question, an out-of-office, a thank-you or a bounce restarted the first-response deadline: %v", got)
	}
	// A business day later: nothing escalated, nobody was told.
	clock.Set(gatewaytest.BerlinTime(t, "2026-12-01 17:00"))
	box.Wait(t, 0)
	if n := count(t, g.db, `SELECT count(*) FROM escalations WHERE case_id = $1`, c.id); n != 0 {
		t.Errorf("%d escalations after only status, automatic mail, thanks and a bounce", n)
	}

	// Wednesday 09:00 she asks something new: that needs an answer.
	clock.Set(gatewaytest.BerlinTime(t, "2026-12-02 09:00"))
	if err := send(t, g.addr, ada, []string{c.customerToken}, customerSays(c.customerToken, "clock-5@customer.example", relayed.MessageID(t), c.customerSubject,
		"The technician did not call. Which model should I order now?")); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Has(t, "staff notification", gatewaytest.To(t, box.Wait(t, 1), staffList).Text, "Which model should I order now?")
	if got := timers(t, g, c.id); !slices.Contains(got, "first-response") {
		t.Fatalf("a new question did not start the first-response deadline: %v", got)
	}
	clock.Set(gatewaytest.BerlinTime(t, "2026-12-02 13:01"))
	// PR hears of it; the holding reply is not sent to a hard-bounced address.
	gatewaytest.Has(t, "first-response digest", gatewaytest.To(t, box.Wait(t, 1), "pr@example.com").Text, `rule "first-response"`)
	var skipped string
	if err := g.db.Get(&skipped, `SELECT detail FROM events WHERE case_id = $1 AND kind = 'escalation-skipped'`, c.id); err != nil || !strings.Contains(skipped, "hard-bounced") {
		t.Errorf("escalation-skipped event: %q, %v", skipped, err)
	}
}

// Issue 16 item 4: an out-of-office answering the resolution is filed on
// the case as automatic mail and changes nothing: the case stays resolved
// and the follow-up still comes.
func TestOutOfOfficeAfterResolutionChangesNothing(t *testing.T) {
	clock := &movableClock{now: gatewaytest.BerlinTime(t, "2026-11-30 10:00")}
	g, box := startStory(t, clock, "", "")
	c := openStoryCase(t, g, box, "ooo-1@customer.example", "Printer on fire", "My printer is smoking.")
	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 10:30"))
	staffAnswers(t, g, c, c.staffRoot, "OOO1", "#resolve\n\nHello Ada,\n\nwe replaced it.")
	relayed := gatewaytest.To(t, box.Wait(t, 1), ada)
	gatewaytest.Has(t, "relayed reply", relayed.Text, "We have marked your case as resolved")
	before := timers(t, g, c.id)
	if !slices.Equal(before, []string{"followup:ask"}) {
		t.Fatalf("after the resolution the timers are %v, want the follow-up", before)
	}

	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 10:31"))
	for i, head := range []string{"Auto-Submitted: auto-replied\n", "X-Auto-Response-Suppress: All\nPrecedence: auto_reply\n", "Auto-Submitted: auto-generated\n"} {
		ooo := customerSays(c.customerToken, fmt.Sprintf("ooo-%d@customer.example", i+2), relayed.MessageID(t), "Out of office: "+c.customerSubject,
			"I am out of the office until 7 December. For urgent matters call my deputy.")
		if err := send(t, g.addr, ada, []string{c.customerToken}, head+ooo); err != nil {
			t.Fatal(err)
		}
	}
	box.Wait(t, 0)
	if st := statusOf(t, g.db, c.id); st != "resolved" {
		t.Errorf("out-of-office replies left the case %s, want resolved", st)
	}
	if got := timers(t, g, c.id); !slices.Equal(got, before) {
		t.Errorf("timers after the out-of-office replies: %v, want %v", got, before)
	}
	var automatic int
	if err := g.db.Get(&automatic, `SELECT count(*) FROM messages WHERE case_id = $1 AND automatic AND message_id LIKE 'ooo-%'`, c.id); err != nil || automatic != 3 {
		t.Errorf("%d out-of-office replies filed on the case as automatic (%v), want 3", automatic, err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'automatic'`, c.id); n != 3 {
		t.Errorf("%d automatic events, want 3", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind IN ('followup-cancelled', 'reopened')`, c.id); n != 0 {
		t.Errorf("an out-of-office reply cancelled the follow-up or reopened the case")
	}
	// Three days later the follow-up asks as planned.
	clock.Set(gatewaytest.BerlinTime(t, "2026-12-03 10:30"))
	gatewaytest.Has(t, "follow-up", gatewaytest.To(t, box.Wait(t, 1), ada).Text, "Did this fix it?")
}

// Issue 16 item 5: a journalist's mail sent with Precedence: bulk (as
// press-release tools do) is classified like any other: PR gets its digest
// at once and staff their notification; being automatic only means it
// gets no acknowledgement.
func TestBulkJournalistMailReachesPRAndStaff(t *testing.T) {
	clock := &movableClock{now: gatewaytest.BerlinTime(t, "2026-11-30 10:00")}
	g, box := startStory(t, clock, "", "")
	for i, head := range []string{"Precedence: bulk\n", "Precedence: list\nList-Unsubscribe: <mailto:unsubscribe@lists.newswire.example>\n"} {
		raw := fmt.Sprintf(`From: Jo Bloggs <jo@newswire.example>
To: support@support.example.com
Subject: Request for comment: exploding printers
Message-ID: <bulk-%d@newswire.example>
%sContent-Type: text/plain; charset=utf-8

We are running a story on printers catching fire and would welcome a
comment from your company by 17:00 today.

Jo Bloggs
Reporter, Evening Post
`, i, head)
		if err := send(t, g.addr, "jo@newswire.example", []string{"support@support.example.com"}, raw); err != nil {
			t.Fatal(err)
		}
		var id int64
		var category string
		if err := g.db.QueryRow(`SELECT id, category FROM cases WHERE id = (SELECT case_id FROM messages WHERE message_id = $1)`, fmt.Sprintf("bulk-%d@newswire.example", i)).Scan(&id, &category); err != nil {
			t.Fatal(err)
		}
		if category != "journalist" {
			t.Errorf("%s: category %q, want journalist", head, category)
		}
		mails := box.Wait(t, 2) // no acknowledgement
		digest, notification := gatewaytest.To(t, mails, "pr@example.com"), gatewaytest.To(t, mails, staffList)
		gatewaytest.Has(t, "digest", digest.Text, `rule "press"`, "journalist", "Jo Bloggs")
		gatewaytest.Has(t, "staff notification", notification.Text, fmt.Sprintf("New case #%d", id), "Category: journalist", "PR:       alerted", "We are running a story")
		var why string
		if err := g.db.Get(&why, `SELECT detail FROM events WHERE case_id = $1 AND kind = 'not-acknowledged'`, id); err != nil || !strings.Contains(why, "RFC 3834") {
			t.Errorf("%s: not-acknowledged event %q, %v", head, why, err)
		}
	}
}

// Issue 16 item 6: the daily cap on automatic answers never drops what
// staff cause. Her own status questions use the cap up; the resolution
// notice staff's #resolve causes still reaches her.
func TestCapsNeverDropWhatStaffCause(t *testing.T) {
	clock := &movableClock{now: gatewaytest.BerlinTime(t, "2026-11-30 10:00")}
	g, box := startStory(t, clock, "", "[safety]\nmax_auto_replies_per_day = 3\n")
	c := openStoryCase(t, g, box, "cap-1@customer.example", "Printer on fire", "My printer is smoking.") // 1: the acknowledgement
	for i := 2; i <= 5; i++ {
		clock.Add(time.Minute)
		if err := send(t, g.addr, ada, []string{c.customerToken}, customerSays(c.customerToken, fmt.Sprintf("cap-%d@customer.example", i), c.customerFirst, "status", "status")); err != nil {
			t.Fatal(err)
		}
	}
	// Two status replies fit under the cap of 3; staff hear once that she
	// reached it.
	asked := box.Wait(t, 3)
	var replies int
	for _, m := range asked {
		if strings.Join(m.Rcpts, ",") == ada {
			replies++
		}
	}
	if replies != 2 {
		t.Errorf("%d status replies, want 2 under the cap of 3", replies)
	}
	gatewaytest.Has(t, "cap notice", gatewaytest.To(t, asked, staffList).Text, "has reached the daily limit of automatic replies")
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'status-skipped' AND detail LIKE '%cap 3%'`, c.id); n != 2 {
		t.Errorf("%d capped status questions recorded, want 2", n)
	}

	// Alice resolves by command alone: the resolution notice goes out.
	clock.Add(time.Minute)
	staffAnswers(t, g, c, c.staffRoot, "CAP1", "#resolve")
	notice := gatewaytest.To(t, box.Wait(t, 1), ada)
	if notice.Subject != c.customerSubject+" resolved" {
		t.Errorf("resolution notice subject %q", notice.Subject)
	}
	gatewaytest.Has(t, "resolution notice", notice.Text, "resolved")
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'resolution-notice-skipped'`, c.id); n != 0 {
		t.Error("the resolution notice was held back by the cap")
	}
}

// Issue 16 item 11: Alice answers Ada from her own mail client, with the
// support address in Cc (one variant) or Bcc (the other). That mail is the
// staff response on the case: it stops the first-response clock, is on the
// timeline and in the report's first response, and is not relayed again —
// Ada has it already.
func TestStaffReplyFromOwnClientCounts(t *testing.T) {
	for _, variant := range []string{"Cc", "Bcc", "Cc with a command"} {
		t.Run(variant, func(t *testing.T) {
			clock := &movableClock{now: gatewaytest.BerlinTime(t, "2026-11-30 10:00")}
			g, box, cli := startStoryCLI(t, clock, "", "")
			c := openStoryCase(t, g, box, "direct-1@customer.example", "Printer on fire", "My printer is smoking.")
			clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 10:30"))
			head := fmt.Sprintf("From: Alice Example <alice@example.com>\nTo: Ada Lovelace <ada@customer.example>\nSubject: Re: Printer on fire %s\nMessage-ID: <direct-alice@example.com>\nIn-Reply-To: <%s>\nReferences: <%s>\n", c.tag, c.customerFirst, c.customerFirst)
			command := ""
			if strings.HasPrefix(variant, "Cc") {
				head += "Cc: Example Support <support@support.example.com>\n"
			}
			if strings.HasSuffix(variant, "command") {
				command = "#resolve\n\n"
			}
			raw := head + "Content-Type: text/plain; charset=utf-8\n\n" + command + "Hello Ada,\n\nI called you: unplug it, a new one is on its way.\n\nAlice\n"
			// Her server delivers one copy to Ada and one to support.
			if err := send(t, g.addr, "alice@example.com", []string{"support@support.example.com"}, raw); err != nil {
				t.Fatal(err)
			}
			if command == "" {
				box.Wait(t, 0) // nothing relayed, nobody told
			} else {
				// Commands need the case's staff address: not applied, she is told.
				gatewaytest.Has(t, "command error", gatewaytest.To(t, box.Wait(t, 1), "alice@example.com").Text, "Commands not applied",
					"commands work only in a reply to the case's staff address")
			}
			var onCase int64
			if err := g.db.Get(&onCase, `SELECT case_id FROM messages WHERE message_id = 'direct-alice@example.com'`); err != nil || onCase != c.id {
				t.Fatalf("the direct reply is on case %d (%v), want %d", onCase, err, c.id)
			}
			if got := timers(t, g, c.id); slices.Contains(got, "first-response") {
				t.Errorf("the direct reply did not stop the first-response clock: %v", got)
			}
			if st := statusOf(t, g.db, c.id); st != "open" {
				t.Errorf("status %q after the staff reply, want open", st)
			}
			show := cli.mustAdmin(t, "case", "show", fmt.Sprint(c.id))
			for _, want := range []string{"staff-replied-directly by alice@example.com", "recorded as the staff response, not relayed", "<- message", "I called you"} {
				if !strings.Contains(show, want) {
					t.Errorf("case show lacks %q:\n%s", want, show)
				}
			}
			var rep struct {
				Total struct {
					FirstResponse struct {
						Count         int     `json:"count"`
						MedianSeconds float64 `json:"median_seconds"`
					} `json:"first_response"`
				} `json:"total"`
			}
			if err := json.Unmarshal([]byte(cli.mustAdmin(t, "report", "-since", "3650d", "-json")), &rep); err != nil {
				t.Fatal(err)
			}
			if fr := rep.Total.FirstResponse; fr.Count != 1 || fr.MedianSeconds != 30*60 {
				t.Errorf("report first response %+v, want one of 30 minutes", fr)
			}
			// Four business hours on: nothing escalates.
			clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 15:00"))
			box.Wait(t, 0)
			// Her status reply says staff answered.
			if err := send(t, g.addr, ada, []string{c.customerToken}, customerSays(c.customerToken, "direct-2@customer.example", "direct-alice@example.com", "status", "status")); err != nil {
				t.Fatal(err)
			}
			status := gatewaytest.To(t, box.Wait(t, 1), ada)
			gatewaytest.Has(t, "status reply", status.Text, "Last from us: we answered you today at 10:30 CET")
			// The status reply threads under Alice's mail, which Ada has.
			if irt, _ := status.Header.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "direct-2@customer.example" {
				t.Errorf("status reply In-Reply-To %v", irt)
			}
		})
	}
}

// Issue 16 item 12: one problem that arrived as several cases is joined —
// by #merge in a staff reply and by `casegate case merge` — and the
// customer is told which number to use; her later mail to the merged case,
// and a new mail naming one of her case numbers, joins the case that
// remains.
func TestMergeAndCaseNumbers(t *testing.T) {
	clock := &movableClock{now: time.Now()}
	g, box, cli := startStoryCLI(t, clock, "", "")
	a := openStoryCase(t, g, box, "merge-a@customer.example", "Printer on fire", "My printer is smoking.")
	b := openStoryCase(t, g, box, "merge-b@customer.example", "Printer still smoking", "It is still smoking, I wrote before.")

	// Alice merges B into A by mail: commands only, so Ada gets one mail,
	// the merge notice, threaded in case A.
	staffAnswers(t, g, b, b.staffRoot, "MERGE1", fmt.Sprintf("#merge %d", a.id))
	notice := gatewaytest.To(t, box.Wait(t, 1), ada)
	if notice.Subject != a.customerSubject {
		t.Errorf("merge notice subject %q, want %q", notice.Subject, a.customerSubject)
	}
	gatewaytest.Has(t, "merge notice", notice.Text, fmt.Sprintf("Your case #%d is about the same matter as case #%d", b.id, a.id), fmt.Sprintf("Please use #%d from now on", a.id))
	var mergedInto int64
	var status string
	if err := g.db.QueryRow(`SELECT merged_into, status FROM cases WHERE id = $1`, b.id).Scan(&mergedInto, &status); err != nil || mergedInto != a.id || status != "closed" {
		t.Errorf("case %d after #merge: merged into %d, %s (%v)", b.id, mergedInto, status, err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE case_id = $1`, b.id); n != 0 {
		t.Errorf("%d messages left on the merged case", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE case_id = $1 AND message_id = 'merge-b@customer.example'`, a.id); n != 1 {
		t.Error("the merged case's first mail is not on the case that remains")
	}

	// Her reply to B's acknowledgement lands on A; staff hear of it on A.
	if err := send(t, g.addr, ada, []string{b.customerToken}, customerSays(b.customerToken, "merge-b2@customer.example", b.ack.MessageID(t), b.customerSubject, "Any news?")); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Has(t, "notification", gatewaytest.To(t, box.Wait(t, 1), staffList).Text, fmt.Sprintf("The customer wrote on case #%d", a.id), "Any news?")
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE case_id = $1 AND message_id = 'merge-b2@customer.example'`, a.id); n != 1 {
		t.Error("a reply to the merged case did not join the case that remains")
	}

	// From the command line.
	c := openStoryCase(t, g, box, "merge-c@customer.example", "Toner smells", "The toner smells burnt.")
	out := cli.mustAdmin(t, "case", "merge", fmt.Sprint(c.id), fmt.Sprint(a.id))
	if want := fmt.Sprintf("case #%d: case #%d merged into it", a.id, c.id); !strings.Contains(out, want) {
		t.Errorf("case merge said %q, want %q", out, want)
	}
	gatewaytest.Has(t, "merge notice", gatewaytest.To(t, box.Wait(t, 1), ada).Text, fmt.Sprintf("Please use #%d from now on", a.id))
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'merged' AND actor = 'cli:tester'`, a.id); n == 0 {
		t.Error("no merged event by the CLI user")
	}
	_, err := cli.admin(t, "case", "merge", fmt.Sprint(c.id), fmt.Sprint(a.id))
	wantExit(t, err, exitRefused, "merging a merged case again")
	_, err = cli.admin(t, "case", "merge", fmt.Sprint(a.id), fmt.Sprint(a.id))
	wantExit(t, err, exitRefused, "merging a case into itself")
	_, err = cli.admin(t, "case", "merge", fmt.Sprint(a.id), "99999")
	wantExit(t, err, exitNotFound, "merging into a case that does not exist")
	_, err = cli.admin(t, "case", "merge", "99999", fmt.Sprint(a.id))
	wantExit(t, err, exitNotFound, "merging a case that does not exist")
	_, err = cli.admin(t, "case", "merge", fmt.Sprint(a.id))
	wantExit(t, err, 2, "merge without a target")
	box.Wait(t, 0)

	// A new mail that names her case number, in the subject or the first
	// lines, joins that case: no new case, no acknowledgement.
	for i, m := range []struct{ subject, text string }{
		{fmt.Sprintf("About case %d", a.id), "The printer is smoking again."},
		{"Printer", fmt.Sprintf("Hello,\n\nthis is about #%d: the printer is smoking again.", a.id)},
	} {
		id := fmt.Sprintf("merge-named-%d@customer.example", i)
		if err := send(t, g.addr, ada, []string{"support@support.example.com"}, customerSays("support@support.example.com", id, "", m.subject, m.text)); err != nil {
			t.Fatal(err)
		}
		gatewaytest.Has(t, "notification", gatewaytest.To(t, box.Wait(t, 1), staffList).Text, fmt.Sprintf("The customer wrote on case #%d", a.id))
		var how string
		if err := g.db.Get(&how, `SELECT e.detail FROM events e JOIN messages m ON m.id = e.message_id WHERE m.message_id = $1 AND m.case_id = $2 AND e.kind = 'received'`, id, a.id); err != nil || how != "threaded by case number" {
			t.Errorf("mail naming #%d in %q: %q, %v", a.id, m.subject, how, err)
		}
	}
	if n := count(t, g.db, `SELECT count(*) FROM cases WHERE merged_into IS NULL`); n != 1 {
		t.Errorf("%d cases not merged, want 1", n)
	}
}

// Issue 16 item 13: when a mail opens a new case although it names an
// existing one — a subject tag from someone who is not on that case, a
// reply address whose token is forged — both cases' timelines say why, so
// staff can merge with confidence. (Stale tokens: TestStaleTokensAreNeverObeyed.)
func TestNewCaseSaysWhyNotThreaded(t *testing.T) {
	clock := &movableClock{now: gatewaytest.BerlinTime(t, "2026-11-30 10:00")}
	g, box := startStory(t, clock, "", "")
	a := openStoryCase(t, g, box, "why-1@customer.example", "Printer on fire", "My printer is smoking.")
	for _, m := range []struct{ from, rcpt, id, subject, onNew, onOld string }{
		{"bob@elsewhere.example", "support@support.example.com", "why-2@elsewhere.example", "Re: Printer on fire " + a.tag,
			fmt.Sprintf("opened as a new case although it names case #%d, but bob@elsewhere.example is not a participant of it", a.id),
			"a mail from bob@elsewhere.example naming this case opened case #"},
		{"mallory@elsewhere.example", fmt.Sprintf("support+%d-0123456789ab@support.example.com", a.id), "why-3@elsewhere.example", "Printer",
			fmt.Sprintf("opened as a new case although its reply address for case #%d does not verify (forged, mistyped", a.id),
			"a mail from mallory@elsewhere.example to a reply address for this case that does not verify (forged or mistyped) opened case #"},
	} {
		raw := fmt.Sprintf("From: <%s>\nTo: <%s>\nSubject: %s\nMessage-ID: <%s>\n\nWhat about my printer?\n", m.from, m.rcpt, m.subject, m.id)
		if err := send(t, g.addr, m.from, []string{m.rcpt}, raw); err != nil {
			t.Fatal(err)
		}
		var fresh int64
		if err := g.db.Get(&fresh, `SELECT case_id FROM messages WHERE message_id = $1`, m.id); err != nil || fresh == a.id {
			t.Fatalf("%s threaded onto case %d (%v)", m.from, fresh, err)
		}
		box.Wait(t, 2)
		wantEvent(t, g, fresh, "not-threaded", m.onNew)
		wantEvent(t, g, a.id, "not-threaded", m.onOld+fmt.Sprint(fresh)+" instead")
	}
}

// Issue 16 item 16: "at once" means at once. A rule with after = "0s"
// fires in the filing's own commit, every time — the sweeper here runs
// only hourly, on the real clock, so it cannot be what fires it — and the
// acknowledgement it goes with copies PR. And a resolution from the
// command line reaches the customer promptly: the running service is woken
// (NOTIFY), it does not wait for its next poll (5 s).
func TestAtOnceMeansAtOnce(t *testing.T) {
	g := startServiceConf(t, func(dbURL string) string {
		return fmt.Sprintf(staffTestConfig, dbURL, `trusted_networks = ["127.0.0.0/8"]`) +
			strings.Replace(shippedRules(t), `sweep_interval = "50ms"`, `sweep_interval = "1h"`, 1) + "[safety]\nmax_auto_replies_per_day = 1000\n"
	}, nil)
	const rounds = 40
	for i := 0; i < rounds; i++ {
		// A journalist (press domain) and a customer threatening the press.
		from, text, rule := "lois@daily-planet.example", "We are running a story tomorrow.", "press"
		if i%2 == 1 {
			from, text, rule = fmt.Sprintf("angry%d@customer.example", i), "My lawyer will hear of this.", "public-risk"
		}
		id := fmt.Sprintf("atonce-%d@example.net", i)
		raw := fmt.Sprintf("From: <%s>\nTo: support@support.example.com\nSubject: Printers %d\nMessage-ID: <%s>\n\n%s\n", from, i, id, text)
		if err := send(t, g.smtp(), from, []string{"support@support.example.com"}, raw); err != nil {
			t.Fatal(err)
		}
		// Read right after the 250: the firing and its digest are committed
		// with the message.
		var fired, digests int
		if err := g.db.QueryRow(`SELECT
			(SELECT count(*) FROM escalations e WHERE e.case_id = m.case_id AND e.rule = $2),
			(SELECT count(*) FROM intents i WHERE i.case_id = m.case_id AND i.kind = 'escalation-digest')
			FROM messages m WHERE m.message_id = $1`, id, rule).Scan(&fired, &digests); err != nil {
			t.Fatal(err)
		}
		if fired != 1 || digests != 1 {
			t.Fatalf("round %d: rule %s fired %d times and %d digests were committed with the filing, want 1 and 1", i, rule, fired, digests)
		}
	}
	// Every first answer (journalist acknowledgement, holding reply) copied PR.
	if n := count(t, g.db, `SELECT count(*) FROM intents i WHERE i.kind IN ('journalist-acknowledgement', 'holding-reply')
		AND EXISTS (SELECT 1 FROM deliveries d WHERE d.outbox_id = i.outbox_id AND d.recipient = 'pr@example.com')`); n != rounds {
		t.Errorf("%d of %d first answers copied PR", n, rounds)
	}

	// `casegate case resolve` from the command line, five times: each
	// resolution notice is delivered well before the 5 s poll could have.
	var slowest time.Duration
	for i := 0; i < 5; i++ {
		from := fmt.Sprintf("cli%d@customer.example", i)
		raw := fmt.Sprintf("From: <%s>\nTo: support@support.example.com\nSubject: Printer %d\nMessage-ID: <cli-%d@customer.example>\n\nMy printer is broken.\n", from, i, i)
		if err := send(t, g.smtp(), from, []string{"support@support.example.com"}, raw); err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := g.db.Get(&id, `SELECT case_id FROM messages WHERE message_id = $1`, fmt.Sprintf("cli-%d@customer.example", i)); err != nil {
			t.Fatal(err)
		}
		rendered(t, g.db)
		start := time.Now()
		g.mustAdmin(t, "case", "resolve", fmt.Sprint(id))
		for {
			var sent int
			if err := g.db.Get(&sent, `SELECT count(*) FROM deliveries d JOIN intents i ON i.outbox_id = d.outbox_id
				WHERE i.case_id = $1 AND i.kind = 'resolution' AND d.recipient = $2 AND d.status = 'sent'`, id, from); err != nil {
				t.Fatal(err)
			}
			if sent == 1 {
				break
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("the resolution notice of case %d was not delivered within 10s", id)
			}
			time.Sleep(5 * time.Millisecond)
		}
		slowest = max(slowest, time.Since(start))
	}
	t.Logf("slowest resolution notice from the CLI to the Maildir: %v", slowest)
	if slowest > 2*time.Second {
		t.Errorf("a resolution from the CLI took %v to reach the customer: the service was not woken", slowest)
	}
}

// Issue 16 items 1, 2 and 7: a first mail that threatens the press gets
// one answer, not two in the same second — the holding reply, which
// carries the case number and says that a senior person has it and when
// she will hear back — PR its digest, and staff a notification that shows
// the risk, its words and that PR was alerted.
func TestThreatInTheFirstMail(t *testing.T) {
	same := func(conf string) string { return conf }
	// Within the office's hours, and on a Saturday: PR hears at once
	// either way; the promise counts the office's business hours.
	for _, v := range []struct {
		at, promise, priority string
		conf                  func(string) string
	}{
		{"2026-11-30 16:00", "by 12:00 CET tomorrow", "high", same},            // Monday, an hour before closing
		{"2026-11-28 11:00", "by Monday 30 November, 13:00 CET", "high", same}, // Saturday
		// [classify] risk_priority and [escalation] holding_reply_within.
		{"2026-11-30 16:00", "as soon as we can", "urgent", func(conf string) string {
			conf = strings.Replace(conf, "\n[classify]\n", "\n[classify]\nrisk_priority = \"urgent\"\n", 1)
			return strings.Replace(conf, "\n[escalation]\n", "\n[escalation]\nholding_reply_within = \"0s\"\n", 1)
		}},
	} {
		t.Run(v.at+" "+v.priority, func(t *testing.T) {
			clock := &movableClock{now: gatewaytest.BerlinTime(t, v.at)}
			dbURL := pgtest.URL(t)
			g, _ := runGateway(t, "", dbURL, v.conf(storyConfig(t, dbURL, "", "")), clock.Now)
			threatInTheFirstMail(t, g, gatewaytest.NewOutbox(g.db), v.promise, v.priority)
		})
	}
}

func threatInTheFirstMail(t *testing.T, g *gateway, box *gatewaytest.Outbox, promise, wantPriority string) {
	if err := send(t, g.addr, ada, []string{"support@support.example.com"}, customerSays("support@support.example.com", "threat-1@customer.example", "",
		"Printer on fire", "My printer caught fire. If this is not fixed today I will go to the press and call my lawyer.")); err != nil {
		t.Fatal(err)
	}
	var id int64
	var priority, risk string
	if err := g.db.QueryRow(`SELECT id, priority, risk FROM cases`).Scan(&id, &priority, &risk); err != nil || priority != wantPriority || risk != "high" {
		t.Errorf("case %d: priority %q, risk %q (%v); want %s, high", id, priority, risk, err, wantPriority)
	}
	mails := box.Wait(t, 3)
	holding := gatewaytest.To(t, mails, ada+",pr@example.com")
	if holding.Subject != fmt.Sprintf("Re: Printer on fire [#%d]", id) {
		t.Errorf("holding reply subject %q", holding.Subject)
	}
	gatewaytest.Has(t, "holding reply", holding.Text, fmt.Sprintf("Thank you for your message about your case #%d; we take it seriously", id),
		"senior member of our team", promise)
	gatewaytest.HasNot(t, "holding reply", holding.Text, "taking longer")
	gatewaytest.NoInternals(t, "holding reply", holding.Text)
	if irt, _ := holding.Header.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "threat-1@customer.example" {
		t.Errorf("holding reply In-Reply-To %v, want her mail", irt)
	}
	if h := holding.Header.Get("Auto-Submitted"); h != "auto-replied" {
		t.Errorf("holding reply Auto-Submitted %q, want auto-replied (it answers her mail)", h)
	}
	gatewaytest.Has(t, "digest", gatewaytest.To(t, mails, "pr@example.com").Text, `rule "public-risk"`, `"go to the press" (3)`, `"lawyer" (3)`)
	gatewaytest.Has(t, "staff notification", gatewaytest.To(t, mails, staffList).Text, "Priority: "+wantPriority, "Risk:     high", `"go to the press" (3)`, "PR:       alerted")
	wantEvent(t, g, id, "acknowledged", "by the holding reply")
}
