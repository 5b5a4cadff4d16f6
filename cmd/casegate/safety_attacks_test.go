package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"casegate/internal/gatewaytest"
	"casegate/internal/pgtest"
)

// Issue 15 items 2, 5 and 6, tried as an attacker (or a careless
// colleague) would: through the real SMTP listener into a real PostgreSQL,
// asserting what was obeyed, stored and sent.

// Issue 15 item 2: reply addresses go stale token_ttl after their case
// ended, and when the key that signed them was rotated out. A staff
// member who uses a stale one is told so and nothing of the mail is
// applied or relayed; a customer's stale address does not thread her mail
// by itself, and both cases' timelines say why.
func TestStaleTokensAreNeverObeyed(t *testing.T) {
	clock := &movableClock{now: gatewaytest.BerlinTime(t, "2026-11-30 10:00")}
	dbURL := pgtest.URL(t)
	oldSecret, newSecret := "test-secret-0123456789", "rotated-secret-9876543210"
	conf := func(keys string) string {
		return strings.Replace(storyConfig(t, dbURL, keys, ""), "secret = \"test-secret-0123456789\"", "secret = \""+oldSecret+"\"", 1)
	}
	g, _ := runGateway(t, "", dbURL, conf(`token_ttl = "24h"`), clock.Now)
	box := gatewaytest.NewOutbox(g.db)
	c := openStoryCase(t, g, box, "stale-1@customer.example", "Printer on fire", "My printer is smoking.")
	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 10:30"))
	staffAnswers(t, g, c, c.staffRoot, "STALE1", "#resolve\n\nHello Ada,\n\nwe replaced it.")
	relayed := gatewaytest.To(t, box.Wait(t, 1), ada)

	// A day and an hour after the resolution, Alice answers the old
	// notification: stale. She is told; nothing is applied or relayed.
	clock.Set(gatewaytest.BerlinTime(t, "2026-12-01 11:30"))
	staffAnswers(t, g, c, c.staffRoot, "STALE2", "#reopen\n#priority urgent\n\nHello Ada,\n\none more thing.")
	told := gatewaytest.To(t, box.Wait(t, 1), "alice@example.com")
	gatewaytest.Has(t, "stale notice", told.Text, "Commands not applied", "the address you wrote to is stale", "more than 24h0m0s ago",
		fmt.Sprintf("reopen it first (casegate case reopen %d)", c.id))
	if cr := gatewaytest.GetCase(t, g.db, c.id); cr.Status != "resolved" || cr.Priority != "normal" {
		t.Errorf("a stale staff address was obeyed: %+v", cr)
	}

	// Ada's stale reply address alone threads nothing: a new case, and
	// both timelines say why.
	if err := send(t, g.addr, ada, []string{c.customerToken}, customerSays(c.customerToken, "stale-2@customer.example", "", "Printer again", "It is smoking again.")); err != nil {
		t.Fatal(err)
	}
	var fresh int64
	if err := g.db.Get(&fresh, `SELECT case_id FROM messages WHERE message_id = 'stale-2@customer.example'`); err != nil || fresh == c.id {
		t.Fatalf("a stale reply address alone threaded the mail onto case %d (%v)", fresh, err)
	}
	box.Wait(t, 2) // acknowledgement and notification of the new case
	wantEvent(t, g, fresh, "not-threaded", fmt.Sprintf("its reply token for case #%d is stale (the case was resolved on", c.id))
	wantEvent(t, g, c.id, "not-threaded", fmt.Sprintf("with a stale reply token for this case opened case #%d instead", fresh))
	// With what her client puts in In-Reply-To, it threads as ever.
	if err := send(t, g.addr, ada, []string{c.customerToken}, customerSays(c.customerToken, "stale-3@customer.example", relayed.MessageID(t), c.customerSubject, "It is smoking again.")); err != nil {
		t.Fatal(err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE case_id = $1 AND message_id = 'stale-3@customer.example'`, c.id); n != 1 {
		t.Error("her reply with In-Reply-To did not thread")
	}
	gatewaytest.Has(t, "notification", gatewaytest.To(t, box.Wait(t, 1), staffList).Text, fmt.Sprintf("The customer wrote on case #%d", c.id))

	// Someone leaves: the admin rotates the secret, keeping the old one in
	// previous_secret_files. Every address signed before is stale.
	d := openStoryCase(t, g, box, "stale-4@customer.example", "Scanner jams", "My scanner jams.")
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "staff-secret.old"), []byte(oldSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	oldSecret = newSecret
	g, _ = runGateway(t, dir, dbURL, conf(`previous_secret_files = ["staff-secret.old"]`), clock.Now)
	clock.Add(time.Minute)
	staffAnswers(t, g, d, d.staffRoot, "STALE3", "#close\n\nHello Ada,\n\nclosing this.")
	told = gatewaytest.To(t, box.Wait(t, 1), "alice@example.com")
	gatewaytest.Has(t, "stale notice", told.Text, "the address you wrote to is stale (signed with a secret that has been rotated)", "Reply to this mail instead")
	if cr := gatewaytest.GetCase(t, g.db, d.id); cr.Status != "new" {
		t.Errorf("an address signed with a rotated key was obeyed: %+v", cr)
	}
	// The notice's own Reply-To is the case's address under the new key:
	// her reply to it is obeyed.
	current := gatewaytest.CustomerReplyAddress.FindString(told.Header.Get("Reply-To"))
	if current == d.staffToken || current == "" {
		t.Fatalf("the stale notice's Reply-To %q is not a new staff address", told.Header.Get("Reply-To"))
	}
	clock.Add(time.Minute)
	if err := send(t, g.addr, "alice@example.com", []string{current}, gatewaytest.StaffReply("Alice Example <alice@example.com>", current, told.MessageID(t), d.id, "STALE3B", "#pending\n\nHello Ada,\n\nwhich model is it?")); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Has(t, "relayed", gatewaytest.To(t, box.Wait(t, 1), ada).Text, "which model is it?")
	if cr := gatewaytest.GetCase(t, g.db, d.id); cr.Status != "pending" {
		t.Errorf("the current key's staff address was not obeyed: %+v", cr)
	}
	// Her old address alone threads nothing after the rotation either.
	if err := send(t, g.addr, ada, []string{d.customerToken}, customerSays(d.customerToken, "stale-5@customer.example", "", "Scanner", "Still jamming.")); err != nil {
		t.Fatal(err)
	}
	box.Wait(t, 2) // a new case: acknowledgement and notification
	wantEvent(t, g, d.id, "not-threaded", "stale reply token")
}

// wantEvent fails unless case id has an event of kind whose detail
// contains detail.
func wantEvent(t *testing.T, g *gateway, id int64, kind, detail string) {
	t.Helper()
	var details []string
	if err := g.db.Select(&details, `SELECT detail FROM events WHERE case_id = $1 AND kind = $2`, id, kind); err != nil {
		t.Fatal(err)
	}
	for _, d := range details {
		if strings.Contains(d, detail) {
			return
		}
	}
	t.Errorf("case %d has no %s event saying %q; it has %q", id, kind, detail, details)
}

// [staff] token_ttl, previous_secrets and previous_secret_files: read,
// defaulted, and refused with the key named.
func TestTokenConfigKeys(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "old"), []byte("an-old-secret-0123456789\n"), 0o600)
	load := func(staffKeys string) (*Config, error) {
		path := filepath.Join(dir, "casegate.toml")
		os.WriteFile(path, []byte(fmt.Sprintf(staffTestConfig, "postgres://x@127.0.0.1/x", staffKeys)), 0o600)
		return loadConfig(path, func(string) string { return "" })
	}
	c, err := load("")
	if err != nil || c.Staff.TokenTTL.Duration != 720*time.Hour || len(previousSecrets(c)) != 0 {
		t.Errorf("defaults: %v, token_ttl %v, previous %v", err, c.Staff.TokenTTL, previousSecrets(c))
	}
	c, err = load(`token_ttl = "48h"
previous_secrets = ["another-old-secret-0123"]
previous_secret_files = ["old"]`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Staff.TokenTTL.Duration != 48*time.Hour || fmt.Sprintf("%q", previousSecrets(c)) != `["another-old-secret-0123" "an-old-secret-0123456789"]` {
		t.Errorf("token_ttl %v, previous %q", c.Staff.TokenTTL, previousSecrets(c))
	}
	if o := storeOptions(c, nil, nil, nil); o.TokenTTL != 48*time.Hour || len(o.PreviousSecrets) != 2 {
		t.Errorf("threads.Options: TokenTTL %v, %d previous secrets", o.TokenTTL, len(o.PreviousSecrets))
	}
	for keys, key := range map[string]string{
		`token_ttl = "-1h"`:                             "staff.token_ttl",
		`previous_secrets = ["short"]`:                  "staff.previous_secrets",
		`previous_secrets = ["test-secret-0123456789"]`: "staff.previous_secrets",
		`previous_secret_files = ["missing"]`:           "staff.previous_secret_files",
	} {
		_, err := load(keys)
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v, want a configuration error naming %s", keys, err, key)
		}
	}
}

// flood sends mails concurrently over conns SMTP connections, as a mail
// cannon would, and returns the first error.
func flood(addr, envelopeFrom string, rcpt string, mails []string, conns int) error {
	work := make(chan string)
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		go func() {
			var first error
			for raw := range work {
				c, err := smtp.Dial(addr)
				if err == nil {
					err = c.SendMail(envelopeFrom, []string{rcpt}, strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")))
					c.Close()
				}
				if first == nil {
					first = err
				}
			}
			errs <- first
		}()
	}
	for _, m := range mails {
		work <- m
	}
	close(work)
	var first error
	for i := 0; i < conns; i++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// outboxTo counts the outbox mails that went to addr (a delivery each).
func outboxTo(t *testing.T, g *gateway, addr string) int {
	t.Helper()
	return count(t, g.db, `SELECT count(*) FROM deliveries WHERE recipient = $1`, addr)
}

// Issue 15 item 5: forty forged status questions in a victim's name, sent
// at once over eight connections while the committers run, give her at
// most the daily cap of automatic mail in all — the acknowledgement she
// already had, status replies, and later a holding reply share it — and
// staff hear of it once. Staff's own command errors are capped alike.
func TestForgedStatusFloodIsCapped(t *testing.T) {
	clock := &movableClock{now: gatewaytest.BerlinTime(t, "2026-11-30 10:00")}
	g, box := startStory(t, clock, "", "")
	c := openStoryCase(t, g, box, "victim-1@customer.example", "Printer on fire", "My printer is smoking.") // 1 automatic mail
	var forged []string
	for i := 0; i < 40; i++ {
		subject, text := "status", fmt.Sprintf("status #%d", c.id)
		if i%2 == 1 {
			subject, text = "Re: Printer on fire "+c.tag, "status"
		}
		forged = append(forged, fmt.Sprintf("From: Ada Lovelace <ada@customer.example>\nTo: support@support.example.com\nSubject: %s\nMessage-ID: <forged-%d@attacker.example>\n\n%s\n", subject, i, text))
	}
	if err := flood(g.addr, "bounces@attacker.example", "support@support.example.com", forged, 8); err != nil {
		t.Fatal(err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE case_id = $1 AND message_id LIKE 'forged-%'`, c.id); n != 40 {
		t.Errorf("%d of 40 forged mails filed on the case", n)
	}
	if n := outboxTo(t, g, ada); n != 5 {
		t.Errorf("the victim got %d automatic mails, want the cap of 5 (the acknowledgement and 4 status replies)", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'status-skipped'`, c.id); n != 36 {
		t.Errorf("%d status questions recorded as not answered, want 36", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'staff-notified' AND detail LIKE 'auto-reply-cap%'`, c.id); n != 1 {
		t.Errorf("staff were told %d times of the capped address, want once", n)
	}
	box.Next(t)

	// Four business hours later the holding reply shares the cap: PR gets
	// its digest, the victim nothing more.
	clock.Set(gatewaytest.BerlinTime(t, "2026-11-30 14:01"))
	gatewaytest.To(t, box.Wait(t, 1), "pr@example.com")
	wantEvent(t, g, c.id, "escalation-skipped", "holding_reply: ada@customer.example already got 5 automatic mails in 24 hours (cap 5)")

	// Command errors count too: Alice's seven malformed replies get five.
	var bad []string
	for i := 0; i < 7; i++ {
		bad = append(bad, gatewaytest.StaffReply("Alice Example <alice@example.com>", c.staffToken, c.staffRoot, c.id, fmt.Sprintf("BAD%d", i), "#frobnicate"))
	}
	if err := flood(g.addr, "alice@example.com", c.staffToken, bad, 4); err != nil {
		t.Fatal(err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'command-error-sent'`, c.id); n != 5 {
		t.Errorf("%d command-error replies, want 5", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'command-error-skipped'`, c.id); n != 2 {
		t.Errorf("%d command errors held back, want 2", n)
	}
}

// The per-case cap holds on its own: with a generous daily cap per
// address, a flood on one case gets it at most max_auto_replies_per_case
// automatic answers in 24 hours.
func TestForgedStatusFloodPerCaseCap(t *testing.T) {
	clock := &movableClock{now: gatewaytest.BerlinTime(t, "2026-11-30 10:00")}
	g, box := startStory(t, clock, "", "[safety]\nmax_auto_replies_per_day = 100\nmax_auto_replies_per_case = 3\n")
	c := openStoryCase(t, g, box, "victim-2@customer.example", "Printer on fire", "My printer is smoking.")
	var forged []string
	for i := 0; i < 40; i++ {
		forged = append(forged, fmt.Sprintf("From: Ada Lovelace <ada@customer.example>\nTo: support@support.example.com\nSubject: status\nMessage-ID: <forged-case-%d@attacker.example>\n\nstatus #%d\n", i, c.id))
	}
	if err := flood(g.addr, "bounces@attacker.example", "support@support.example.com", forged, 8); err != nil {
		t.Fatal(err)
	}
	if n := outboxTo(t, g, ada); n != 3 {
		t.Errorf("the victim got %d automatic mails on the case, want the per-case cap of 3", n)
	}
	wantEvent(t, g, c.id, "status-skipped", fmt.Sprintf("case %d already sent 3 automatic answers in 24 hours (cap 3)", c.id))
}

// Issue 15 item 6: casegate never answers itself. A new mail whose sender
// is one of its own addresses — the support address at any of its
// domains, a reply or bounce address, the PR mailbox — in any letter case
// and display-name form gets no automatic reply (the first turn of a
// loop); it is filed and staff hear of it as of any new case.
func TestNeverAnswerOurselves(t *testing.T) {
	clock := &movableClock{now: gatewaytest.BerlinTime(t, "2026-11-30 10:00")}
	dbURL := pgtest.URL(t)
	conf := strings.Replace(storyConfig(t, dbURL, "", ""), `domains = ["support.example.com"]`, `domains = ["support.example.com", "Support.Example.ORG"]`, 1)
	g, _ := runGateway(t, "", dbURL, conf, clock.Now)
	box := gatewaytest.NewOutbox(g.db)
	for i, from := range []string{
		"support@support.example.com",
		"Example Support <SUPPORT@Support.Example.COM>",
		`"support@support.example.com" <Support@support.example.com>`,
		"=?utf-8?q?Example_Support?= <support@support.example.org>",
		"Example Support <support+1000-0123456789ab@support.example.com>",
		"<SUPPORT+1000-NOTE-0123456789AB@SUPPORT.EXAMPLE.COM>",
		"support+bounce-17-0123456789ab@support.example.com",
		"PR Desk <PR@Example.com>",
		"pr@example.com (PR Desk)",
	} {
		id := fmt.Sprintf("own-%d@support.example.com", i)
		raw := fmt.Sprintf("From: %s\nTo: support@support.example.com\nSubject: Printer %d\nMessage-ID: <%s>\n\nMy printer is on fire.\n", from, i, id)
		if err := send(t, g.addr, "relay@mx.attacker.example", []string{"support@support.example.com"}, raw); err != nil {
			t.Fatalf("%s: %v", from, err)
		}
		var caseID int64
		if err := g.db.Get(&caseID, `SELECT case_id FROM messages WHERE message_id = $1`, id); err != nil {
			t.Fatalf("%s: not filed: %v", from, err)
		}
		for _, m := range box.Next(t) {
			for _, rcpt := range m.Rcpts {
				if rcpt != "alice@example.com" && rcpt != "bob@example.com" {
					t.Errorf("mail from %s: casegate wrote to %s (%q)", from, rcpt, m.Subject)
				}
			}
		}
		var why string
		if err := g.db.Get(&why, `SELECT detail FROM events WHERE case_id = $1 AND kind = 'not-acknowledged'`, caseID); err != nil {
			t.Errorf("mail from %s: no not-acknowledged event (%v)", from, err)
		} else if !strings.Contains(why, "casegate's own addresses") && !strings.Contains(why, "staff address") {
			t.Errorf("mail from %s: not acknowledged because %q", from, why)
		}
	}
	if n := count(t, g.db, `SELECT count(*) FROM deliveries WHERE recipient NOT IN ('alice@example.com', 'bob@example.com')`); n != 0 {
		t.Errorf("%d mails went to someone other than staff", n)
	}
}

// [classify] risk_priority, [escalation] holding_reply_within and
// thanks_words reach threads.Options, with their defaults, and bad values
// are refused naming the key.
func TestCustomerSideConfigKeys(t *testing.T) {
	dir := t.TempDir()
	load := func(extra string) (*Config, error) {
		path := filepath.Join(dir, "casegate.toml")
		os.WriteFile(path, []byte(fmt.Sprintf(staffTestConfig, "postgres://x@127.0.0.1/x", "")+extra), 0o600)
		return loadConfig(path, func(string) string { return "" })
	}
	c, err := load("")
	if err != nil {
		t.Fatal(err)
	}
	if o := storeOptions(c, nil, nil, nil); o.RiskPriority != "high" || o.HoldingReplyWithin != 0 || o.ThanksWords != nil {
		t.Errorf("defaults: risk priority %q, holding reply within %v, thanks words %v", o.RiskPriority, o.HoldingReplyWithin, o.ThanksWords)
	}
	c, err = load("[classify]\nrisk_priority = \"urgent\"\n[escalation]\nholding_reply_within = \"0s\"\nthanks_words = [\"cheers\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if o := storeOptions(c, nil, nil, nil); o.RiskPriority != "urgent" || o.HoldingReplyWithin >= 0 || fmt.Sprint(o.ThanksWords) != "[cheers]" {
		t.Errorf("set: risk priority %q, holding reply within %v, thanks words %v", o.RiskPriority, o.HoldingReplyWithin, o.ThanksWords)
	}
	for extra, key := range map[string]string{
		"[classify]\nrisk_priority = \"sky-high\"\n":         "classify.risk_priority",
		"[escalation]\nholding_reply_within = \"-1h\"\n":     "escalation.holding_reply_within",
		"[escalation]\nthanks_words = [\"thanks\", \" \"]\n": "escalation.thanks_words",
	} {
		if _, err := load(extra); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v, want a configuration error naming %s", extra, err, key)
		}
	}
}
