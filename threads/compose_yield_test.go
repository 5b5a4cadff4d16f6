package threads

import (
	"context"
	"testing"
	"time"
)

// TestComposerYieldsToFiling: while a session waits for its filing to
// commit, rendering waits (up to Yield) so a burst's 250s come first; it
// never waits longer than Yield, and alone it renders at once.
func TestComposerYieldsToFiling(t *testing.T) {
	s, db, _ := newStore(t)
	pending := func() (n int) {
		t.Helper()
		if err := db.Get(&n, `SELECT count(*) FROM intents WHERE rendered_at IS NULL`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	mustFile(t, s, inbound("yield-a@x", "ada@customer.example", "Printer", "It smokes."))
	if pending() == 0 {
		t.Fatal("a new case left no intent to render")
	}

	// A session whose filing cannot commit yet: its write waits for a lock
	// on search_queue, which rendering never touches.
	lock, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.Exec(`LOCK TABLE search_queue IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	filed := make(chan error, 1)
	go func() {
		_, err := s.File(context.Background(), inbound("yield-b@x", "bob@customer.example", "Router", "It blinks."))
		filed <- err
	}()
	for i := 0; !s.Filing(); i++ {
		if i == 500 {
			t.Fatal("the second filing never started")
		}
		time.Sleep(2 * time.Millisecond)
	}

	const yield = 1500 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- s.RunComposer(ctx, ComposerOptions{Yield: yield, Poll: time.Hour}) }()
	defer func() { cancel(); <-done }()

	time.Sleep(yield / 3)
	if n := pending(); n == 0 {
		t.Errorf("rendered after %s while a session waited for its commit", time.Since(start).Round(time.Millisecond))
	}
	for pending() > 0 {
		if time.Since(start) > yield+3*time.Second {
			t.Fatalf("still nothing rendered %s after the composer started: yielding is not bounded", time.Since(start).Round(time.Millisecond))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if waited := time.Since(start); waited < yield*9/10 {
		t.Errorf("rendered after %s, before Yield (%s), while the session still waited", waited.Round(time.Millisecond), yield)
	}

	// The lock goes; the waiting filing commits and, with nobody waiting,
	// its mail is rendered at once.
	lock.Rollback()
	if err := <-filed; err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	for pending() > 0 {
		if time.Since(committed) > yield*2/3 {
			t.Fatalf("the last filing's mail waited %s with no session filing", time.Since(committed).Round(time.Millisecond))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
