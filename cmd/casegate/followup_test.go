package main

import (
	"casegate/vocab"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate/internal/pgtest"
	"casegate/templates"
	"casegate/threads"
)

// No escalation rules, so only the follow-up moves; a short follow-up delay
// shows the keys take effect.
const followupConfig = `
[escalation]
sweep_interval = "50ms"
[followup]
delay = "48h"
close_after = "96h"
reopen_at_or_below = 2
`

// startFollowupGateway runs casegate serve in-process with followupConfig on
// the clock, and returns a second Store on the same configuration (as the
// admin CLI builds one) for staff actions, and the configuration file.
func startFollowupGateway(t *testing.T, clock *movableClock) (*gateway, *threads.Store, string) {
	t.Helper()
	dbURL := pgtest.URL(t)
	g, c := runGateway(t, "", dbURL, fmt.Sprintf(testConfig, dbURL)+followupConfig, clock.Now)
	tpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	staff, err := threads.NewStore(storeOptions(c, g.db, tpl, slog.New(slog.NewTextHandler(testWriter{t}, nil))))
	if err != nil {
		t.Fatal(err)
	}
	return g, staff, c.path
}

// openFollowupCase sends a first mail from addr and returns its case.
func openFollowupCase(t *testing.T, g *gateway, addr, tag string) int64 {
	t.Helper()
	raw := fmt.Sprintf("From: Customer <%s>\nTo: support@support.example.com\nSubject: Printer %s\nMessage-ID: <%s-1@customer.example>\nContent-Type: text/plain; charset=utf-8\n\nMy printer is on fire.\n", addr, tag, tag)
	if err := send(t, g.addr, addr, []string{"support@support.example.com"}, raw); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := g.db.Get(&id, `SELECT id FROM cases WHERE customer = $1`, addr); err != nil {
		t.Fatal(err)
	}
	waitMailsTo(t, addr, 1, g.maildir) // the acknowledgement
	return id
}

// reply sends the customer's answer to the mail m, threaded by In-Reply-To.
func reply(t *testing.T, g *gateway, addr, tag string, m *mail.Reader, text string) {
	t.Helper()
	id, _ := m.Header.MessageID()
	raw := fmt.Sprintf("From: Customer <%s>\nTo: support@support.example.com\nSubject: Re: your case\nMessage-ID: <%s@customer.example>\nIn-Reply-To: <%s>\nReferences: <%s>\nContent-Type: text/plain; charset=utf-8\n\n%s\n\n> quoted 1 of 5 earlier text\n", addr, tag, id, id, text)
	if err := send(t, g.addr, addr, []string{"support@support.example.com"}, raw); err != nil {
		t.Fatal(err)
	}
}

// withSubject returns the one mail among ms whose subject contains s.
func withSubject(t *testing.T, ms []*mail.Reader, s string) *mail.Reader {
	t.Helper()
	var found *mail.Reader
	for _, m := range ms {
		subject, err := m.Header.Subject()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(subject, s) {
			if found != nil {
				t.Fatalf("two mails with %q in the subject", s)
			}
			found = m
		}
	}
	if found == nil {
		t.Fatalf("no mail with %q in the subject", s)
	}
	return found
}

