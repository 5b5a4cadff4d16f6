package threads

import (
	"casegate/vocab"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// CaseFilter selects cases for ListCases. The zero value lists the cases
// still open (new, open, pending).
type CaseFilter struct {
	Status   string // a vocab.CaseStatus, "" for every open status, "all" for every status
	Category string // "" for every category
	Limit    int    // default 100
	// Overdue keeps cases with an escalation deadline already due (the
	// sweeper fires it within its interval); Escalated keeps cases an
	// escalation rule has fired on.
	Overdue, Escalated bool
}

// Errors of the read side.
var (
	ErrBadFilter      = errors.New("threads: bad filter")
	ErrNoQuarantined  = errors.New("threads: no such quarantined message")
	ErrAlreadyRefiled = errors.New("threads: quarantined message was refiled already")
)

// ListCases returns the cases f selects, most recently updated first.
func (s *Store) ListCases(ctx context.Context, f CaseFilter) ([]Case, error) {
	switch vocab.CaseStatus(f.Status) {
	case "", "all", vocab.StatusNew, vocab.StatusOpen, vocab.StatusPending, vocab.StatusResolved, vocab.StatusClosed:
	default:
		return nil, fmt.Errorf("%w: status %q (use new, open, pending, resolved, closed or all)", ErrBadFilter, f.Status)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var out []Case
	if err := s.q.ListCases.Select(ctx, s.opts.DB, &out, f.Status, f.Category, f.Limit, f.Overdue, f.Escalated, s.opts.Now()); err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return out, nil
}

// Participant is an address on a case.
type Participant struct {
	Address string    `db:"address" json:"address"`
	Name    string    `db:"name" json:"name,omitempty"`
	Role    string    `db:"role" json:"role"`
	AddedAt time.Time `db:"added_at" json:"added_at"`
}

// Message is one mail on a case's timeline, without its raw bytes.
type Message struct {
	ID         int64          `db:"id" json:"id"`
	Direction  string         `db:"direction" json:"direction"`
	MessageID  string         `db:"message_id" json:"message_id"`
	Source     string         `db:"source" json:"source"`
	From       string         `db:"from_address" json:"from"`
	FromName   string         `db:"from_name" json:"from_name,omitempty"`
	Subject    string         `db:"subject" json:"subject"`
	Text       string         `db:"text_body" json:"text"`
	To         pq.StringArray `db:"envelope_to" json:"to"`
	Automatic  bool           `db:"automatic" json:"automatic"`
	Problems   pq.StringArray `db:"problems" json:"problems,omitempty"`
	ReceivedAt time.Time      `db:"received_at" json:"at"`
}

// Event is one line of a case's timeline.
type Event struct {
	ID        int64     `db:"id" json:"id"`
	At        time.Time `db:"at" json:"at"`
	Kind      string    `db:"kind" json:"kind"`
	Actor     string    `db:"actor" json:"actor"`
	MessageID int64     `db:"message_id" json:"message,omitempty"` // messages.id, 0 for none
	Detail    string    `db:"detail" json:"detail"`
}

// CaseDetail is everything `casegate case show` prints.
type CaseDetail struct {
	Case         Case
	Participants []Participant
	Messages     []Message
	Events       []Event
}

// ShowCase returns case id with its participants, messages and events, read
// in one repeatable-read snapshot so the parts agree.
func (s *Store) ShowCase(ctx context.Context, id int64) (CaseDetail, error) {
	var d CaseDetail
	tx, err := s.opts.DB.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return d, err
	}
	defer tx.Rollback()
	err = s.q.CaseHeader.Get(ctx, tx, &d.Case, id)
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("case %d: %w", id, ErrNoCase)
	}
	if err != nil {
		return d, fmt.Errorf("case %d: %w", id, err)
	}
	if err := s.q.CaseParts.Select(ctx, tx, &d.Participants, id); err != nil {
		return d, fmt.Errorf("case %d participants: %w", id, err)
	}
	if err := s.q.CaseMessages.Select(ctx, tx, &d.Messages, id); err != nil {
		return d, fmt.Errorf("case %d messages: %w", id, err)
	}
	if err := s.q.CaseEvents.Select(ctx, tx, &d.Events, id); err != nil {
		return d, fmt.Errorf("case %d events: %w", id, err)
	}
	return d, tx.Commit()
}

// Quarantined is a message that could not be filed, kept whole.
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

// ListQuarantine returns quarantined messages, oldest first; refiled ones
// only with all.
func (s *Store) ListQuarantine(ctx context.Context, all bool) ([]Quarantined, error) {
	var out []Quarantined
	if err := s.q.ListQuarantine.Select(ctx, s.opts.DB, &out, all); err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
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
