package threads

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate/internal/pgtest"
	"casegate/templates"
	"casegate/vocab"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testClock is a clock tests can move.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func newStore(t *testing.T) (*Store, *sqlx.DB, *testClock) {
	t.Helper()
	return newStoreWith(t, nil)
}

// newStoreWith is newStore with Options changed by adjust first.
func newStoreWith(t *testing.T, adjust func(*Options)) (*Store, *sqlx.DB, *testClock) {
	t.Helper()
	db := pgtest.DB(t)
	tpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	opts := Options{
		DB:        db,
		Templates: tpl,
		Support:   mail.Address{Name: "Example Support", Address: "support@support.example.com"},
		Secret:    []byte("test-secret-0123456789"),
		Now:       clock.Now,
	}
	if adjust != nil {
		adjust(&opts)
	}
	s, err := NewStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, db, clock
}

// inbound builds a parsed message as mailin would.
func inbound(id, from, subject, body string) *vocab.Inbound {
	sum := sha256.Sum256([]byte(body))
	return &vocab.Inbound{
		Raw:        []byte("Message-ID: <" + id + ">\r\n\r\n" + body),
		BodySHA256: sum[:],
		Source:     "test",
		Recipients: []string{"support@support.example.com"},
		MessageID:  id,
		From:       mail.Address{Address: from},
		Subject:    subject,
		Text:       body,
		NewText:    body,
	}
}

