package threads

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"casegate/mailout"
	"casegate/templates"
)

// escalationQueries are the names of the escalation queries in queries.sql.
var escalationQueries = append([]string{"raise-risk", "set-staff-responded", "escalation-state",
	"delete-timers", "insert-timers", "claim-due-timers", "postpone-timers", "record-escalation",
	"add-pr-participant", "pr-participants", "raise-priority", "digest-case", "digest-timeline", "digest-messages"},
	sweepQueries...)

// classify records what mailin's classification found: on a new case its
// category and risk (always with an event saying why), on a later mail a
// risk that went up.
func (s *Store) classify(ctx context.Context, tx *sqlx.Tx, caseID int64, in *Inbound, newCase bool, now time.Time, message int64) error {
	category, risk := in.classification()
	evidence := strings.Join(in.Evidence, "; ")
	if newCase {
		// open-case stored the category and risk with the case.
		detail := fmt.Sprintf("%s, risk %s", category, risk)
		switch {
		case in.Automatic:
			detail += ": automatic mail is not classified"
		case evidence != "":
			detail += ": " + evidence
		default:
			detail += ": nothing matched"
		}
		return s.addEvent(ctx, tx, caseID, now, "classified", "casegate", message, detail)
	}
	if risk == RiskNone || in.Automatic {
		return nil
	}
	var old Risk
	err := s.row(ctx, tx, "raise-risk", caseID, string(risk)).Scan(&old)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("case %d: raise risk: %w", caseID, err)
	}
	return s.addEvent(ctx, tx, caseID, now, "risk", "casegate", message, fmt.Sprintf("%s → %s: %s", old, risk, evidence))
}

// classification is the category and risk mailin found, with the
// defaults for none.
func (in *Inbound) classification() (Category, Risk) {
	category, risk := in.Category, in.Risk
	if category == "" {
		category = CategoryCustomer
	}
	if risk == "" {
		risk = RiskNone
	}
	return category, risk
}

// acknowledgementKind is the template that acknowledges a new case opened
// by in: journalists get their own.
func (in *Inbound) acknowledgementKind() templates.Kind {
	if in.Category == CategoryJournalist {
		return templates.JournalistAcknowledgement
	}
	return templates.Acknowledgement
}

// StaffResponded records that staff acted on case id (a reply, a status,
// priority or assignment change) and recomputes its deadlines: those that
// wait for staff are met and cleared.
func (s *Store) StaffResponded(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := s.lockCase(ctx, tx, id); err != nil {
			return err
		}
		return s.staffResponded(ctx, tx, id, s.opts.Now())
	})
}

// staffResponded is StaffResponded within tx; the caller holds the case
// lock. Every staff path (status change, staff reply relay) calls it.
func (s *Store) staffResponded(ctx context.Context, tx *sqlx.Tx, caseID int64, now time.Time) error {
	if _, err := s.exec(ctx, tx, "set-staff-responded", caseID, now); err != nil {
		return fmt.Errorf("case %d: staff responded: %w", caseID, err)
	}
	_, err := s.caseChanged(ctx, tx, caseID, now)
	return err
}

// CaseState loads what the rules look at for case id.
func (s *Store) CaseState(ctx context.Context, id int64) (CaseState, error) {
	st, err := s.caseState(ctx, s.opts.DB, id)
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("case %d: %w", id, ErrNoCase)
	}
	return st, err
}

func (s *Store) caseState(ctx context.Context, q sqlx.QueryerContext, caseID int64) (CaseState, error) {
	var (
		st         CaseState
		responded  sql.NullTime
		unanswered pq.Int64Array
	)
	err := q.QueryRowxContext(ctx, s.q["escalation-state"], caseID).Scan(&st.Status, &st.Priority, &st.Category, &st.Risk,
		&st.OpenedAt, &responded, &unanswered)
	if err != nil {
		return st, err
	}
	st.StaffRespondedAt = responded.Time
	for _, us := range unanswered {
		st.Unanswered = append(st.Unanswered, time.UnixMicro(us))
	}
	return st, nil
}