func statusOf(t *testing.T, db *sqlx.DB, id int64) string {
	t.Helper()
	var st string
	if err := db.Get(&st, `SELECT status FROM cases WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return st
}

// waitStatus waits (bounded) until case id has status want.
func waitStatus(t *testing.T, db *sqlx.DB, id int64, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for statusOf(t, db, id) != want {
		if time.Now().After(deadline) {
			t.Fatalf("case %d is %s, want %s", id, statusOf(t, db, id), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Resolve → resolution notice at once → nothing a minute before the delay →
// the follow-up at the delay → a low rating is recorded, reopens the case,
// tells staff and thanks the customer.
func TestFollowupLowRatingReopens(t *testing.T) {
	clock := &movableClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	g, staff, _ := startFollowupGateway(t, clock)
	ctx := context.Background()
	const ada = "ada@customer.example"
	id := openFollowupCase(t, g, ada, "low")
	staffBefore := len(mailsTo(t, "alice@example.com", g.maildir))

	resolvedAt := clock.Now()
	if err := staff.ChangeStatus(ctx, id, vocab.StatusResolved, "alice@example.com", "replaced the fuser"); err != nil {
		t.Fatal(err)
	}
	notice := withSubject(t, waitMailsTo(t, ada, 2, g.maildir), "resolved")
	if v := notice.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("resolution notice Auto-Submitted = %q", v)
	}
	if text := bodyText(t, notice); !strings.Contains(text, "marked your case") {
		t.Errorf("resolution notice text:\n%s", text)
	}
	if due := dueAt(t, g.db, id, "followup:ask"); !due.Equal(resolvedAt.Add(48 * time.Hour)) {
		t.Errorf("follow-up due %s, want resolution + 48h", due)
	}

	clock.Add(48*time.Hour - time.Minute)
	time.Sleep(300 * time.Millisecond) // several 50 ms sweeps: nothing may fire
	if n := len(mailsTo(t, ada, g.maildir)); n != 2 {
		t.Fatalf("%d mails to the customer a minute before the follow-up, want 2", n)
	}
	clock.Add(time.Minute)
	followup := withSubject(t, waitMailsTo(t, ada, 3, g.maildir), "did this fix it?")
	if ct, _, _ := followup.Header.ContentType(); ct != "multipart/alternative" {
		t.Errorf("follow-up Content-Type %s, want multipart/alternative (it has an HTML template)", ct)
	}
	if text := bodyText(t, followup); !strings.Contains(text, "reply with a number from 1") {
		t.Errorf("follow-up text:\n%s", text)
	}
	if due := dueAt(t, g.db, id, "followup:close"); !due.Equal(clock.Now().Add(96 * time.Hour)) {
		t.Errorf("close due %s, want follow-up + 96h", due)
	}

	clock.Add(time.Hour)
	reply(t, g, ada, "low-rating", followup, "2 it works but only half the time")
	waitStatus(t, g.db, id, "open")
	var r struct {
		Score    int    `db:"score"`
		Comment  string `db:"comment"`
		Reopened bool   `db:"reopened"`
	}
	if err := g.db.Get(&r, `SELECT score, comment, reopened FROM ratings WHERE case_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if r.Score != 2 || r.Comment != "it works but only half the time" || !r.Reopened {
		t.Errorf("rating = %+v", r)
	}
	thanks := withSubject(t, waitMailsTo(t, ada, 4, g.maildir), "thank you")
	if text := bodyText(t, thanks); !strings.Contains(text, "2 of 5") || !strings.Contains(text, "open again") {
		t.Errorf("rating thanks text:\n%s", text)
	}
	waitMailsTo(t, "alice@example.com", staffBefore+1, g.maildir) // staff hear of the reopening customer mail
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'reopened' AND detail LIKE 'rated 2 of 5%'`, id); n != 1 {
		t.Errorf("reopened events = %d, want 1", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM timers WHERE case_id = $1`, id); n != 0 {
		t.Errorf("%d timers left on the reopened case", n)
	}
	// The same answer delivered again records nothing more.
	reply(t, g, ada, "low-rating", followup, "2 it works but only half the time")
	if n := count(t, g.db, `SELECT count(*) FROM ratings`); n != 1 {
		t.Errorf("ratings = %d after a duplicate, want 1", n)
	}
}

// Three resolved cases: one whose customer writes before the follow-up
// (cancelled), one nobody answers (closed after close_after), one rated 5
// (closed at once, no close timer left).
func TestFollowupCancelledAutoClosedAndGoodRating(t *testing.T) {
	clock := &movableClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	g, staff, _ := startFollowupGateway(t, clock)
	ctx := context.Background()
	const (
		bea  = "bea@customer.example"
		cem  = "cem@customer.example"
		dora = "dora@customer.example"
	)
	early := openFollowupCase(t, g, bea, "early")
	silent := openFollowupCase(t, g, cem, "silent")
	happy := openFollowupCase(t, g, dora, "happy")
	for _, id := range []int64{early, silent, happy} {
		if err := staff.ChangeStatus(ctx, id, vocab.StatusResolved, "alice@example.com", ""); err != nil {
			t.Fatal(err)
		}
	}
	notice := withSubject(t, waitMailsTo(t, bea, 2, g.maildir), "resolved")
	waitMailsTo(t, cem, 2, g.maildir)
	waitMailsTo(t, dora, 2, g.maildir)

	// Bea writes again a day later: the case reopens and her follow-up is off.
	clock.Add(24 * time.Hour)
	reply(t, g, bea, "early-2", notice, "Sorry, one more question about the invoice.")
	waitStatus(t, g.db, early, "open")
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'followup-cancelled'`, early); n != 1 {
		t.Errorf("followup-cancelled events = %d, want 1", n)
	}

	clock.Add(24 * time.Hour) // 48h after the resolutions
	followup := withSubject(t, waitMailsTo(t, dora, 3, g.maildir), "did this fix it?")
	waitMailsTo(t, cem, 3, g.maildir)
	reply(t, g, dora, "happy-2", followup, "5/5 perfect, thank you!")
	waitStatus(t, g.db, happy, "closed")
	withSubject(t, waitMailsTo(t, dora, 4, g.maildir), "thank you")
	if n := count(t, g.db, `SELECT count(*) FROM ratings WHERE case_id = $1 AND score = 5 AND NOT reopened AND comment = 'perfect, thank you!'`, happy); n != 1 {
		t.Errorf("no 5-of-5 rating with its comment on case %d", happy)
	}

	clock.Add(96*time.Hour - time.Minute)
	time.Sleep(300 * time.Millisecond)
	if st := statusOf(t, g.db, silent); st != "resolved" {
		t.Fatalf("silent case is %s a minute before close_after, want resolved", st)
	}
	clock.Add(time.Minute)
	waitStatus(t, g.db, silent, "closed")
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'status' AND detail LIKE 'resolved → closed: no answer%'`, silent); n != 1 {
		t.Errorf("auto-close events = %d, want 1", n)
	}
	// Bea never got a follow-up; nothing is left to fire.
	if n := len(mailsTo(t, bea, g.maildir)); n != 2 {
		t.Errorf("%d mails to bea, want 2 (acknowledgement, resolution notice)", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM timers`); n != 0 {
		t.Errorf("%d timers left", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM followups WHERE step = 'ask'`); n != 2 {
		t.Errorf("follow-ups asked = %d, want 2", n)
	}
}

