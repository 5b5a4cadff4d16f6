package views

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"casegate/threads"
	"casegate/vocab"
)

// CaseFilter selects cases for ListCases. The zero value lists the cases
// still open (new, open, pending).
type CaseFilter struct {
	Status   string // a case status, "" for every open status, "all" for every status
	Category string // "" for every category
	Limit    int    // default 100
	// Overdue keeps cases with an escalation deadline already due (the
	// sweeper fires it within its interval); Escalated keeps cases an
	// escalation rule has fired on.
	Overdue, Escalated bool
	// Customer keeps the cases of one customer address, or of every
	// address of a domain when it starts with "@" ("@example.com").
	Customer string
	// Assignee keeps the cases assigned to one staff address; "-" keeps
	// the unassigned ones.
	Assignee string
	// Text keeps cases with a received mail whose subject or text (its
	// first 4,000 characters) matches, by PostgreSQL full-text search
	// (websearch syntax: words, "a phrase", -not, or). Words match whole
	// and in any case, without stemming, so one search works for every
	// language.
	Text string
}

// ListCases returns the cases f selects, most recently updated first.
func (r *Reader) ListCases(ctx context.Context, f CaseFilter) ([]threads.Case, error) {
	switch vocab.CaseStatus(f.Status) {
	case "", "all", vocab.StatusNew, vocab.StatusOpen, vocab.StatusPending, vocab.StatusResolved, vocab.StatusClosed:
	default:
		return nil, fmt.Errorf("%w: status %q (use new, open, pending, resolved, closed or all)", ErrBadFilter, f.Status)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	customer := strings.ToLower(strings.TrimSpace(f.Customer))
	if customer != "" && !strings.Contains(customer, "@") {
		return nil, fmt.Errorf("%w: customer %q (use an address, or @domain for a whole domain)", ErrBadFilter, f.Customer)
	}
	var out []threads.Case
	err := r.db.SelectContext(ctx, &out, r.q.ListCases.SQL, f.Status, f.Category, f.Limit, f.Overdue, f.Escalated, r.now(),
		strings.TrimSpace(f.Text), customer, strings.ToLower(strings.TrimSpace(f.Assignee)))
	if err != nil {
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
	Case         threads.Case
	Participants []Participant
	Messages     []Message
	Events       []Event
}

// ShowCase returns case id with its participants, messages and events, read
// in one repeatable-read snapshot so the parts agree.
func (r *Reader) ShowCase(ctx context.Context, id int64) (CaseDetail, error) {
	var d CaseDetail
	tx, err := r.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return d, err
	}
	defer tx.Rollback()
	err = tx.GetContext(ctx, &d.Case, r.q.CaseHeader.SQL, id)
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("case %d: %w", id, threads.ErrNoCase)
	}
	if err != nil {
		return d, fmt.Errorf("case %d: %w", id, err)
	}
	if err := tx.SelectContext(ctx, &d.Participants, r.q.CaseParticipants.SQL, id); err != nil {
		return d, fmt.Errorf("case %d participants: %w", id, err)
	}
	if err := tx.SelectContext(ctx, &d.Messages, r.q.CaseMessages.SQL, id); err != nil {
		return d, fmt.Errorf("case %d messages: %w", id, err)
	}
	if err := tx.SelectContext(ctx, &d.Events, r.q.CaseEvents.SQL, id); err != nil {
		return d, fmt.Errorf("case %d events: %w", id, err)
	}
	return d, tx.Commit()
}

// MessageRaw returns the bytes of message messageID (messages.id) of case
// caseID: a received mail exactly as it arrived, a sent one exactly as it
// was handed to delivery (before DKIM signing).
func (r *Reader) MessageRaw(ctx context.Context, caseID, messageID int64) ([]byte, error) {
	var raw []byte
	err := r.db.GetContext(ctx, &raw, r.q.MessageRaw.SQL, caseID, messageID)
	if errors.Is(err, sql.ErrNoRows) {
		var d CaseDetail
		if err := r.db.GetContext(ctx, &d.Case, r.q.CaseHeader.SQL, caseID); errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("case %d: %w", caseID, threads.ErrNoCase)
		}
		return nil, fmt.Errorf("message %d of case %d: %w", messageID, caseID, ErrNoMessage)
	}
	if err != nil {
		return nil, fmt.Errorf("message %d of case %d: %w", messageID, caseID, err)
	}
	return raw, nil
}

// Quarantined is a message that could not be filed, as the quarantine
// listing shows it.
type Quarantined struct {
	ID           int64          `db:"id" json:"id"`
	Source       string         `db:"source" json:"source"`
	Reason       string         `db:"reason" json:"reason"`
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
func (r *Reader) ListQuarantine(ctx context.Context, all bool) ([]Quarantined, error) {
	var out []Quarantined
	if err := r.db.SelectContext(ctx, &out, r.q.ListQuarantine.SQL, all); err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
}
