// Package mailout owns the outbox: it stores each mail casegate sends,
// rendered to its final bytes with a fixed Message-ID, in the same
// transaction as the change that caused it, and a Sender delivers the rows
// to a smarthost (RFC 5321 submission) or a development Maildir.
// Delivery is at least once: a retry sends exactly the recorded bytes.
package mailout

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"casegate/internal/sqlfile"
)

//go:embed queries.sql
var queriesSQL string

// outboxQueries are the queries of queries.sql.
type outboxQueries struct {
	EnqueueAll     sqlfile.Query `query:"enqueue-all"`
	MarkBounced    sqlfile.Query `query:"mark-bounced"`
	Claim          sqlfile.Query `query:"claim"`
	MarkSent       sqlfile.Query `query:"mark-sent"`
	MarkFailed     sqlfile.Query `query:"mark-failed"`
	Reschedule     sqlfile.Query `query:"reschedule"`
	ListDeliveries sqlfile.Query `query:"list-deliveries"`
	RetryDelivery  sqlfile.Query `query:"retry-delivery"`
	OutboxStats    sqlfile.Query `query:"outbox-stats"`
}

var queries = mustQueries()

func mustQueries() outboxQueries {
	var q outboxQueries
	if err := sqlfile.Bind(queriesSQL, &q); err != nil {
		// queries.sql is compiled in; a broken file is a programming error
		// caught by every test of the package.
		panic("mailout/queries.sql: " + err.Error())
	}
	return q
}

// Queued identifies a mail stored in the outbox.
type Queued struct {
	OutboxID  int64
	MessageID string
}

// Outbox is the one way into the outbox and deliveries tables: mails are
// enqueued (rendered to their final bytes), and bounces recorded on the
// deliveries they report on. The Sender delivers what it holds.
type Outbox struct {
	db *sqlx.DB
	q  outboxQueries
}

// NewOutbox returns the outbox of db; Prepare readies its statements.
func NewOutbox(db *sqlx.DB) *Outbox {
	return &Outbox{db: db, q: queries}
}

// Prepare has PostgreSQL parse and plan every query of the outbox once.
func (o *Outbox) Prepare(ctx context.Context) error {
	if err := sqlfile.Prepare(ctx, o.db, queriesSQL, &o.q); err != nil {
		return fmt.Errorf("mailout: %w", err)
	}
	return nil
}

// Enqueue composes m and stores it for delivery to its recipients within
// tx: it is sent only if tx commits. now stamps the row and the Date
// header when m.Date is zero.
func (o *Outbox) Enqueue(ctx context.Context, tx *sqlx.Tx, m *Message, now time.Time) (Queued, error) {
	q, err := o.EnqueueAll(ctx, tx, []*Message{m}, now)
	if err != nil {
		return Queued{}, err
	}
	return q[0], nil
}

// Bounce is what a delivery report says of one delivery.
type Bounce struct {
	Delivery int64
	Status   string // DSN status, e.g. 5.1.1
	Failed   bool   // a failure (not a delay): the delivery fails for good
	Error    string // recorded as the delivery's last error on failure
	At       time.Time
}

// MarkBounced records a bounce on its delivery within tx: a failure makes
// the delivery failed, a delay report is only recorded.
func (o *Outbox) MarkBounced(ctx context.Context, tx *sqlx.Tx, b Bounce) error {
	if _, err := o.q.MarkBounced.Exec(ctx, tx, b.Delivery, b.Status, b.At, b.Failed, b.Error); err != nil {
		return fmt.Errorf("mark delivery %d bounced: %w", b.Delivery, err)
	}
	return nil
}

// Enqueue is Outbox.Enqueue on an unprepared outbox, for callers that queue
// a mail now and then (benchmarks, reports).
func Enqueue(ctx context.Context, tx *sqlx.Tx, m *Message, now time.Time) (Queued, error) {
	return (&Outbox{q: queries}).Enqueue(ctx, tx, m, now)
}

// Render composes m for the outbox, dated now unless m has a Date, and
// lists its envelope recipients.
func Render(m *Message, now time.Time) (raw []byte, rcpts []string, err error) {
	if m.Date.IsZero() {
		m.Date = now
	}
	rcpts = m.Recipients()
	if len(rcpts) == 0 {
		return nil, nil, fmt.Errorf("enqueue %s: no recipients", m.MessageID)
	}
	raw, err = Compose(m)
	return raw, rcpts, err
}