func mustFile(t *testing.T, s *Store, in *vocab.Inbound) vocab.Filed {
	t.Helper()
	f, err := s.File(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestThreadingOrder(t *testing.T) {
	s, db, _ := newStore(t)
	first := mustFile(t, s, inbound("a@x", "ada@customer.example", "Help", "one"))
	if !first.NewCase {
		t.Fatal("first message did not open a case")
	}
	tag := fmt.Sprintf("Re: Help [#%d]", first.Case)

	// A subject tag from a participant joins the case ...
	if f := mustFile(t, s, inbound("b@x", "ADA@customer.example", tag, "two")); f.Case != first.Case || f.NewCase {
		t.Errorf("tag from participant: %+v", f)
	}
	// ... from a stranger it opens a new case: a tag alone grants nothing.
	if f := mustFile(t, s, inbound("c@x", "eve@elsewhere.example", tag, "three")); !f.NewCase {
		t.Errorf("tag from stranger joined case %d", f.Case)
	}
	// References to a message we sent thread the mail whoever sends it
	// (its id is unguessable); to a message we received, only from a
	// participant, so a reused Message-ID merges no stranger's mail.
	var ackID string
	db.Get(&ackID, `SELECT message_id FROM intents WHERE kind = 'acknowledgement' ORDER BY id LIMIT 1`)
	in := inbound("d@x", "bob@customer.example", "fwd", "four")
	in.References = []string{"unknown@x", ackID}
	if f := mustFile(t, s, in); f.Case != first.Case {
		t.Errorf("references: case %d, want %d", f.Case, first.Case)
	}
	in = inbound("d2@x", "mallory@elsewhere.example", "fwd", "four-b")
	in.References = []string{"a@x"}
	if f := mustFile(t, s, in); !f.NewCase {
		t.Errorf("stranger referencing a customer's Message-ID joined case %d", f.Case)
	}
	// A valid reply token wins; a forged one is ignored.
	in = inbound("e@x", "carol@customer.example", "hello", "five")
	in.Recipients = []string{s.ReplyAddress(first.Case, vocab.RoleCustomer)}
	if f := mustFile(t, s, in); f.Case != first.Case {
		t.Errorf("token: case %d, want %d", f.Case, first.Case)
	}
	in = inbound("f@x", "carol@customer.example", "hello", "six")
	in.Recipients = []string{fmt.Sprintf("support+%d-000000000000@support.example.com", first.Case)}
	if f := mustFile(t, s, in); !f.NewCase {
		t.Errorf("forged token joined case %d", f.Case)
	}
	var acks int
	db.Get(&acks, `SELECT count(*) FROM intents WHERE kind = 'acknowledgement'`)
	if acks != 4 {
		t.Errorf("acknowledgements = %d, want 4 (one per new case)", acks)
	}
}

func TestAutomaticMailIsFiledNotAnswered(t *testing.T) {
	s, db, _ := newStore(t)
	in := inbound("auto@x", "robot@customer.example", "Out of office", "away")
	in.Automatic, in.Why = true, "Auto-Submitted: auto-replied"
	f := mustFile(t, s, in)
	var outbox, events int
	db.Get(&outbox, `SELECT count(*) FROM intents`)
	db.Get(&events, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'not-acknowledged'`, f.Case)
	if outbox != 0 || events != 1 {
		t.Errorf("outbox = %d, not-acknowledged events = %d; want 0 and 1", outbox, events)
	}
}

func TestConcurrentDuplicatesFileOnce(t *testing.T) {
	s, db, _ := newStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.File(context.Background(), inbound("same@x", "ada@customer.example", "Hi", "body"))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	var msgs, cases, outbox int
	db.Get(&msgs, `SELECT count(*) FROM messages WHERE direction = 'inbound'`)
	db.Get(&cases, `SELECT count(*) FROM cases`)
	db.Get(&outbox, `SELECT count(*) FROM intents WHERE kind = 'acknowledgement'`)
	if msgs != 1 || cases != 1 || outbox != 1 {
		t.Errorf("messages=%d cases=%d outbox=%d, want 1 each", msgs, cases, outbox)
	}
}

func TestStatusChanges(t *testing.T) {
	s, _, clock := newStoreWith(t, func(o *Options) { o.StaffAddresses = []string{"bob@example.com"} })
	ctx := context.Background()
	f := mustFile(t, s, inbound("a@x", "ada@customer.example", "Help", "one"))
	if err := s.ChangeStatus(ctx, f.Case, vocab.StatusResolved, "alice@example.com", "fixed"); err != nil {
		t.Fatal(err)
	}
	c, _ := s.GetCase(ctx, f.Case)
	if c.Status != vocab.StatusResolved || !c.ResolvedAt.Valid {
		t.Errorf("after resolve: %+v", c)
	}
	if err := s.ChangeStatus(ctx, f.Case, vocab.StatusPending, "alice@example.com", ""); !errors.Is(err, ErrInvalidTransition) {
		t.Errorf("resolved → pending: %v, want ErrInvalidTransition", err)
	}
	// The customer writes again: the case reopens.
	clock.Advance(time.Hour)
	in := inbound("b@x", "ada@customer.example", fmt.Sprintf("Re: Help [#%d]", f.Case), "still broken")
	mustFile(t, s, in)
	if c, _ := s.GetCase(ctx, f.Case); c.Status != vocab.StatusOpen || c.ResolvedAt.Valid {
		t.Errorf("after customer reply: %+v", c)
	}
	if err := s.SetPriority(ctx, f.Case, vocab.PriorityUrgent, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := s.Assign(ctx, f.Case, "eve@outside.example", "alice@example.com"); !errors.Is(err, ErrNotStaff) {
		t.Errorf("assign outside the staff directory: %v, want ErrNotStaff", err)
	}
	if err := s.Assign(ctx, f.Case, "Bob@Example.com", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddNote(ctx, f.Case, "alice@example.com", "called the customer"); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.GetCase(ctx, f.Case); c.Priority != vocab.PriorityUrgent || c.Assignee != "bob@example.com" {
		t.Errorf("priority/assignee: %+v", c)
	}
	if err := s.ChangeStatus(ctx, 999999, vocab.StatusOpen, "x", ""); !errors.Is(err, ErrNoCase) {
		t.Errorf("missing case: %v", err)
	}
	// Only staff can be given a case (the customer's next mail would go to
	// whoever has it).
	if err := s.Assign(ctx, f.Case, "eve@elsewhere.example", "alice@example.com"); !errors.Is(err, ErrNotStaff) {
		t.Errorf("assign to a stranger: %v, want ErrNotStaff", err)
	}
}