// caseChanged recomputes the deadlines of a case whose lock the caller
// holds, fires those already due (a rule "at once" fires in the same
// transaction as the mail that triggered it) and stores the rest as timers.
// It reports whether it queued mail.
func (s *Store) caseChanged(ctx context.Context, tx *sqlx.Tx, caseID int64, now time.Time) (bool, error) {
	// The resolution follow-up keeps its own timers (followup.go).
	followed, err := s.followupChanged(ctx, tx, caseID, now)
	if err != nil {
		return false, err
	}
	queued, err := s.caseChangedRules(ctx, tx, caseID, now)
	return queued || followed, err
}

// caseChangedRules is caseChanged for the escalation rules.
func (s *Store) caseChangedRules(ctx context.Context, tx *sqlx.Tx, caseID int64, now time.Time) (bool, error) {
	if len(s.opts.Rules) == 0 {
		// Timers left by rules since removed from the configuration.
		if s.hasNoTimers(tx, caseID) {
			return false, nil
		}
		if _, err := s.exec(ctx, tx, "delete-timers", caseID); err != nil {
			return false, fmt.Errorf("case %d: clear timers: %w", caseID, err)
		}
		return false, nil
	}
	queued := false
	// A firing can change the case (priority) and so the plan; each rule
	// fires at most once per cycle, so this ends within len(Rules) rounds.
	for round := 0; round <= len(s.opts.Rules); round++ {
		st, err := s.caseState(ctx, tx, caseID)
		if err != nil {
			return queued, fmt.Errorf("case %d: escalation state: %w", caseID, err)
		}
		plan := Plan(s.opts.Rules, st)
		replan := false
		for _, d := range plan {
			if d.Due.After(now) {
				continue
			}
			ok, err := s.fire(ctx, tx, caseID, d, now)
			if err != nil {
				return queued, err
			}
			queued = queued || ok
			// Only a priority change alters what the rules see; the
			// deadline that fired stays out of timers by its escalations row.
			replan = replan || ok && s.rule(d.Rule).changesCase()
		}
		if replan {
			continue
		}
		if err := s.storeTimers(ctx, tx, caseID, plan); err != nil {
			return queued, err
		}
		return queued, nil
	}
	return queued, fmt.Errorf("case %d: escalation rules did not settle", caseID)
}

func (s *Store) storeTimers(ctx context.Context, tx *sqlx.Tx, caseID int64, plan []Deadline) error {
	if !s.hasNoTimers(tx, caseID) {
		if _, err := s.exec(ctx, tx, "delete-timers", caseID); err != nil {
			return fmt.Errorf("case %d: clear timers: %w", caseID, err)
		}
	}
	if len(plan) == 0 {
		return nil
	}
	s.timersStored(tx, caseID)
	rules := make([]string, len(plan))
	since := make([]string, len(plan))
	due := make([]string, len(plan))
	for i, d := range plan {
		rules[i], since[i], due[i] = d.Rule, d.Since.UTC().Format(time.RFC3339Nano), d.Due.UTC().Format(time.RFC3339Nano)
	}
	if _, err := s.exec(ctx, tx, "insert-timers", caseID, pq.Array(rules), pq.Array(since), pq.Array(due)); err != nil {
		return fmt.Errorf("case %d: store timers: %w", caseID, err)
	}
	return nil
}

func (s *Store) rule(name string) *Rule {
	for i := range s.opts.Rules {
		if s.opts.Rules[i].Name == name {
			return &s.opts.Rules[i]
		}
	}
	return nil
}

