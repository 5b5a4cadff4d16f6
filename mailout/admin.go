package mailout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// DeliveryStatus mirrors the delivery_status ENUM.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryQueued DeliveryStatus = "queued"
	DeliverySent   DeliveryStatus = "sent"
	DeliveryFailed DeliveryStatus = "failed"
)

// Errors of RetryDelivery.
var (
	ErrNoDelivery  = errors.New("mailout: no such delivery")
	ErrAlreadySent = errors.New("mailout: delivery was sent already")
)

// Delivery is one recipient of an outbox mail, as `casegate outbox` shows it.
type Delivery struct {
	ID            int64          `db:"id" json:"id"`
	OutboxID      int64          `db:"outbox_id" json:"outbox_id"`
	MessageID     string         `db:"message_id" json:"message_id"`
	Recipient     string         `db:"recipient" json:"recipient"`
	Status        DeliveryStatus `db:"status" json:"status"`
	Attempts      int            `db:"attempts" json:"attempts"`
	NextAttemptAt time.Time      `db:"next_attempt_at" json:"next_attempt_at"`
	LastError     string         `db:"last_error" json:"last_error"`
	SentAt        *time.Time     `db:"sent_at" json:"sent_at,omitempty"`
	FailedAt      *time.Time     `db:"failed_at" json:"failed_at,omitempty"`
	QueuedAt      time.Time      `db:"created_at" json:"queued_at"`
}

// ListDeliveries returns up to limit deliveries, newest first; with
// failedOnly just those casegate gave up on.
func ListDeliveries(ctx context.Context, db *sqlx.DB, failedOnly bool, limit int) ([]Delivery, error) {
	var out []Delivery
	if err := db.SelectContext(ctx, &out, queries.ListDeliveries.SQL, failedOnly, limit); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return out, nil
}

// RetryDelivery puts delivery id back in the queue, due at now: a failed
// one is tried again with the same recorded bytes and Message-ID, a queued
// one is brought forward. A running Sender picks it up at its next poll.
func RetryDelivery(ctx context.Context, db *sqlx.DB, id int64, now time.Time) error {
	var status DeliveryStatus
	var changed bool
	err := db.QueryRowxContext(ctx, queries.RetryDelivery.SQL, id, now).Scan(&status, &changed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("delivery %d: %w", id, ErrNoDelivery)
	case err != nil:
		return fmt.Errorf("retry delivery %d: %w", id, err)
	case !changed:
		return fmt.Errorf("delivery %d: %w", id, ErrAlreadySent)
	}
	return nil
}

// OutboxStats is the state of the queue at one moment.
type OutboxStats struct {
	Queued    int           // deliveries waiting to be sent
	OldestAge time.Duration // age of the oldest waiting mail; 0 when none
	Failed    int           // deliveries casegate gave up on
}

// Stats measures the queue at now.
func Stats(ctx context.Context, db *sqlx.DB, now time.Time) (OutboxStats, error) {
	var st OutboxStats
	var oldest time.Time
	if err := db.QueryRowxContext(ctx, queries.OutboxStats.SQL, now).Scan(&st.Queued, &oldest, &st.Failed); err != nil {
		return st, fmt.Errorf("outbox stats: %w", err)
	}
	if st.Queued > 0 {
		st.OldestAge = now.Sub(oldest)
	}
	return st, nil
}
