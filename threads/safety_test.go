package threads

import (
	"casegate/vocab"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

func newSafetyStore(t *testing.T, safety SafetyOptions) (*Store, *sqlx.DB, *testClock) {
	t.Helper()
	return newStoreWith(t, func(o *Options) {
		o.Safety = safety
		o.StaffAddresses = []string{"alice@example.com"}
	})
}

// Concurrent new cases from one address never exceed the cap: one
// committer decides every answer to one address, in order, with no lock
// held across a commit.
func TestAutoReplyCapHoldsUnderConcurrency(t *testing.T) {
	s, db, _ := newSafetyStore(t, SafetyOptions{MaxAutoRepliesPerDay: 1})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.File(context.Background(), inbound(fmt.Sprintf("c-%d@x", i), "ada@customer.example", fmt.Sprintf("problem %d", i), fmt.Sprintf("body %d", i)))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	compose(t, s)
	var acks, notices int
	db.Get(&acks, `SELECT count(*) FROM deliveries WHERE recipient = 'ada@customer.example'`)
	// Safety notices, not the notifications of each new case.
	db.Get(&notices, `SELECT count(*) FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
		WHERE d.recipient = 'alice@example.com' AND position('Automatic replies to ada@customer.example paused' in convert_from(o.raw, 'UTF8')) > 0`)
	if acks != 1 || notices != 1 {
		t.Errorf("acknowledgements = %d, staff notices = %d; want 1 and 1", acks, notices)
	}
}

// A hard bounce suppresses automatic mail for the configured period only;
// the cap counts the last 24 hours only.
func TestSuppressionAndCapExpire(t *testing.T) {
	s, db, clock := newSafetyStore(t, SafetyOptions{MaxAutoRepliesPerDay: 1, BounceSuppression: 48 * time.Hour})
	first := mustFile(t, s, inbound("e-1@x", "ada@customer.example", "one", "one"))
	compose(t, s)
	var delivery int64
	db.Get(&delivery, `SELECT id FROM deliveries WHERE recipient = 'ada@customer.example'`)
	bounce := inbound("b-1@x", "mailer-daemon@mx.example", "Undelivered", "bounce")
	bounce.Recipients = []string{s.BounceAddress(delivery)}
	bounce.Automatic = true
	bounce.DSN = &vocab.DSN{Recipients: []vocab.DSNRecipient{{Recipient: "rfc822; ada@customer.example", Action: "failed", Status: "5.1.1"}}}
	if f := mustFile(t, s, bounce); f.Bounce != delivery || f.Case != first.Case || f.NewCase {
		t.Fatalf("bounce filed as %+v", f)
	}
	clock.Advance(25 * time.Hour) // past the cap window, inside the suppression
	mustFile(t, s, inbound("e-2@x", "ada@customer.example", "two", "two"))
	clock.Advance(24 * time.Hour) // past the suppression
	mustFile(t, s, inbound("e-3@x", "ada@customer.example", "three", "three"))
	compose(t, s)
	var acks int
	db.Get(&acks, `SELECT count(*) FROM deliveries WHERE recipient = 'ada@customer.example'`)
	if acks != 2 {
		t.Errorf("acknowledgements = %d, want 2 (the first, and the one after suppression ended)", acks)
	}
}

// The same with the committers running (the gateway's way): concurrent
// sessions of one sender share batches, and the cap still holds.
func TestAutoReplyCapHoldsUnderGroupCommit(t *testing.T) {
	s, db, _ := newSafetyStore(t, SafetyOptions{MaxAutoRepliesPerDay: 3})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.File(context.Background(), inbound(fmt.Sprintf("g-%d@x", i), "victim@customer.example", "status", fmt.Sprintf("body %d", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	cancel()
	<-done
	compose(t, s)
	var acks int
	db.Get(&acks, `SELECT count(*) FROM deliveries WHERE recipient = 'victim@customer.example'`)
	if acks != 3 {
		t.Errorf("automatic mails to one address = %d, want the cap, 3", acks)
	}
}
