package threads

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

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
	return word(subject) || word(in.NewText)
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
	data := templates.StatusData{
		Case:       c.ID,
		Subject:    stripSubjectPrefixes(c.Subject),
		Status:     string(c.Status),
		ReceivedAt: timeText(c.OpenedAt),
		Team:       s.opts.Team,
	}
	if next, err := s.deadlines(ctx, tx, caseID); err != nil {
		return err
	} else if len(next) > 0 {
		data.NextDeadline = next[0]
	}
	var kind string
	var at time.Time
	err = s.row(ctx, tx, "last-staff-action", caseID, s.staffArray()).Scan(&kind, &at)
	switch {
	case err == nil:
		data.LastStaffAction = map[string]string{"relayed": "replied", "status": "changed the status", "assigned": "took the case"}[kind] + " on " + timeText(at)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("last staff action: %w", err)
	}
	if c.Assignee != "" {
		// The customer never sees a staff member's address unless names are shown.
		data.Assignee = "a member of our team"
		if s.opts.ShowNames {
			data.Assignee = c.Assignee
		}
	}
	rendered, err := s.settings().Templates.Render(templates.StatusReply, data)
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
	for _, list := range [][]mail.Address{in.To, in.Cc} { // parsed by mailin, raw 8-bit names decoded
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
