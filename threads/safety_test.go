package threads

import (
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

// Concurrent new cases from one address never exceed the cap: the check
// and the queueing are serialised per address in the database.
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
	var acks, notices int
	db.Get(&acks, `SELECT count(*) FROM deliveries WHERE recipient = 'ada@customer.example'`)
	// Safety notices, not the notifications of each new case.
	db.Get(&notices, `SELECT count(*) FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
		WHERE d.recipient = 'alice@example.com' AND position('Subject: [casegate]' in convert_from(o.raw, 'UTF8')) > 0`)
	if acks != 1 || notices != 1 {
		t.Errorf("acknowledgements = %d, staff notices = %d; want 1 and 1", acks, notices)
	}
}

// A hard bounce suppresses automatic mail for the configured period only;
// the cap counts the last 24 hours only.
func TestSuppressionAndCapExpire(t *testing.T) {
	s, db, clock := newSafetyStore(t, SafetyOptions{MaxAutoRepliesPerDay: 1, BounceSuppression: 48 * time.Hour})
	first := mustFile(t, s, inbound("e-1@x", "ada@customer.example", "one", "one"))
	var delivery int64
	db.Get(&delivery, `SELECT id FROM deliveries`)
	bounce := inbound("b-1@x", "mailer-daemon@mx.example", "Undelivered", "bounce")
	bounce.Recipients = []string{s.BounceAddress(delivery)}
	bounce.Automatic = true
	bounce.DSN = &DSN{Recipients: []DSNRecipient{{Recipient: "rfc822; ada@customer.example", Action: "failed", Status: "5.1.1"}}}
	if f := mustFile(t, s, bounce); f.Bounce != delivery || f.Case != first.Case || f.NewCase {
		t.Fatalf("bounce filed as %+v", f)
	}
	clock.Advance(25 * time.Hour) // past the cap window, inside the suppression
	mustFile(t, s, inbound("e-2@x", "ada@customer.example", "two", "two"))
	clock.Advance(24 * time.Hour) // past the suppression
	mustFile(t, s, inbound("e-3@x", "ada@customer.example", "three", "three"))
	var acks int
	db.Get(&acks, `SELECT count(*) FROM deliveries WHERE recipient = 'ada@customer.example'`)
	if acks != 2 {
		t.Errorf("acknowledgements = %d, want 2 (the first, and the one after suppression ended)", acks)
	}
}
