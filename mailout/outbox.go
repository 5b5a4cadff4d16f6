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
	"github.com/lib/pq"

	"casegate/internal/sqlfile"
)

//go:embed queries.sql
var queriesSQL string

// outboxQueries are the queries of queries.sql.
type outboxQueries struct {
	Enqueue        sqlfile.Query `query:"enqueue"`
	EnqueueAll     sqlfile.Query `query:"enqueue-all"`
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

// Enqueue composes m and stores it for delivery to its recipients within tx:
// it is sent only if tx commits. now stamps the row and the Date header when
// m.Date is zero.
func Enqueue(ctx context.Context, tx *sqlx.Tx, m *Message, now time.Time) (Queued, error) {
	raw, rcpts, err := Render(m, now)
	if err != nil {
		return Queued{}, err
	}
	var id int64
	err = tx.QueryRowxContext(ctx, queries.Enqueue.SQL, m.MessageID, raw, m.Auto != Human, now, pq.Array(rcpts)).Scan(&id)
	if err != nil {
		return Queued{}, fmt.Errorf("enqueue %s: %w", m.MessageID, err)
	}
	return Queued{OutboxID: id, MessageID: m.MessageID}, nil
}

// Render composes m for the outbox, dated now unless m has a Date, and
// lists its envelope recipients: what Enqueue stores, for a caller that
// writes the outbox row in a statement of its own (threads files the mail
// on its case in the same round trip).
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
