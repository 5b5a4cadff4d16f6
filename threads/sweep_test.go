package threads

import (
	"casegate/vocab"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A sweep that dies in the middle of writing its batch (its connection
// killed after the firings are written, before the intents) leaves
// nothing: the next sweep fires every rule once, with one digest each.
func TestSweepKilledMidBatchLosesAndDoublesNothing(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	s := escalationStore(t, nil, clock, []Rule{{Name: "first", When: WhenNoStaffReply, After: time.Hour, Actions: []Action{{Kind: ActionCCPR}}}})
	db := s.opts.DB
	const cases = 20
	for i := 0; i < cases; i++ {
		mustFile(t, s, inbound(fmt.Sprintf("k%d@x", i), fmt.Sprintf("k%d@customer.example", i), "Help", fmt.Sprintf("body %d", i)))
	}
	compose(t, s)
	clock.Advance(2 * time.Hour)
	// The batch stalls when it writes its intents: after it wrote the
	// escalations.
	db.MustExec(`CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(600); RETURN NULL; END $$`)
	db.MustExec(`CREATE TRIGGER stall BEFORE INSERT ON intents FOR EACH STATEMENT EXECUTE FUNCTION stall()`)
	w := NewSweeper(s, SweeperOptions{BatchSize: 100})
	done := make(chan error, 1)
	go func() {
		_, err := w.SweepOnce(context.Background())
		done <- err
	}()
	var pid int
	for deadline := time.Now().Add(60 * time.Second); pid == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the sweep never reached the intents")
		}
		db.Get(&pid, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'`)
	}
	if n := countRows(t, db, `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.pid = $1 AND l.relation = 'escalations'::regclass`, pid); n == 0 {
		t.Fatal("the stalled sweep has not written escalations yet: the test kills it too early to mean anything")
	}
	db.MustExec(`SELECT pg_terminate_backend($1)`, pid)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the killed sweep reported success")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the killed sweep did not return")
	}
	for what, q := range map[string]string{
		"escalations": `SELECT count(*) FROM escalations`,
		"digests":     `SELECT count(*) FROM intents WHERE kind = 'escalation-digest'`,
		"events":      `SELECT count(*) FROM events WHERE kind IN ('escalated', 'digest')`,
	} {
		if n := countRows(t, db, q); n != 0 {
			t.Errorf("the killed sweep left %d %s", n, what)
		}
	}
	if n := countRows(t, db, `SELECT count(*) FROM timers WHERE due_at <= $1`, clock.Now()); n != cases {
		t.Errorf("%d due timers after the killed sweep, want %d", n, cases)
	}
	db.MustExec(`DROP TRIGGER stall ON intents`)
	for {
		n, err := w.SweepOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if n := countRows(t, db, `SELECT count(*) FROM escalations`); n != cases {
		t.Errorf("escalations = %d, want %d", n, cases)
	}
	if n := outboxTo(t, s, "pr@example.com"); n != cases {
		t.Errorf("digests = %d, want %d", n, cases)
	}
	if n := countRows(t, db, `SELECT count(*) FROM events WHERE kind = 'digest'`); n != cases {
		t.Errorf("digest events = %d, want %d", n, cases)
	}
}

// A rule that fires at once sends PR a digest decided with the mail that
// opened the case; rendered after the commit, its timeline includes that
// filing's own events.
func TestDigestSeesTheEventsOfItsOwnFiling(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	rules := []Rule{{Name: "press", Category: vocab.CategoryJournalist, When: WhenOpened, Actions: []Action{mustAction(t, "cc_pr")}}}
	s := escalationStore(t, nil, clock, rules)
	in := inbound("story@news.example", "lois@news.example", "Exploding printers", "For a story tomorrow.")
	in.Category = vocab.CategoryJournalist
	f := mustFile(t, s, in)
	compose(t, s)
	var digest []byte
	if err := s.opts.DB.Get(&digest, `SELECT o.raw FROM outbox o JOIN deliveries d ON d.outbox_id = o.id
		WHERE d.recipient = 'pr@example.com' AND position('Escalated:' in convert_from(o.raw, 'UTF8')) > 0`); err != nil {
		t.Fatalf("no digest to PR: %v", err)
	}
	for _, want := range []string{"opened by lois@news.example: new case from", "classified by casegate: journalist, risk none", "For a story tomorrow."} {
		if !strings.Contains(string(digest), want) {
			t.Errorf("digest of case %d lacks %q:\n%s", f.Case, want, digest)
		}
	}
}