// A customer who writes in German (Content-Language) gets the German
// variants of the resolution notice and the follow-up, and can answer in
// German; the templates check command lists the variants and an override.
func TestFollowupInTheCustomersLanguage(t *testing.T) {
	clock := &movableClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	g, staff, path := startFollowupGateway(t, clock)
	const jo = "jo@kunde.example"
	raw := "From: Jo <jo@kunde.example>\nTo: support@support.example.com\nSubject: Drucker brennt\nMessage-ID: <jo-1@kunde.example>\nContent-Language: de-DE\nContent-Type: text/plain; charset=utf-8\n\nMein Drucker brennt.\n"
	if err := send(t, g.addr, jo, []string{"support@support.example.com"}, raw); err != nil {
		t.Fatal(err)
	}
	waitMailsTo(t, jo, 1, g.maildir)
	id := caseOf(t, g.db)
	if err := staff.ChangeStatus(context.Background(), id, vocab.StatusResolved, "alice@example.com", ""); err != nil {
		t.Fatal(err)
	}
	notice := withSubject(t, waitMailsTo(t, jo, 2, g.maildir), "gelöst") // RFC 2047 on the wire, decoded by go-message
	if text := bodyText(t, notice); !strings.Contains(text, "als gelöst markiert") {
		t.Errorf("German resolution notice:\n%s", text)
	}
	clock.Add(48 * time.Hour)
	followup := withSubject(t, waitMailsTo(t, jo, 3, g.maildir), "Hat das geholfen?")
	if ct, _, _ := followup.Header.ContentType(); ct != "multipart/alternative" {
		t.Errorf("German follow-up Content-Type %s: it has an HTML part, as the English one", ct)
	}
	reply(t, g, jo, "jo-2", followup, "3 nicht gelöst, leider")
	waitStatus(t, g.db, id, "open")
	if n := count(t, g.db, `SELECT count(*) FROM ratings WHERE case_id = $1 AND score = 3 AND reopened`, id); n != 1 {
		t.Errorf("no reopening rating 3 with \"nicht gelöst\"")
	}
	withSubject(t, waitMailsTo(t, jo, 4, g.maildir), "vielen Dank")

	// templates check with an override directory.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rating-thanks.txt.tmpl"), []byte("Subject: Thanks [#{{.Case}}]\n\n{{.Score}}\n"), 0o644)
	cfg, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(cfg), "[followup]", fmt.Sprintf("[templates]\ndir = %q\n[followup]", dir), 1)), 0o600)
	var out strings.Builder
	if err := run(context.Background(), []string{"templates", "check", "-config", path}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatalf("templates check: %v\n%s", err, out.String())
	}
	for _, want := range []string{"followup [de]", "rating-thanks ", filepath.Join(dir, "rating-thanks.txt.tmpl"), "HTML default/followup.html.tmpl", "1 from " + dir} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("templates check output lacks %q:\n%s", want, out.String())
		}
	}
	os.WriteFile(filepath.Join(dir, "followup.txt.tmpl"), []byte("Subject: x\n\nfine\n{{.Nope}}\n"), 0o644)
	out.Reset()
	err := run(context.Background(), []string{"templates", "check", "-config", path}, func(string) string { return "" }, &out, &out)
	if ce, ok := err.(*configError); !ok || !strings.Contains(ce.Error(), "followup.txt.tmpl:4:") {
		t.Errorf("broken template: err = %v, want a configuration error naming followup.txt.tmpl:4", err)
	}
}
