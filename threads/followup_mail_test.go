package threads_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"casegate/internal/gatewaytest"
	"casegate/threads"
	"casegate/vocab"
)

// startFollowupGateway starts a gateway on clock with no escalation rules,
// so only the follow-up moves, and a short follow-up delay to show the
// settings take effect; it returns a second Store on the same database
// (as the admin CLI builds one) for staff actions.
func startFollowupGateway(t *testing.T, clock *gatewaytest.Clock) (*gatewaytest.Gateway, *threads.Store) {
	t.Helper()
	g := gatewaytest.Start(t, gatewaytest.Options{Clock: clock,
		Followup: threads.FollowupOptions{Delay: 48 * time.Hour, CloseAfter: 96 * time.Hour, ReopenAtOrBelow: 2}})
	return g, g.SecondStore(t)
}

func statusOf(t *testing.T, g *gatewaytest.Gateway, id int64) string {
	t.Helper()
	return g.Case(t, id).Status
}

// Resolve → resolution notice at once → nothing a minute before the delay →
// the follow-up at the delay → a low rating is recorded, reopens the case,
// tells staff and thanks the customer.
func TestFollowupLowRatingReopens(t *testing.T) {
	clock := gatewaytest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	g, staff := startFollowupGateway(t, clock)
	ctx := context.Background()
	const ada = "ada@customer.example"
	id := g.OpenCase(t, ada, "low")
	staffBefore := len(g.Relay.To(t, "alice@example.com"))

	resolvedAt := clock.Now()
	if err := staff.ChangeStatus(ctx, id, vocab.StatusResolved, "alice@example.com", "replaced the fuser"); err != nil {
		t.Fatal(err)
	}
	notice := gatewaytest.WithSubject(t, g.Relay.WaitTo(t, ada, 2), "resolved")
	if v := notice.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("resolution notice Auto-Submitted = %q", v)
	}
	if text := notice.Text; !strings.Contains(text, "marked your case") {
		t.Errorf("resolution notice text:\n%s", text)
	}
	if due := dueAt(t, g, id, "followup:ask"); !due.Equal(resolvedAt.Add(48 * time.Hour)) {
		t.Errorf("follow-up due %s, want resolution + 48h", due)
	}

	clock.Add(48*time.Hour - time.Minute)
	time.Sleep(300 * time.Millisecond) // several 50 ms sweeps: nothing may fire
	if n := len(g.Relay.To(t, ada)); n != 2 {
		t.Fatalf("%d mails to the customer a minute before the follow-up, want 2", n)
	}
	clock.Add(time.Minute)
	followup := gatewaytest.WithSubject(t, g.Relay.WaitTo(t, ada, 3), "did this fix it?")
	if ct, _, _ := followup.Header.ContentType(); ct != "multipart/alternative" {
		t.Errorf("follow-up Content-Type %s, want multipart/alternative (it has an HTML template)", ct)
	}
	if text := followup.Text; !strings.Contains(text, "reply with a number from 1") {
		t.Errorf("follow-up text:\n%s", text)
	}
	if due := dueAt(t, g, id, "followup:close"); !due.Equal(clock.Now().Add(96 * time.Hour)) {
		t.Errorf("close due %s, want follow-up + 96h", due)
	}

	clock.Add(time.Hour)
	g.Reply(t, ada, "low-rating", followup, "2 it works but only half the time")
	g.WaitStatus(t, id, "open")
	var r struct {
		Score    int    `db:"score"`
		Comment  string `db:"comment"`
		Reopened bool   `db:"reopened"`
	}
	if err := g.DB.Get(&r, `SELECT score, comment, reopened FROM ratings WHERE case_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if r.Score != 2 || r.Comment != "it works but only half the time" || !r.Reopened {
		t.Errorf("rating = %+v", r)
	}
	thanks := gatewaytest.WithSubject(t, g.Relay.WaitTo(t, ada, 4), "thank you")
	if text := thanks.Text; !strings.Contains(text, "2 of 5") || !strings.Contains(text, "open again") {
		t.Errorf("rating thanks text:\n%s", text)
	}
	g.Relay.WaitTo(t, "alice@example.com", staffBefore+1) // staff hear of the reopening customer mail
	if n := g.Count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'reopened' AND detail LIKE 'rated 2 of 5%'`, id); n != 1 {
		t.Errorf("reopened events = %d, want 1", n)
	}
	if n := g.Count(t, `SELECT count(*) FROM timers WHERE case_id = $1`, id); n != 0 {
		t.Errorf("%d timers left on the reopened case", n)
	}
	// The same answer delivered again records nothing more.
	g.Reply(t, ada, "low-rating", followup, "2 it works but only half the time")
	if n := g.Count(t, `SELECT count(*) FROM ratings`); n != 1 {
		t.Errorf("ratings = %d after a duplicate, want 1", n)
	}
}

