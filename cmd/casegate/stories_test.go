package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
func startStory(t *testing.T, clock *movableClock, staffKeys, extra string) (*gateway, *outbox) {
	t.Helper()
	dbURL := pgtest.URL(t)
	g, _ := runGateway(t, "", dbURL, storyConfig(t, dbURL, staffKeys, extra), clock.Now)
	return g, &outbox{db: g.db}
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
func (l *threadLog) got(t *testing.T, party string, m sentMail) {
	t.Helper()
	inReplyTo, _ := m.h.MsgIDList("In-Reply-To")
	refs, _ := m.h.MsgIDList("References")
	if len(inReplyTo) != 1 {
		t.Errorf("%s got %q with In-Reply-To %v: want the one message it answers", party, m.subject, inReplyTo)
	}
	for _, id := range append(inReplyTo, refs...) {
		if !slices.Contains(l.has[party], id) {
			t.Errorf("%s got %q threaded under <%s>, a message %s never had (has %v)", party, m.subject, id, party, l.has[party])
		}
	}
	if len(refs) > 0 && len(l.has[party]) > 0 && refs[0] != l.has[party][0] {
		t.Errorf("%s got %q whose References start at <%s>, not at the thread's root <%s>", party, m.subject, refs[0], l.has[party][0])
	}
	id, _ := m.h.MessageID()
	l.wrote(party, id)
}

func messageID(t *testing.T, m sentMail) string {
	t.Helper()
	id, err := m.h.MessageID()
	if err != nil || id == "" {
		t.Fatalf("%q has no Message-ID: %v", m.subject, err)
	}
	return id
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
	clock := &movableClock{now: berlinTime(t, "2026-11-30 10:00")} // a Monday
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
	opened := waitSent(t, box, 2)
	ack, notification := to(t, opened, ada), to(t, opened, staffList)
	if want := "Re: Printer on fire " + tag; ack.subject != want {
		t.Errorf("acknowledgement subject %q, want %q", ack.subject, want)
	}
	has(t, "acknowledgement", ack.text, "Hello Ada Lovelace,", fmt.Sprintf("case #%d", caseID))
	seen.got(t, "ada", ack)
	customerToken := customerReplyAddress.FindString(ack.h.Get("Reply-To"))
	staffSubject := tag + " Printer on fire"
	if notification.subject != staffSubject {
		t.Errorf("staff notification subject %q, want %q", notification.subject, staffSubject)
	}
	has(t, "staff notification", notification.text, fmt.Sprintf("New case #%d", caseID), "My printer has been smoking")
	hasNot(t, "staff notification", notification.text, "Risk:", "PR:") // no risk yet, PR not alerted
	staffRoot := messageID(t, notification)
	seen.wrote("staff", staffRoot)
	staffToken := customerReplyAddress.FindString(notification.h.Get("Reply-To"))

	// Monday 14:01, four business hours on, nobody has answered: PR gets
	// the digest, she a holding reply with PR in copy — once.
	clock.Set(berlinTime(t, "2026-11-30 14:01"))
	late := waitSent(t, box, 2)
	digest, holding := to(t, late, "pr@example.com"), to(t, late, ada+",pr@example.com")
	if digest.subject != staffSubject {
		t.Errorf("digest subject %q, want %q", digest.subject, staffSubject)
	}
	has(t, "first-response digest", digest.text, `rule "first-response"`, "Ada Lovelace", "My printer has been smoking")
	seen.got(t, "staff", digest)
	if holding.subject != "Re: Printer on fire "+tag {
		t.Errorf("holding reply subject %q", holding.subject)
	}
	has(t, "holding reply", holding.text, "Hello Ada Lovelace,", fmt.Sprintf("case #%d", caseID), "is taking longer than it should",
		"senior member of our team", "by 10:01 CET tomorrow")
	noInternals(t, "holding reply", holding.text)
	seen.got(t, "ada", holding)
	clock.Add(5 * time.Minute)
	waitSent(t, box, 0) // at most one holding reply per deadline

	// Monday 14:30. She writes again: she will go to the press.
	clock.Set(berlinTime(t, "2026-11-30 14:30"))
	const threat = "ada-2@customer.example"
	if err := send(t, g.addr, ada, []string{customerToken}, customerSays(customerToken, threat, messageID(t, holding), "Re: Printer on fire "+tag,
		"Nobody has called me back. If I do not hear from you today I will go to the press.")); err != nil {
		t.Fatal(err)
	}
	seen.wrote("ada", threat)
	var risk, priority string
	if err := g.db.QueryRow(`SELECT risk, priority FROM cases WHERE id = $1`, caseID).Scan(&risk, &priority); err != nil || risk != "high" || priority != "high" {
		t.Errorf("after the threat: risk %q, priority %q (%v); want high, high", risk, priority, err)
	}
	threatened := waitSent(t, box, 2)
	toStaff, toPR := to(t, threatened, staffList), to(t, threatened, "pr@example.com")
	if toStaff.subject != staffSubject {
		t.Errorf("staff notification subject %q, want %q", toStaff.subject, staffSubject)
	}
	has(t, "staff notification of the threat", toStaff.text, fmt.Sprintf("The customer wrote on case #%d", caseID), "Priority: high",
		"Risk:     high", `"go to the press" (3)`, "PR:       alerted", "I will go to the press")
	seen.got(t, "staff", toStaff)
	has(t, "public-risk digest", toPR.text, `rule "public-risk"`, "high", `"go to the press"`)
	seen.got(t, "staff", toPR)
	// She was told at 14:01 when she will hear back; that has not passed,
	// so she is not told again.
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'holding-reply'`, caseID); n != 1 {
		t.Errorf("%d holding replies, want 1", n)
	}

	// Monday 15:00. Alice answers from mutt and resolves: one mail.
	clock.Set(berlinTime(t, "2026-11-30 15:00"))
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
`, staffToken, staffSubject, messageID(t, toStaff), staffRoot, messageID(t, toStaff)))
	answer := waitSent(t, box, 1)
	relayed := to(t, answer, ada+",pr@example.com")
	if relayed.subject != "Re: Printer on fire "+tag {
		t.Errorf("relayed subject %q", relayed.subject)
	}
	if want := resolvedText(caseID, "Dear Ada,\n\nI am sorry you waited. Please unplug the printer; we have sent you a\nreplacement, which arrives tomorrow morning."); relayed.text != want {
		t.Errorf("relayed text:\n%q\nwant\n%q", relayed.text, want)
	}
	hasNot(t, "relayed reply", relayed.raw, "alice@", "1234567", "Alice")
	seen.got(t, "ada", relayed)
	if c := getCase(t, g.db, caseID); c.Status != "resolved" {
		t.Errorf("after #resolve: %+v", c)
	}

	// Thursday 15:00, three days later: the follow-up asks, in her zone,
	// with the true interval.
	clock.Set(berlinTime(t, "2026-12-03 15:00"))
	followup := to(t, waitSent(t, box, 1), ada+",pr@example.com")
	has(t, "follow-up", followup.text, "On Monday 30 November (3 days ago) we resolved", "a number from 1 (not at all) to 5 (completely)")
	noInternals(t, "follow-up", followup.text)
	seen.got(t, "ada", followup)

	// She rates 2: it still does not work.
	const rating = "ada-3@customer.example"
	if err := send(t, g.addr, ada, []string{customerToken}, customerSays(customerToken, rating, messageID(t, followup), "Re: Printer on fire "+tag,
		"2 it still doesn't work, the new one smokes too")); err != nil {
		t.Fatal(err)
	}
	seen.wrote("ada", rating)
	rated := waitSent(t, box, 4)
	thanks := to(t, rated, ada+",pr@example.com")
	has(t, "rating thanks", thanks.text, "(2 of 5)", "open again")
	seen.got(t, "ada", thanks)
	staffTold := to(t, rated, staffList)
	has(t, "staff notification of the rating", staffTold.text, fmt.Sprintf("The customer wrote on case #%d", caseID), "Status: open",
		"2 it still doesn't work")
	seen.got(t, "staff", staffTold)
	var prTold []sentMail
	for _, m := range rated {
		if strings.Join(m.rcpts, ",") == "pr@example.com" {
			prTold = append(prTold, m)
		}
	}
	if len(prTold) != 2 {
		t.Fatalf("PR got %d mails on the reopening, want the notification and the resolution digest", len(prTold))
	}
	for _, m := range prTold {
		seen.got(t, "staff", m)
	}
	if c := getCase(t, g.db, caseID); c.Status != "open" {
		t.Errorf("after the rating 2: %+v", c)
	}
	if n := count(t, g.db, `SELECT count(*) FROM ratings WHERE case_id = $1 AND score = 2`, caseID); n != 1 {
		t.Errorf("%d ratings of 2 stored, want 1", n)
	}
}