// fire runs the actions of deadline d on a case, unless its cycle fired
// before; the record, the mail and the event commit together with the
// caller's transaction. It reports whether it fired.
func (s *Store) fire(ctx context.Context, tx *sqlx.Tx, caseID int64, d Deadline, now time.Time) (bool, error) {
	r := s.rule(d.Rule)
	actions := make([]string, len(r.Actions))
	for i, a := range r.Actions {
		actions[i] = a.String()
	}
	err := s.row(ctx, tx, "record-escalation", caseID, r.Name, d.Since, d.Due, now, pq.Array(actions)).Scan(new(int64))
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // this cycle fired before
	}
	if err != nil {
		return false, fmt.Errorf("case %d: record escalation %s: %w", caseID, r.Name, err)
	}
	why := r.Describe()
	detail := fmt.Sprintf("rule %q (%s): %s", r.Name, why, strings.Join(actions, ", "))
	if late := now.Sub(d.Due); late >= time.Minute {
		detail += fmt.Sprintf("; due %s, fired %s late", d.Due.In(r.Calendar.Location()).Format(timeLayout), late.Round(time.Second))
	}
	if err := s.addEvent(ctx, tx, caseID, now, "escalated", "casegate", 0, detail); err != nil {
		return false, err
	}
	for _, a := range r.Actions {
		if err := s.act(ctx, tx, caseID, r, a, now); err != nil {
			return false, fmt.Errorf("case %d: rule %s: %s: %w", caseID, r.Name, a, err)
		}
	}
	s.opts.Logger.Info("escalation: rule fired", "case", caseID, "rule", r.Name, "actions", actions)
	return true, nil
}

const timeLayout = "2006-01-02 15:04 MST"

func (s *Store) act(ctx context.Context, tx *sqlx.Tx, caseID int64, r *Rule, a Action, now time.Time) error {
	switch a.Kind {
	case ActionCCPR:
		if s.opts.PR.Address == "" {
			return s.addEvent(ctx, tx, caseID, now, "escalation-skipped", "casegate", 0, "cc_pr: no PR address configured")
		}
		pr := strings.ToLower(s.opts.PR.Address)
		if _, err := s.exec(ctx, tx, "add-pr-participant", caseID, pr, s.opts.PR.Name, now); err != nil {
			return fmt.Errorf("add PR participant: %w", err)
		}
		return s.sendDigest(ctx, tx, caseID, r, s.opts.PR, now)
	case ActionNotify:
		return s.sendDigest(ctx, tx, caseID, r, mail.Address{Address: a.Address}, now)
	case ActionPriority:
		err := s.row(ctx, tx, "raise-priority", caseID, string(a.Priority), now).Scan(new(int64))
		if errors.Is(err, sql.ErrNoRows) {
			return nil // already as high or higher
		}
		if err != nil {
			return err
		}
		return s.addEvent(ctx, tx, caseID, now, "priority", "casegate", 0, fmt.Sprintf("%s (rule %s)", a.Priority, r.Name))
	case ActionHoldingReply:
		return s.sendHoldingReply(ctx, tx, caseID, r, now)
	}
	return fmt.Errorf("%w: unknown action %q", ErrBadRule, a.Kind)
}

type digestCase struct {
	Subject       string    `db:"subject"`
	Customer      string    `db:"customer"`
	Category      string    `db:"category"`
	Risk          string    `db:"risk"`
	Priority      string    `db:"priority"`
	Status        string    `db:"status"`
	OpenedAt      time.Time `db:"opened_at"`
	CustomerName  string    `db:"customer_name"`
	CustomerWrote bool      `db:"customer_wrote"`
	LastMessageID string    `db:"last_message_id"`
	// Customer mail is written in the case's language and time zone
	// (caseLocale).
	ResolvedAt sql.NullTime `db:"resolved_at"`
	Language   string       `db:"language"`
	TimeZone   string       `db:"timezone"`
}

