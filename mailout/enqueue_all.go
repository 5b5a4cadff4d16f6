package mailout

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// EnqueueAll composes many mails and stores them for delivery in one
// statement within tx, so a caller that queues a batch pays one round
// trip, not one per mail. The result is in the order of ms.
func (o *Outbox) EnqueueAll(ctx context.Context, tx *sqlx.Tx, ms []*Message, now time.Time) ([]Queued, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	ids := make([]string, len(ms))
	offs := make([]int64, len(ms))
	lens := make([]int64, len(ms))
	auto := make([]bool, len(ms))
	var blob bytes.Buffer
	var rcptOf, rcpts []string
	for i, m := range ms {
		if m.Date.IsZero() {
			m.Date = now
		}
		rs := m.Recipients()
		if len(rs) == 0 {
			return nil, fmt.Errorf("enqueue %s: no recipients", m.MessageID)
		}
		raw, err := Compose(m)
		if err != nil {
			return nil, err
		}
		ids[i], offs[i], lens[i], auto[i] = m.MessageID, int64(blob.Len()), int64(len(raw)), m.Auto != Human
		blob.Write(raw)
		for _, r := range rs {
			rcptOf, rcpts = append(rcptOf, m.MessageID), append(rcpts, r)
		}
	}
	rows, err := o.q.EnqueueAll.Query(ctx, tx, pq.Array(ids), blob.Bytes(), pq.Array(offs), pq.Array(lens), pq.Array(auto), now,
		pq.Array(rcptOf), pq.Array(rcpts))
	if err != nil {
		return nil, fmt.Errorf("enqueue %d mails: %w", len(ms), err)
	}
	defer rows.Close()
	outbox := make(map[string]int64, len(ms))
	for rows.Next() {
		var id int64
		var mid string
		if err := rows.Scan(&id, &mid); err != nil {
			return nil, fmt.Errorf("enqueue %d mails: %w", len(ms), err)
		}
		outbox[mid] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("enqueue %d mails: %w", len(ms), err)
	}
	out := make([]Queued, len(ms))
	for i, m := range ms {
		id, ok := outbox[m.MessageID]
		if !ok {
			return nil, fmt.Errorf("enqueue %s: no outbox row returned", m.MessageID)
		}
		out[i] = Queued{OutboxID: id, MessageID: m.MessageID}
	}
	return out, nil
}
