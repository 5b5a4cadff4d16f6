package threads

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// eventKinds lists the kinds of case id's events in the order written.
func eventKinds(t *testing.T, db *sqlx.DB, id int64) []string {
	t.Helper()
	var kinds []string
	if err := db.Select(&kinds, `SELECT kind FROM events WHERE case_id = $1 ORDER BY id`, id); err != nil {
		t.Fatal(err)
	}
	return kinds
}

// A filing's events are buffered and written in one statement before the
// commit: they must all be there, in the order they happened, with the
// messages they name.
func TestFilingWritesItsEventsInOrder(t *testing.T) {
	s, db, clock := newStore(t)
	f := mustFile(t, s, inbound("first@customer.example", "ada@customer.example", "Printer on fire", "It burns."))
	want := []string{"opened", "classified", "acknowledged", "not-notified"} // no staff addresses configured
	if got := eventKinds(t, db, f.Case); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events = %v, want %v", got, want)
	}
	var linked int
	if err := db.Get(&linked, `SELECT count(*) FROM events e JOIN messages m ON m.id = e.message_id
		WHERE e.case_id = $1 AND (e.kind = 'opened' AND m.direction = 'inbound' OR e.kind = 'acknowledged' AND m.direction = 'outbound')`, f.Case); err != nil {
		t.Fatal(err)
	}
	if linked != 2 {
		t.Errorf("%d of the opened and acknowledged events name their message, want 2", linked)
	}
	clock.Advance(time.Minute)
	reply := inbound("second@customer.example", "ada@customer.example", "Re: Printer on fire", "Still burning.")
	reply.InReplyTo = []string{"first@customer.example"}
	mustFile(t, s, reply)
	want = append(want, "received", "not-notified")
	if got := eventKinds(t, db, f.Case); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events after the reply = %v, want %v", got, want)
	}
}

// Events buffered by a batch that fails are not written: they roll back
// with the batch, and the messages filed again on their own write theirs
// once.
func TestFailedBatchLeavesNoEvents(t *testing.T) {
	s, db, _ := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	good := inbound("good@customer.example", "ada@customer.example", "Help", "Please.")
	bad := inbound("bad@customer.example", "bob@customer.example", "Help too", "Please too.")
	bad.BodySHA256 = nil // refused by fileInTx: the shared transaction rolls back
	batch := []fileRequest{
		{ctx: context.Background(), in: good, reply: make(chan fileResult, 1)},
		{ctx: context.Background(), in: bad, reply: make(chan fileResult, 1)},
	}
	s.fileBatch(batch)
	if r := <-batch[0].reply; r.err != nil {
		t.Fatalf("good message: %v", r.err)
	}
	if r := <-batch[1].reply; r.err == nil {
		t.Fatal("bad message filed")
	}
	if n := countRows(t, db, `SELECT count(*) FROM events WHERE kind = 'opened'`); n != 1 {
		t.Errorf("%d opened events, want 1: the rolled-back batch's buffer must not be written", n)
	}
}

// A rule that fires at once sends PR a digest in the same transaction as
// the mail that opened the case: its timeline must include that filing's
// own events, which are still buffered when the digest is written.
func TestDigestSeesTheEventsOfItsOwnFiling(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	rules := []Rule{{Name: "press", Category: CategoryJournalist, When: WhenOpened, Actions: []Action{mustAction(t, "cc_pr")}}}
	s := escalationStore(t, nil, clock, rules)
	in := inbound("story@news.example", "lois@news.example", "Exploding printers", "For a story tomorrow.")
	in.Category = CategoryJournalist
	f := mustFile(t, s, in)
	var digest []byte
	if err := s.opts.DB.Get(&digest, `SELECT o.raw FROM outbox o JOIN deliveries d ON d.outbox_id = o.id
		WHERE d.recipient = 'pr@example.com'`); err != nil {
		t.Fatalf("no digest to PR: %v", err)
	}
	for _, want := range []string{"opened by lois@news.example: new case from", "classified by casegate: journalist, risk none"} {
		if !strings.Contains(string(digest), want) {
			t.Errorf("digest of case %d lacks %q:\n%s", f.Case, want, digest)
		}
	}
}
