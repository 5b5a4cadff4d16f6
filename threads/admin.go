package threads

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Priority mirrors the case_priority ENUM.
type Priority string

// Case priorities, lowest first.
const (
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// ParsePriority reads a priority name.
func ParsePriority(s string) (Priority, error) {
	switch p := Priority(strings.ToLower(strings.TrimSpace(s))); p {
	case PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent:
		return p, nil
	}
	return "", fmt.Errorf("%w: %q (use low, normal, high or urgent)", ErrBadPriority, s)
}

// Errors of case changes.
var (
	ErrNoCase            = errors.New("threads: no such case")
	ErrInvalidTransition = errors.New("threads: status change not allowed")
	ErrBadPriority       = errors.New("threads: unknown priority")
)

// Case is a case's header.
type Case struct {
	ID         int64        `db:"id"`
	Subject    string       `db:"subject"`
	Status     CaseStatus   `db:"status"`
	Priority   Priority     `db:"priority"`
	Category   string       `db:"category"`
	Customer   string       `db:"customer"`
	Assignee   string       `db:"assignee"`
	OpenedAt   time.Time    `db:"opened_at"`
	UpdatedAt  time.Time    `db:"updated_at"`
	ResolvedAt sql.NullTime `db:"resolved_at"`
	Language   string       `db:"language"` // of the case's customer mail, chosen at opening; "" for the default
	TimeZone   string       `db:"timezone"` // of the times in customer mail (templates.LoadZone); "" for the configured one
}

// allowed lists the statuses each status may change to.
var allowed = map[CaseStatus][]CaseStatus{
	StatusNew:      {StatusOpen, StatusPending, StatusResolved, StatusClosed},
	StatusOpen:     {StatusPending, StatusResolved, StatusClosed},
	StatusPending:  {StatusOpen, StatusResolved, StatusClosed},
	StatusResolved: {StatusOpen, StatusClosed},
	StatusClosed:   {StatusOpen},
}

// GetCase returns the header of case id, or ErrNoCase.
func (s *Store) GetCase(ctx context.Context, id int64) (Case, error) {
	var c Case
	err := s.opts.DB.GetContext(ctx, &c, s.q["case-header"], id)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("case %d: %w", id, ErrNoCase)
	}
	return c, err
}

// ChangeStatus moves case id to status on behalf of actor, recording an
// event with reason.
func (s *Store) ChangeStatus(ctx context.Context, id int64, status CaseStatus, actor, reason string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		return s.changeStatus(ctx, tx, id, status, actor, reason, s.opts.Now())
	})
}

// SetPriority sets case id's priority on behalf of actor.
func (s *Store) SetPriority(ctx context.Context, id int64, p Priority, actor string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		return s.setPriority(ctx, tx, id, p, actor, s.opts.Now())
	})
}

// Assign gives case id to the staff member at address (empty: unassigned).
func (s *Store) Assign(ctx context.Context, id int64, address, actor string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		return s.assign(ctx, tx, id, address, actor, s.opts.Now())
	})
}

// AddNote records an internal note on case id: shown to staff, never sent to
// the customer.
func (s *Store) AddNote(ctx context.Context, id int64, actor, text string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := s.lockCase(ctx, tx, id); err != nil {
			return err
		}
		return s.addEvent(ctx, tx, id, s.opts.Now(), "note", actor, 0, text)
	})
}

func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.opts.DB.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// lockCase locks case id for the rest of tx and returns its status.
func (s *Store) lockCase(ctx context.Context, tx *sqlx.Tx, id int64) (CaseStatus, error) {
	var status CaseStatus
	err := s.row(ctx, tx, "lock-case", id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("case %d: %w", id, ErrNoCase)
	}
	return status, err
}

func (s *Store) changeStatus(ctx context.Context, tx *sqlx.Tx, id int64, to CaseStatus, actor, reason string, now time.Time) error {
	from, err := s.lockCase(ctx, tx, id)
	if err != nil {
		return err
	}
	ok := false
	for _, st := range allowed[from] {
		ok = ok || st == to
	}
	if !ok {
		return fmt.Errorf("case %d: %w: %s → %s", id, ErrInvalidTransition, from, to)
	}
	if _, err := s.exec(ctx, tx, "set-status", id, string(to), now); err != nil {
		return fmt.Errorf("case %d: set status: %w", id, err)
	}
	detail := string(from) + " → " + string(to)
	if reason != "" {
		detail += ": " + reason
	}
	if err := s.addEvent(ctx, tx, id, now, "status", actor, 0, detail); err != nil {
		return err
	}
	if to == StatusResolved {
		if _, err := s.resolved(ctx, tx, id, now); err != nil {
			return err
		}
	}
	return s.staffResponded(ctx, tx, id, now)
}

func (s *Store) setPriority(ctx context.Context, tx *sqlx.Tx, id int64, p Priority, actor string, now time.Time) error {
	if _, err := s.lockCase(ctx, tx, id); err != nil {
		return err
	}
	if _, err := s.exec(ctx, tx, "set-priority", id, string(p), now); err != nil {
		return fmt.Errorf("case %d: set priority: %w", id, err)
	}
	if err := s.addEvent(ctx, tx, id, now, "priority", actor, 0, string(p)); err != nil {
		return err
	}
	return s.staffResponded(ctx, tx, id, now)
}

func (s *Store) assign(ctx context.Context, tx *sqlx.Tx, id int64, address, actor string, now time.Time) error {
	if _, err := s.lockCase(ctx, tx, id); err != nil {
		return err
	}
	address = strings.ToLower(strings.TrimSpace(address))
	if _, err := s.exec(ctx, tx, "set-assignee", id, address, now); err != nil {
		return fmt.Errorf("case %d: assign: %w", id, err)
	}
	if err := s.addEvent(ctx, tx, id, now, "assigned", actor, 0, address); err != nil {
		return err
	}
	return s.staffResponded(ctx, tx, id, now)
}
