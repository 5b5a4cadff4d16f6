package threads

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"casegate/mailout"
	"casegate/templates"
	"casegate/vocab"
)

// Changes that do not come by mail — the admin commands, a delivery that
// failed for good, a quarantined message filed again — are decided by the
// same code as mail, on the same snapshot, and written the same way. Each
// runs on its own and decides again when a filing changed the case
// meanwhile. The mail they cause is committed as intents, and the running
// service is woken to render them (NOTIFY casegate_intents).

// Case is a case's header.
type Case struct {
	ID         int64            `db:"id"`
	Subject    string           `db:"subject"`
	Status     vocab.CaseStatus `db:"status"`
	Priority   vocab.Priority   `db:"priority"`
	Category   string           `db:"category"`
	Customer   string           `db:"customer"`
	Assignee   string           `db:"assignee"`
	OpenedAt   time.Time        `db:"opened_at"`
	UpdatedAt  time.Time        `db:"updated_at"`
	ResolvedAt sql.NullTime     `db:"resolved_at"`
}

// GetCase returns the header of case id, or ErrNoCase.
func (s *Store) GetCase(ctx context.Context, id int64) (Case, error) {
	var c Case
	err := s.q.CaseHeader.Get(ctx, s.opts.DB, &c, id)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("case %d: %w", id, ErrNoCase)
	}
	return c, err
}

// ChangeStatus moves case id to status on behalf of actor, recording an
// event with reason. A resolution tells the customer.
func (s *Store) ChangeStatus(ctx context.Context, id int64, status vocab.CaseStatus, actor, reason string) error {
	return s.change(ctx, id, nil, func(d *decider, p *plan, c *caseState) error {
		from := c.Status
		if !d.setStatus(p, c, status, actor, reason) {
			return fmt.Errorf("case %d: %w: %s → %s", id, ErrInvalidTransition, from, status)
		}
		d.staffResponded(c, "changed-status")
		if status == vocab.StatusResolved {
			d.resolutionNotice(p, c)
		}
		return nil
	})
}

// SetPriority sets case id's priority on behalf of actor.
func (s *Store) SetPriority(ctx context.Context, id int64, pr vocab.Priority, actor string) error {
	return s.change(ctx, id, nil, func(d *decider, p *plan, c *caseState) error {
		c.Priority = pr
		d.event(p, "priority", actor, string(pr))
		d.staffResponded(c, "changed-priority")
		return nil
	})
}

// Assign gives case id to the staff member at address ("" unassigns). As
// by mail (#assign), only an address of the staff directory can be given
// the case: the customer's next mail would go to whoever has it.
func (s *Store) Assign(ctx context.Context, id int64, address, actor string) error {
	address = strings.ToLower(strings.Trim(strings.TrimSpace(address), "<>"))
	if address != "" && !s.IsStaff(address) {
		return fmt.Errorf("case %d: assign %s: %w (see [addresses] staff)", id, address, ErrNotStaff)
	}
	return s.change(ctx, id, nil, func(d *decider, p *plan, c *caseState) error {
		c.Assignee = address
		d.event(p, "assigned", actor, address)
		d.staffResponded(c, "took-case")
		return nil
	})
}

// AddNote records an internal note on case id: shown to staff, never sent
// to the customer.
func (s *Store) AddNote(ctx context.Context, id int64, actor, text string) error {
	return s.change(ctx, id, nil, func(d *decider, p *plan, c *caseState) error {
		d.event(p, "note", actor, text)
		return nil
	})
}

// Merge joins case id into case into: into goes on with everything of id,
// id is closed and points to it, and id's customer is told which number
// to use. Either case missing is ErrNoCase; a merge that cannot be done
// (into itself, a case merged before) is ErrBadMerge.
func (s *Store) Merge(ctx context.Context, id, into int64, actor string) error {
	return s.change(ctx, id, []int64{into}, func(d *decider, p *plan, c *caseState) error {
		if into != id && p.snap.extra(into) == nil {
			return fmt.Errorf("merge case %d into %d: case %d: %w", id, into, into, ErrNoCase)
		}
		if why := d.merge(p, c, into, actor); why != "" {
			return fmt.Errorf("merge case %d into %d: %w: %s", id, into, ErrBadMerge, why)
		}
		return nil
	})
}

// StaffResponded records that staff acted on case id, meeting the
// deadlines that wait for staff.
func (s *Store) StaffResponded(ctx context.Context, id int64) error {
	return s.change(ctx, id, nil, func(d *decider, p *plan, c *caseState) error {
		d.staffResponded(c, "acted")
		return nil
	})
}

// change decides fn on case id (and the extra cases it names) and writes
// the plan, deciding again when a filing changed the case meanwhile.
func (s *Store) change(ctx context.Context, id int64, extra []int64, fn func(d *decider, p *plan, c *caseState) error) error {
	for try := 0; try < maxTries; try++ {
		d := s.decider(s.opts.Now())
		sn, err := s.caseSnapshot(ctx, id, extra, d.now)
		if err != nil {
			return err
		}
		c := sn.TokenCase.clone()
		p := &plan{Outcome: outcomeFiled, Case: c, Version: c.Version, snap: sn, Wake: true}
		c.UpdatedAt = d.now
		if err := fn(d, p, c); err != nil {
			return err
		}
		d.settle(p, c)
		out, err := s.write(ctx, s.opts.DB, []*plan{p}, d.now)
		if err != nil {
			return fmt.Errorf("case %d: %w", id, err)
		}
		if out[0].Outcome == "conflict" {
			continue
		}
		if len(p.Intents) > 0 {
			s.WakeComposer()
		}
		return nil
	}
	return fmt.Errorf("case %d: %w", id, ErrConflict)
}