// Three resolved cases: one whose customer writes before the follow-up
// (cancelled), one nobody answers (closed after close_after), one rated 5
// (closed at once, no close timer left).
func TestFollowupCancelledAutoClosedAndGoodRating(t *testing.T) {
	clock := gatewaytest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	g, staff := startFollowupGateway(t, clock)
	ctx := context.Background()
	const (
		bea  = "bea@customer.example"
		cem  = "cem@customer.example"
		dora = "dora@customer.example"
	)
	early := g.OpenCase(t, bea, "early")
	silent := g.OpenCase(t, cem, "silent")
	happy := g.OpenCase(t, dora, "happy")
	for _, id := range []int64{early, silent, happy} {
		if err := staff.ChangeStatus(ctx, id, vocab.StatusResolved, "alice@example.com", ""); err != nil {
			t.Fatal(err)
		}
	}
	notice := gatewaytest.WithSubject(t, g.Relay.WaitTo(t, bea, 2), "resolved")
	g.Relay.WaitTo(t, cem, 2)
	g.Relay.WaitTo(t, dora, 2)

	// Bea writes again a day later: the case reopens and her follow-up is off.
	clock.Add(24 * time.Hour)
	g.Reply(t, bea, "early-2", notice, "Sorry, one more question about the invoice.")
	g.WaitStatus(t, early, "open")
	if n := g.Count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'followup-cancelled'`, early); n != 1 {
		t.Errorf("followup-cancelled events = %d, want 1", n)
	}

	clock.Add(24 * time.Hour) // 48h after the resolutions
	followup := gatewaytest.WithSubject(t, g.Relay.WaitTo(t, dora, 3), "did this fix it?")
	g.Relay.WaitTo(t, cem, 3)
	g.Reply(t, dora, "happy-2", followup, "5/5 perfect, thank you!")
	g.WaitStatus(t, happy, "closed")
	gatewaytest.WithSubject(t, g.Relay.WaitTo(t, dora, 4), "thank you")
	if n := g.Count(t, `SELECT count(*) FROM ratings WHERE case_id = $1 AND score = 5 AND NOT reopened AND comment = 'perfect, thank you!'`, happy); n != 1 {
		t.Errorf("no 5-of-5 rating with its comment on case %d", happy)
	}

	clock.Add(96*time.Hour - time.Minute)
	time.Sleep(300 * time.Millisecond)
	if st := statusOf(t, g, silent); st != "resolved" {
		t.Fatalf("silent case is %s a minute before close_after, want resolved", st)
	}
	clock.Add(time.Minute)
	g.WaitStatus(t, silent, "closed")
	if n := g.Count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'status' AND detail LIKE 'resolved → closed: no answer%'`, silent); n != 1 {
		t.Errorf("auto-close events = %d, want 1", n)
	}
	// Bea never got a follow-up; nothing is left to fire.
	if n := len(g.Relay.To(t, bea)); n != 2 {
		t.Errorf("%d mails to bea, want 2 (acknowledgement, resolution notice)", n)
	}
	if n := g.Count(t, `SELECT count(*) FROM timers`); n != 0 {
		t.Errorf("%d timers left", n)
	}
	if n := g.Count(t, `SELECT count(*) FROM followups WHERE step = 'ask'`); n != 2 {
		t.Errorf("follow-ups asked = %d, want 2", n)
	}
}

// A customer who writes in German (Content-Language) gets the German
// variants of the resolution notice and the follow-up, and can answer in
// German. (That `casegate templates check` lists the variants and an
// override is cmd/casegate's TestTemplatesCheckListsVariantsAndOverrides.)
func TestFollowupInTheCustomersLanguage(t *testing.T) {
	clock := gatewaytest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	g, staff := startFollowupGateway(t, clock)
	const jo = "jo@kunde.example"
	raw := "From: Jo <jo@kunde.example>\nTo: support@support.example.com\nSubject: Drucker brennt\nMessage-ID: <jo-1@kunde.example>\nContent-Language: de-DE\nContent-Type: text/plain; charset=utf-8\n\nMein Drucker brennt.\n"
	if err := g.Send(t, jo, []string{"support@support.example.com"}, raw); err != nil {
		t.Fatal(err)
	}
	g.Relay.WaitTo(t, jo, 1)
	id := gatewaytest.OnlyCase(t, g.DB)
	if err := staff.ChangeStatus(context.Background(), id, vocab.StatusResolved, "alice@example.com", ""); err != nil {
		t.Fatal(err)
	}
	notice := gatewaytest.WithSubject(t, g.Relay.WaitTo(t, jo, 2), "gelöst") // RFC 2047 on the wire, decoded by go-message
	if text := notice.Text; !strings.Contains(text, "als gelöst markiert") {
		t.Errorf("German resolution notice:\n%s", text)
	}
	clock.Add(48 * time.Hour)
	followup := gatewaytest.WithSubject(t, g.Relay.WaitTo(t, jo, 3), "Hat das geholfen?")
	if ct, _, _ := followup.Header.ContentType(); ct != "multipart/alternative" {
		t.Errorf("German follow-up Content-Type %s: it has an HTML part, as the English one", ct)
	}
	g.Reply(t, jo, "jo-2", followup, "3 nicht gelöst, leider")
	g.WaitStatus(t, id, "open")
	if n := g.Count(t, `SELECT count(*) FROM ratings WHERE case_id = $1 AND score = 3 AND reopened`, id); n != 1 {
		t.Errorf("no reopening rating 3 with \"nicht gelöst\"")
	}
	gatewaytest.WithSubject(t, g.Relay.WaitTo(t, jo, 4), "vielen Dank")
}
