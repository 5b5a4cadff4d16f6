package threads

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Filing transactions keep a little state in memory (txState): the events
// they will write, and the cases they opened.
//
// Deferred events. Filing a message records three or four events (opened,
// classified, acknowledged, …); written one statement each they were the
// largest share of a filing's round trips to PostgreSQL. A filing
// transaction therefore keeps its events in memory and writes them all in
// one statement before it commits, or before a query that reads events
// (a digest's timeline) so that query sees them. They commit or roll back
// with the transaction like any other row. Other transactions (staff
// commands from the CLI, the sweeper) write their events at once.

// txState is what a filing transaction knows about itself.
type txState struct {
	events eventBuffer
	// noTimers holds cases known to have no timers rows: those this
	// transaction opened, until it stores their first deadlines. Clearing
	// their timers is then skipped.
	noTimers map[int64]bool
}

type eventBuffer struct {
	cases    []int64
	at       []string // RFC 3339, for a timestamptz[] parameter
	kinds    []string
	actors   []string
	messages []int64 // 0 for none
	details  []string
	err      error // a failed flush; the transaction is then aborted anyway
}

func (b *eventBuffer) add(caseID int64, at time.Time, kind, actor string, message int64, detail string) {
	b.cases = append(b.cases, caseID)
	b.at = append(b.at, at.UTC().Format(time.RFC3339Nano))
	b.kinds = append(b.kinds, kind)
	b.actors = append(b.actors, actor)
	b.messages = append(b.messages, message)
	b.details = append(b.details, detail)
}

// filingTx gives tx a txState: addEvent then buffers the events of tx
// until flushEvents. The returned function forgets the state and must run
// when tx ends.
func (s *Store) filingTx(tx *sqlx.Tx) (done func()) {
	s.txStates.Store(tx, &txState{noTimers: map[int64]bool{}})
	return func() { s.txStates.Delete(tx) }
}

func (s *Store) txState(tx *sqlx.Tx) *txState {
	if st, ok := s.txStates.Load(tx); ok {
		return st.(*txState)
	}
	return nil
}

func (s *Store) eventBuffer(tx *sqlx.Tx) *eventBuffer {
	if st := s.txState(tx); st != nil {
		return &st.events
	}
	return nil
}

// markOpened records that tx opened case id: it has no timers yet.
func (s *Store) markOpened(tx *sqlx.Tx, id int64) {
	if st := s.txState(tx); st != nil {
		st.noTimers[id] = true
	}
}

// hasNoTimers reports whether case id is known to have no timers in tx.
func (s *Store) hasNoTimers(tx *sqlx.Tx, id int64) bool {
	st := s.txState(tx)
	return st != nil && st.noTimers[id]
}

// timersStored records that case id may have timers now.
func (s *Store) timersStored(tx *sqlx.Tx, id int64) {
	if st := s.txState(tx); st != nil {
		delete(st.noTimers, id)
	}
}

// flushEvents writes the events tx has buffered, in the order they were
// recorded. It is a no-op for a transaction that does not defer events.
func (s *Store) flushEvents(ctx context.Context, tx *sqlx.Tx) error {
	b := s.eventBuffer(tx)
	if b == nil {
		return nil
	}
	if b.err != nil || len(b.cases) == 0 {
		return b.err
	}
	_, err := s.execNow(ctx, tx, "add-events", pq.Array(b.cases), pq.Array(b.at), pq.Array(b.kinds),
		pq.Array(b.actors), pq.Array(b.messages), pq.Array(b.details))
	if err != nil {
		b.err = fmt.Errorf("add %d events: %w", len(b.cases), err)
		return b.err
	}
	*b = eventBuffer{}
	return nil
}

// readsEvents lists the queries that must see the buffered events.
func readsEvents(q map[string]string) map[string]bool {
	r := map[string]bool{}
	for name, sql := range q {
		if strings.Contains(sql, "FROM events") || strings.Contains(sql, "JOIN events") {
			r[name] = true
		}
	}
	return r
}