// sendDigest queues the escalation digest of a case to one address: who,
// what, the timeline, the last messages, why, and how to reply (a reply
// files as a staff reply on the case).
func (s *Store) sendDigest(ctx context.Context, tx *sqlx.Tx, caseID int64, r *Rule, to mail.Address, now time.Time) error {
	var c digestCase
	if err := tx.GetContext(ctx, &c, s.q["digest-case"], caseID); err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	loc := r.Calendar.Location()
	data := templates.DigestData{
		Case: caseID, Subject: c.Subject, Customer: c.Customer, CustomerName: c.CustomerName,
		Category: c.Category, Risk: c.Risk, Priority: c.Priority, Status: c.Status,
		Opened: c.OpenedAt.In(loc).Format(timeLayout), Rule: r.Name, Why: r.Describe(),
		ReplyAddress: s.ReplyAddress(caseID, RoleStaff), Team: s.opts.Team,
	}
	rows, err := s.rows(ctx, tx, "digest-timeline", caseID)
	if err != nil {
		return fmt.Errorf("digest timeline: %w", err)
	}
	for rows.Next() {
		var at time.Time
		var l templates.TimelineLine
		if err := rows.Scan(&at, &l.Kind, &l.Actor, &l.Detail); err != nil {
			rows.Close()
			return err
		}
		l.At = at.In(loc).Format(timeLayout)
		if l.Kind == "classified" || l.Kind == "risk" {
			data.Evidence = append(data.Evidence, l.Detail)
		}
		data.Timeline = append(data.Timeline, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = s.rows(ctx, tx, "digest-messages", caseID)
	if err != nil {
		return fmt.Errorf("digest messages: %w", err)
	}
	for rows.Next() {
		var at time.Time
		var m templates.DigestMessage
		if err := rows.Scan(&at, &m.Direction, &m.From, &m.Text); err != nil {
			rows.Close()
			return err
		}
		m.At = at.In(loc).Format(timeLayout)
		if len(m.Text) > 4000 {
			m.Text = strings.ToValidUTF8(m.Text[:4000], "") + "\n[…]"
		}
		data.LastMessages = append(data.LastMessages, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	text, err := s.settings().Templates.Render(templates.EscalationDigest, data)
	if err != nil {
		return err
	}
	m := s.automaticMail(caseID, RoleStaff, mailout.AutoGenerated, text)
	m.To = []mail.Address{to}
	if c.LastMessageID != "" {
		m.InReplyTo, m.References = c.LastMessageID, []string{c.LastMessageID}
	}
	return s.queueOutbound(ctx, tx, caseID, m, "digest", fmt.Sprintf("to %s (rule %s)", to.Address, r.Name), now)
}

// sendHoldingReply tells the customer their case has been escalated, with
// PR in copy. It never answers a case only robots wrote to (RFC 3834).
func (s *Store) sendHoldingReply(ctx context.Context, tx *sqlx.Tx, caseID int64, r *Rule, now time.Time) error {
	var c digestCase
	if err := tx.GetContext(ctx, &c, s.q["digest-case"], caseID); err != nil {
		return fmt.Errorf("holding reply: %w", err)
	}
	if !c.CustomerWrote {
		return s.addEvent(ctx, tx, caseID, now, "escalation-skipped", "casegate", 0,
			"holding_reply: the customer sent no mail written by a person (RFC 3834)")
	}
	lang, _ := s.caseLocale(c.Language, c.TimeZone)
	text, err := s.settings().Templates.RenderLang(templates.HoldingReply, lang, templates.HoldingReplyData{
		Case: caseID, Subject: stripSubjectPrefixes(c.Subject), CustomerName: c.CustomerName, Team: s.opts.Team,
	})
	if err != nil {
		return err
	}
	return s.queueToCustomer(ctx, tx, caseID, c, text, "holding-reply", fmt.Sprintf("to %s (rule %s)", c.Customer, r.Name), now)
}

// queueOutbound enqueues an automatic mail of a case and files it on the
// case, so a reply to it threads by References.
func (s *Store) queueOutbound(ctx context.Context, tx *sqlx.Tx, caseID int64, m *mailout.Message, kind, detail string, now time.Time) error {
	var irt []string
	if m.InReplyTo != "" {
		irt = []string{m.InReplyTo}
	}
	row, err := s.enqueueOnCase(ctx, tx, caseID, m, irt, true, now)
	if err != nil {
		return fmt.Errorf("store %s: %w", kind, err)
	}
	return s.addEvent(ctx, tx, caseID, now, kind, "casegate", row, detail)
}

// prCopies lists the PR participants of a case: every later mail of the
// case copies them.
func (s *Store) prCopies(ctx context.Context, tx *sqlx.Tx, caseID int64) ([]mail.Address, error) {
	var rows []struct {
		Address string `db:"address"`
		Name    string `db:"name"`
	}
	if err := tx.SelectContext(ctx, &rows, s.q["pr-participants"], caseID); err != nil {
		return nil, fmt.Errorf("case %d: PR participants: %w", caseID, err)
	}
	var out []mail.Address
	for _, r := range rows {
		out = append(out, mail.Address{Name: r.Name, Address: r.Address})
	}
	return out, nil
}