// caseSnapshot reads what a decision about case id needs, through the same
// statement as filing: the case (as a token would name it), the extra
// cases, and the addresses of the staff directory and the customer.
func (s *Store) caseSnapshot(ctx context.Context, id int64, extra []int64, now time.Time) (*snapshot, error) {
	req := snapshotRequest{TokenCase: id, Extra: extra, Addresses: s.settings().Staff, References: []string{}}
	sns, err := s.snapshots(ctx, s.opts.DB, []snapshotRequest{req}, now)
	if err != nil {
		return nil, err
	}
	if sns[0].TokenCase == nil {
		return nil, fmt.Errorf("case %d: %w", id, ErrNoCase)
	}
	return sns[0], nil
}

// DeliveryFailed tells staff, once per delivery, that delivery d failed for
// good (mailout.SenderOptions.OnFailed), and never of one to a staff
// address: a notice that cannot reach staff must not cause another.
func (s *Store) DeliveryFailed(ctx context.Context, d mailout.FailedDelivery) error {
	if s.IsStaff(d.Recipient) || len(s.settings().Staff) == 0 {
		return nil
	}
	var caseID int64
	err := s.q.CaseOfOutbox.Get(ctx, s.opts.DB, &caseID, d.OutboxID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("delivery %d: case: %w", d.DeliveryID, err)
	}
	if caseID == 0 {
		return s.noticeOutsideCase(ctx, d)
	}
	first := false
	err = s.change(ctx, caseID, nil, func(dc *decider, p *plan, c *caseState) error {
		var told int64
		err := s.q.RecordFailure.QueryRow(ctx, s.opts.DB, d.DeliveryID, dc.now).Scan(&told)
		if errors.Is(err, sql.ErrNoRows) && !first {
			return errToldBefore
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		first = true
		dc.event(p, "delivery-failed", "casegate", fmt.Sprintf("%s: %s; staff told", d.Recipient, d.Err))
		m := dc.mail(p, templates.DeliveryFailure, mailout.AutoGenerated, &templates.DeliveryFailureData{
			Subject: stripSubjectPrefixes(c.Subject), Recipient: d.Recipient, MessageID: d.MessageID,
			Error: templates.HeaderValue(d.Err), Team: dc.team(),
		})
		dc.toStaff(c, m, dc.staffList())
		return nil
	})
	if errors.Is(err, errToldBefore) {
		return nil
	}
	return err
}

var errToldBefore = errors.New("told before")

// noticeOutsideCase tells staff of a failed delivery that belongs to no
// case, through the outbox directly.
func (s *Store) noticeOutsideCase(ctx context.Context, d mailout.FailedDelivery) error {
	tx, err := s.opts.DB.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := s.opts.Now()
	var told int64
	if err := s.q.RecordFailure.QueryRow(ctx, tx, d.DeliveryID, now).Scan(&told); errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	r, err := s.settings().Templates.Render(templates.DeliveryFailure, templates.DeliveryFailureData{
		Recipient: d.Recipient, MessageID: d.MessageID, Error: templates.HeaderValue(d.Err), Team: s.opts.Team,
	})
	if err != nil {
		return err
	}
	var to []mail.Address
	for _, a := range s.settings().Staff {
		to = append(to, mail.Address{Address: a})
	}
	m := &mailout.Message{From: mail.Address{Name: s.opts.Team, Address: s.opts.Support.Address}, To: to,
		Subject: r.Subject, Text: r.Text, HTML: r.HTML, MessageID: mailout.NewMessageID(s.domain),
		Auto: mailout.AutoGenerated, Loop: s.domain}
	if _, err := s.opts.Outbox.Enqueue(ctx, tx, m, now); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if s.opts.AfterCommit != nil {
		s.opts.AfterCommit()
	}
	return nil
}

// Refile files quarantined message id as in (which the caller parsed from
// its raw bytes) and marks it refiled. Filing is exactly once, so running
// Refile again after a crash between the two steps files nothing twice.
func (s *Store) Refile(ctx context.Context, id int64, in *vocab.Inbound) (vocab.Filed, error) {
	q, err := s.GetQuarantined(ctx, id)
	if err != nil {
		return vocab.Filed{}, err
	}
	if q.RefiledAt != nil {
		return vocab.Filed{Case: q.RefiledCase}, fmt.Errorf("quarantined message %d (case %d): %w", id, q.RefiledCase, ErrAlreadyRefiled)
	}
	f, err := s.File(ctx, in)
	if err != nil {
		return f, err
	}
	if _, err := s.q.MarkRefiled.Exec(ctx, s.opts.DB, id, s.opts.Now(), f.Case); err != nil {
		return f, fmt.Errorf("mark quarantined message %d refiled: %w", id, err)
	}
	return f, nil
}

// CaseState loads what the rules look at for case id.
func (s *Store) CaseState(ctx context.Context, id int64) (CaseState, error) {
	sn, err := s.caseSnapshot(ctx, id, nil, s.opts.Now())
	if err != nil {
		return CaseState{}, err
	}
	return sn.TokenCase.ruleState(), nil
}
