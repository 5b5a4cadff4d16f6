package threads

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate/mailout"
	"casegate/templates"
)

// isStatusRequest reports whether in asks for its case's status: the word
// "status" as the whole subject (after "Re:" and the case tag) or as the
// whole new text.
func isStatusRequest(in *Inbound) bool {
	word := func(s string) bool {
		s = strings.Trim(strings.TrimSpace(s), ".!?:")
		return strings.EqualFold(s, "status")
	}
	subject := strings.TrimSpace(caseNumberMention.ReplaceAllString(stripSubjectPrefixes(in.Subject), ""))
	return word(subject) || word(in.unsigned())
}

// unsigned is NewText without the author's signature: what a staff reply
// relays, and where a "status" request is read ("status" above "Sent from
// my iPhone" still asks).
func (in *Inbound) unsigned() string {
	if in.Signature == "" {
		return in.NewText
	}
	return strings.TrimRight(strings.TrimSuffix(in.NewText, in.Signature), " \t\r\n")
}

// caseNumberMention is a case number quoted in a status request: "#1042".
var caseNumberMention = regexp.MustCompile(`#(\d{1,18})\b`)

// threadStatusRequest finds the case a status request names by number
// ("status #1042") when nothing else threaded it, but only for a participant
// of that case: nobody else learns anything about it.
func (s *Store) threadStatusRequest(ctx context.Context, tx *sqlx.Tx, in *Inbound) (int64, string, error) {
	if !isStatusRequest(in) {
		return 0, "", nil
	}
	caseID, err := s.mentionedCase(ctx, tx, caseNumberMention, in.Subject+"\n"+in.NewText, in.From.Address)
	if err != nil || caseID == 0 {
		return 0, "", err
	}
	return caseID, "case number in a status request", nil
}

// replyStatus answers a participant's status request (RFC 3834 §3: an
// automatic reply, never to automatic mail; the caller checks that).
func (s *Store) replyStatus(ctx context.Context, tx *sqlx.Tx, caseID int64, in *Inbound, now time.Time) error {
	c, err := s.lockedCase(ctx, tx, caseID)
	if err != nil {
		return err
	}
	// In the case's language and zone, in plain words: no rule names.
	lang, zone := s.caseLocale(c.Language, c.TimeZone)
	data := templates.StatusData{
		Case:       c.ID,
		Subject:    stripSubjectPrefixes(c.Subject),
		Status:     string(c.Status),
		ReceivedAt: templates.NewMoment(c.OpenedAt, zone, now),
		Assigned:   c.Assignee != "",
		Team:       s.opts.Team,
	}
	if c.Status == StatusNew || c.Status == StatusOpen {
		by, err := s.answerBy(ctx, tx, caseID)
		if err != nil {
			return err
		}
		data.AnswerBy = templates.NewMoment(by, zone, now)
	}
	var kind string
	var at time.Time
	err = s.row(ctx, tx, "last-staff-action", caseID, s.staffArray()).Scan(&kind, &at)
	switch {
	case err == nil:
		data.LastStaffAction = map[string]string{"relayed": "replied", "status": "changed-status", "assigned": "took-case"}[kind]
		data.LastStaffActionAt = templates.NewMoment(at, zone, now)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("last staff action: %w", err)
	}
	if c.Assignee != "" && s.opts.ShowNames {
		data.Assignee = c.Assignee // without show_names the template says "a member of our team"
	}
	rendered, err := s.settings().Templates.RenderLang(templates.StatusReply, lang, data)
	if err != nil {
		return err
	}
	m := s.automaticMail(caseID, RoleCustomer, mailout.AutoReplied, rendered)
	m.To = []mail.Address{{Name: in.From.Name, Address: in.From.Address}}
	m.InReplyTo, m.References = in.MessageID, in.replyReferences()
	row, err := s.queue(ctx, tx, caseID, m, in.MessageID, now)
	if err != nil {
		return fmt.Errorf("status reply: %w", err)
	}
	return s.addEvent(ctx, tx, caseID, now, "status-sent", "casegate", row, "to "+in.From.Address)
}

// answerBy is when staff are due to answer the customer: the soonest
// deadline of a rule that waits for a staff reply (no_staff_reply,
// customer_messages_at_least); zero when none runs.
func (s *Store) answerBy(ctx context.Context, tx *sqlx.Tx, id int64) (time.Time, error) {
	if len(s.opts.Rules) == 0 {
		return time.Time{}, nil
	}
	waitsForStaff := map[string]bool{}
	for _, r := range s.opts.Rules {
		waitsForStaff[r.Name] = r.When == WhenNoStaffReply || r.When == WhenCustomerMessages
	}
	rows, err := s.rows(ctx, tx, "case-deadlines", id)
	if err != nil {
		return time.Time{}, fmt.Errorf("case %d: deadlines: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() { // soonest first
		var rule string
		var due time.Time
		if err := rows.Scan(&rule, &due); err != nil {
			return time.Time{}, err
		}
		if waitsForStaff[rule] {
			return due, rows.Close()
		}
	}
	return time.Time{}, rows.Err()
}

// addCopiedParticipants makes the addresses a customer put in To or Cc
// participants of the case (role cc, copied on replies), when the
// configuration allows it. Our own addresses and staff are never added.
func (s *Store) addCopiedParticipants(ctx context.Context, tx *sqlx.Tx, caseID int64, in *Inbound, now time.Time) error {
	if !s.opts.AddCCParticipants {
		return nil
	}
	role, err := s.participantRole(ctx, tx, caseID, in.From.Address)
	if err != nil || role != ParticipantCustomer {
		return err
	}
	e, _ := message.Read(bytes.NewReader(in.Raw))
	if e == nil {
		return nil
	}
	h := mail.Header{Header: e.Header}
	for _, field := range []string{"To", "Cc"} {
		list, _ := h.AddressList(field) // a list that does not parse adds nobody
		for _, a := range list {
			addr := strings.ToLower(a.Address)
			_, domain, _ := strings.Cut(addr, "@")
			if domain == "" || domain == s.domain || s.isStaff(addr) || strings.EqualFold(addr, in.From.Address) {
				continue
			}
			if err := s.addParticipant(ctx, tx, caseID, mail.Address{Name: a.Name, Address: addr}, ParticipantCC, strings.ToLower(in.From.Address), "copied by the customer", now); err != nil {
				return err
			}
		}
	}
	return nil
}
