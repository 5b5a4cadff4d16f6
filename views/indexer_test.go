package views

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestIndexerYieldsToFiling: while a session waits for its filing to
// commit (threads.Store.Filing, as the service wires it), the search index
// waits too, but never more than Yield after its last round; when filing
// is quiet, mail is indexed at the next Poll.
func TestIndexerYieldsToFiling(t *testing.T) {
	f := newFixture(t, nil)
	queued := func() (n int) {
		t.Helper()
		if err := f.db.Get(&n, `SELECT count(*) FROM search_queue`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitIndexed := func(since time.Time, within time.Duration) time.Duration {
		t.Helper()
		for queued() > 0 {
			if time.Since(since) > within {
				t.Fatalf("still not indexed after %s", time.Since(since).Round(time.Millisecond))
			}
			time.Sleep(10 * time.Millisecond)
		}
		return time.Since(since)
	}
	const poll, yield = 50 * time.Millisecond, 1500 * time.Millisecond
	x := NewIndexer(f.reader, IndexerOptions{Poll: poll, Yield: yield, Busy: f.store.Filing})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// Quiet: found within a poll or two.
	printer := f.file(t, "idx-1@x", "ada@customer.example", "Printer", "The printer smokes.")
	waitIndexed(time.Now(), 2*time.Second)

	// A session whose filing cannot commit yet: Ada's reply waits for her
	// case's row, which another transaction holds.
	lock, err := f.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.Exec(`SELECT 1 FROM cases WHERE id = $1 FOR UPDATE`, printer); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() {
		_, err := f.store.File(context.Background(), inbound("idx-wait@x", "ada@customer.example", fmt.Sprintf("Re: Printer [#%d]", printer), "Still smoking."))
		waiting <- err
	}()
	for i := 0; !f.store.Filing(); i++ {
		if i == 500 {
			t.Fatal("the waiting filing never started")
		}
		time.Sleep(2 * time.Millisecond)
	}
	round := time.Now()

	// Busy: nothing indexed before Yield has passed since the last round,
	// everything once it has.
	f.file(t, "idx-2@x", "bob@customer.example", "Router", "The router blinks.")
	x.Wake()
	time.Sleep(yield / 3)
	if queued() == 0 {
		t.Errorf("indexed %s after the last round while sessions were filing", time.Since(round).Round(time.Millisecond))
	}
	if took := waitIndexed(round, yield+2*time.Second); took < yield*9/10 {
		t.Errorf("indexed %s after the last round, before Yield (%s)", took.Round(time.Millisecond), yield)
	}

	// Quiet again: at once.
	lock.Rollback()
	if err := <-waiting; err != nil {
		t.Fatal(err)
	}
	f.file(t, "idx-3@x", "cy@customer.example", "Modem", "The modem hums.")
	waitIndexed(time.Now(), time.Second)
	if ids := f.ids(t, CaseFilter{Text: "hums"}); len(ids) != 1 {
		t.Errorf("search for the last mail found cases %v", ids)
	}
}
