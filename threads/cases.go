package threads

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Errors of refiling.
var (
	ErrNoQuarantined  = errors.New("threads: no such quarantined message")
	ErrAlreadyRefiled = errors.New("threads: quarantined message was refiled already")
)

// Quarantined is a message that could not be filed, kept whole, as
// refiling reads it. (Listings are the read side's: views.)
type Quarantined struct {
	ID           int64          `db:"id" json:"id"`
	Source       string         `db:"source" json:"source"`
	Reason       string         `db:"reason" json:"reason"`
	Raw          []byte         `db:"raw" json:"-"`
	EnvelopeFrom string         `db:"envelope_from" json:"envelope_from"`
	EnvelopeTo   pq.StringArray `db:"envelope_to" json:"envelope_to"`
	MessageID    string         `db:"message_id" json:"message_id"`
	ReceivedAt   time.Time      `db:"received_at" json:"received_at"`
	RefiledAt    *time.Time     `db:"refiled_at" json:"refiled_at,omitempty"`
	RefiledCase  int64          `db:"refiled_case" json:"refiled_case,omitempty"`
	Size         int64          `db:"size" json:"size"`
}

// GetQuarantined returns quarantined message id with its raw bytes.
func (s *Store) GetQuarantined(ctx context.Context, id int64) (Quarantined, error) {
	var q Quarantined
	err := s.q.GetQuarantined.Get(ctx, s.opts.DB, &q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return q, fmt.Errorf("quarantined message %d: %w", id, ErrNoQuarantined)
	}
	if err != nil {
		return q, fmt.Errorf("quarantined message %d: %w", id, err)
	}
	q.Size = int64(len(q.Raw))
	return q, nil
}
