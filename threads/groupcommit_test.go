package threads

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// With the committers running, concurrent filings share transactions, yet
// each message is filed exactly once and a bad message costs no other.
func TestGroupCommit(t *testing.T) {
	s, db, _ := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()

	const senders, each = 16, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	var badErrs int
	for w := 0; w < senders; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				in := inbound(fmt.Sprintf("%d.%d@x", w, i), fmt.Sprintf("c%d@customer.example", w), "Help", fmt.Sprintf("body %d %d", w, i))
				if i%5 == 0 {
					// Every fifth message is delivered twice at once.
					dup := inbound(in.MessageID, in.From.Address, "Help", in.Text)
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := s.File(context.Background(), dup); err != nil {
							mu.Lock()
							errs = append(errs, err)
							mu.Unlock()
						}
					}()
				}
				bad := i == 7
				if bad {
					in.BodySHA256 = nil // refused by fileInTx
				}
				_, err := s.File(context.Background(), in)
				mu.Lock()
				if bad && err != nil {
					badErrs++
				} else if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	cancel()
	<-runDone
	for _, err := range errs {
		t.Error(err)
	}
	if badErrs != senders {
		t.Errorf("bad messages refused: %d, want %d", badErrs, senders)
	}
	var msgs, distinct int
	db.Get(&msgs, `SELECT count(*) FROM messages WHERE direction = 'inbound'`)
	db.Get(&distinct, `SELECT count(DISTINCT message_id) FROM messages WHERE direction = 'inbound'`)
	if want := senders * (each - 1); msgs != want || distinct != want {
		t.Errorf("inbound messages = %d (%d distinct), want %d", msgs, distinct, want)
	}
	// After Run returns, File still works, one transaction per message.
	if _, err := s.File(context.Background(), inbound("after@x", "z@customer.example", "Hi", "after")); err != nil {
		t.Error(err)
	}
}
