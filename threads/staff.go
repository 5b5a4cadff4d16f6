package threads

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"casegate/mailout"
	"casegate/templates"
)

// ParticipantRole mirrors the participant_role ENUM.
type ParticipantRole string

// Participant roles.
const (
	ParticipantCustomer ParticipantRole = "customer"
	ParticipantCC       ParticipantRole = "cc"
	ParticipantStaff    ParticipantRole = "staff"
	ParticipantPR       ParticipantRole = "pr"
)

// route is what filing learnt about a message on an existing case before
// changing the case: whether it carries staff authority (DESIGN.md, "Who is
// staff?") and whether it asks for the case's status.
type route struct {
	token         Role   // role of a valid token for this case among the recipients; "" for none
	staffSender   bool   // the From address is in the staff directory (PR included)
	proof         string // what proves the sender's origin; "" for nothing
	statusRequest bool   // "status", from a participant
}

// authorised reports whether all three proofs of staff authority hold.
func (r route) authorised() bool {
	return r.staffSender && r.proof != "" && (r.token == RoleStaff || r.token == RoleNote)
}

// claimsStaff reports whether the message looks like staff mail: sent to a
// staff or note address, or From a staff address.
func (r route) claimsStaff() bool {
	return r.token == RoleStaff || r.token == RoleNote || r.staffSender
}

// keepsStatus reports whether filing in must leave the case's status alone:
// staff replies change it only by command, and asking for the status (by
// anyone) does not reopen a resolved case. Everything else is touch-case's
// business.
func (r route) keepsStatus(in *Inbound) bool {
	return r.authorised() && !in.Automatic || isStatusRequest(in)
}

// whyNotStaff lists which proofs of staff authority r lacks.
func (r route) whyNotStaff(in *Inbound) []string {
	var why []string
	if !r.staffSender {
		why = append(why, fmt.Sprintf("the sender %s is not in the staff directory", in.From.Address))
	}
	if r.proof == "" {
		why = append(why, "nothing proves where it came from: no aligned DKIM signature, no DMARC pass, no SMTP AUTH, not from a trusted network")
	}
	if r.token != RoleStaff && r.token != RoleNote {
		why = append(why, "it was not sent to the case's staff reply address (no valid staff token)")
	}
	return why
}

// isStaff reports whether addr is in the staff directory; the PR mailbox
// counts as staff.
func (s *Store) isStaff(addr string) bool {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if addr == "" {
		return false
	}
	for _, a := range s.settings().Staff {
		if strings.EqualFold(a, addr) {
			return true
		}
	}
	return s.opts.PR.Address != "" && strings.EqualFold(s.opts.PR.Address, addr)
}

// proof says what, if anything, proves that in comes from its From address.
func proof(in *Inbound) string {
	switch {
	case in.Auth.SMTPAuth != "":
		return "SMTP AUTH as " + in.Auth.SMTPAuth
	case in.Auth.DKIMAligned:
		return "aligned DKIM"
	case in.Auth.DMARCPass:
		return "DMARC pass"
	case in.Auth.Trusted:
		return "trusted source"
	}
	return ""
}

// route reads what in is to case caseID (see route).
func (s *Store) route(ctx context.Context, tx *sqlx.Tx, caseID int64, in *Inbound) (route, error) {
	r := route{staffSender: s.isStaff(in.From.Address), proof: proof(in)}
	for _, rcpt := range in.Recipients {
		local, _, _ := strings.Cut(strings.ToLower(rcpt), "@")
		base, detail, ok := strings.Cut(local, "+")
		if !ok || base != s.supportBase {
			continue
		}
		id, role, ok := parseReplyToken(s.opts.Secret, detail)
		if !ok || id != caseID {
			continue
		}
		// A note address wins over a staff one: a note is never relayed.
		if role == RoleNote || role == RoleStaff && r.token != RoleNote || r.token == "" {
			r.token = role
		}
	}
	if isStatusRequest(in) && !r.authorised() {
		role, err := s.participantRole(ctx, tx, caseID, in.From.Address)
		if err != nil {
			return r, err
		}
		r.statusRequest = role != ""
	}
	return r, nil
}

func (s *Store) participantRole(ctx context.Context, tx *sqlx.Tx, caseID int64, addr string) (ParticipantRole, error) {
	var role ParticipantRole
	err := s.row(ctx, tx, "participant-role", caseID, strings.ToLower(addr)).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return role, err
}

// addParticipant puts addr on the case with role unless it is there already,
// and records an event when it was added.
func (s *Store) addParticipant(ctx context.Context, tx *sqlx.Tx, caseID int64, addr mail.Address, role ParticipantRole, actor, why string, now time.Time) error {
	var added string
	err := s.row(ctx, tx, "add-participant", caseID, strings.ToLower(addr.Address), addr.Name, string(role), now).Scan(&added)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("add participant %s: %w", addr.Address, err)
	}
	return s.addEvent(ctx, tx, caseID, now, "participant", actor, 0, fmt.Sprintf("%s added as %s: %s", added, role, why))
}

// workByMail does what a filed message means beyond filing: staff are told
// of new cases and customer messages, staff replies are relayed and their
// commands applied, impostors are reported, status requests answered. It
// runs in the filing transaction and reports whether it queued mail.
func (s *Store) workByMail(ctx context.Context, tx *sqlx.Tx, f Filed, in *Inbound, r route, now time.Time) (bool, error) {
	if !f.NewCase && r.authorised() {
		if in.Automatic {
			// An out-of-office answer to a notification must never reach the customer.
			return false, s.addEvent(ctx, tx, f.Case, now, "not-relayed", in.From.Address, f.Message, "automatic mail from staff is never relayed (RFC 3834): "+in.Why)
		}
		return s.staffReply(ctx, tx, f, in, r, now)
	}
	if !f.NewCase && r.claimsStaff() {
		detail := "filed as an ordinary message: " + strings.Join(r.whyNotStaff(in), "; ")
		if err := s.addEvent(ctx, tx, f.Case, now, "not-staff", in.From.Address, f.Message, detail); err != nil {
			return false, err
		}
		if in.Automatic {
			return false, nil
		}
		return s.tellNotAuthorised(ctx, tx, f.Case, in, r, now)
	}
	if in.Automatic {
		return false, nil // filed; nobody is told of robots (no loops with staff auto-replies)
	}
	if err := s.addCopiedParticipants(ctx, tx, f.Case, in, now); err != nil {
		return false, err
	}
	if r.statusRequest {
		return true, s.replyStatus(ctx, tx, f.Case, in, now)
	}
	if !f.NewCase && isStatusRequest(in) {
		// Someone who is not on the case learns nothing about it.
		return false, s.addEvent(ctx, tx, f.Case, now, "status-refused", in.From.Address, f.Message, "not a participant of the case")
	}
	return s.notifyStaff(ctx, tx, f, in, now)
}

// staffReply applies the commands at the top of an authorised staff reply
// and relays the rest to the customer, or records it as an internal note.
// A command that cannot be applied applies none of them and relays nothing:
// the sender is told why.
func (s *Store) staffReply(ctx context.Context, tx *sqlx.Tx, f Filed, in *Inbound, r route, now time.Time) (bool, error) {
	actor := strings.ToLower(in.From.Address)
	if err := s.addEvent(ctx, tx, f.Case, now, "staff", actor, f.Message, fmt.Sprintf("staff authority: directory, %s, %s token", r.proof, r.token)); err != nil {
		return false, err
	}
	cmds, text, errs := s.parseCommands(in.unsigned()) // the staff member's signature stays inside
	note := r.token == RoleNote
	for _, c := range cmds {
		note = note || c.name == cmdNote
	}
	if len(errs) == 0 && len(cmds) == 0 && !note && text == "" && len(in.Attachments) == 0 {
		errs = append(errs, "there is no new text above the quoted message, so nothing was sent to the customer")
	}
	if len(errs) == 0 {
		var err error
		if errs, err = s.applyCommands(ctx, tx, f.Case, cmds, actor, now); err != nil {
			return false, err
		}
	}
	if len(errs) > 0 {
		if err := s.addEvent(ctx, tx, f.Case, now, "commands-rejected", actor, f.Message, strings.Join(errs, "; ")); err != nil {
			return false, err
		}
		return true, s.replyCommandError(ctx, tx, f.Case, in, errs, now)
	}
	if err := s.addParticipant(ctx, tx, f.Case, mail.Address{Name: in.From.Name, Address: actor}, ParticipantStaff, actor, "replied as staff", now); err != nil {
		return false, err
	}
	if note {
		detail := text
		for _, a := range in.Attachments {
			detail += "\n[attached: " + a.Filename + "]"
		}
		return true, s.addEvent(ctx, tx, f.Case, now, "note", actor, f.Message, strings.TrimSpace(detail)) // true: #escalate may have queued mail
	}
	if text == "" && len(in.Attachments) == 0 {
		return true, nil // commands only; #escalate may have queued mail
	}
	c, err := s.lockedCase(ctx, tx, f.Case)
	if err != nil {
		return false, err
	}
	if c.Status == StatusNew {
		if err := s.changeStatus(ctx, tx, f.Case, StatusOpen, actor, "staff replied", now); err != nil {
			return false, err
		}
	}
	// A reply to the customer meets the deadlines that wait for staff.
	if err := s.staffResponded(ctx, tx, f.Case, now); err != nil {
		return false, err
	}
	return true, s.relay(ctx, tx, c, in, text, now)
}

// lockedCase reads the header of a case the transaction has locked.
func (s *Store) lockedCase(ctx context.Context, tx *sqlx.Tx, id int64) (Case, error) {
	var c Case
	if err := tx.GetContext(ctx, &c, s.q["case-header"], id); err != nil {
		return c, fmt.Errorf("case %d: %w", id, err)
	}
	return c, nil
}

// relay sends a staff member's words to the customer side from the support
// address, threaded under the customer's latest message. The staff member's
// address never appears in it; their name only with ShowNames.
func (s *Store) relay(ctx context.Context, tx *sqlx.Tx, c Case, in *Inbound, text string, now time.Time) error {
	data := templates.RelayedData{Case: c.ID, Subject: stripSubjectPrefixes(c.Subject), Text: text, Team: s.opts.Team}
	fromName := s.opts.Team
	if s.opts.ShowNames && strings.TrimSpace(in.From.Name) != "" {
		data.StaffName = templates.HeaderValue(in.From.Name)
		fromName = data.StaffName + " (" + s.opts.Team + ")"
	}
	lang, _ := s.caseLocale(c.Language, c.TimeZone)
	rendered, err := s.settings().Templates.RenderLang(templates.Relayed, lang, data)
	if err != nil {
		return err
	}
	var to, cc []mail.Address
	rows, err := s.rows(ctx, tx, "relay-recipients", c.ID)
	if err != nil {
		return fmt.Errorf("relay recipients: %w", err)
	}
	for rows.Next() {
		var addr, name string
		var role ParticipantRole
		if err := rows.Scan(&addr, &name, &role); err != nil {
			rows.Close()
			return err
		}
		if strings.EqualFold(addr, in.From.Address) {
			continue
		}
		if role == ParticipantCustomer {
			to = append(to, mail.Address{Name: name, Address: addr})
		} else {
			cc = append(cc, mail.Address{Name: name, Address: addr})
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if len(to) == 0 {
		to = []mail.Address{{Address: c.Customer}}
	}
	parent, refs, err := s.customerThread(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	m := &mailout.Message{
		From:       mail.Address{Name: fromName, Address: s.opts.Support.Address},
		To:         to,
		Cc:         cc,
		ReplyTo:    []mail.Address{{Name: s.opts.Team, Address: s.ReplyAddress(c.ID, RoleCustomer)}},
		Subject:    rendered.Subject,
		MessageID:  mailout.NewMessageID(s.domain),
		InReplyTo:  parent,
		References: refs,
		Auto:       mailout.Human,
		Loop:       s.domain,
		Text:       rendered.Text,
		HTML:       rendered.HTML,
	}
	for _, a := range in.Attachments {
		b, err := a.Bytes() // a large one is decoded again from the raw message
		if err != nil {
			return fmt.Errorf("relay attachment %q: %w", a.Filename, err)
		}
		m.Attachments = append(m.Attachments, mailout.Attachment{Filename: a.Filename, ContentType: a.ContentType, Data: b})
	}
	row, err := s.queue(ctx, tx, c.ID, m, parent, now)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	return s.addEvent(ctx, tx, c.ID, now, "relayed", strings.ToLower(in.From.Address), row, "to "+strings.Join(m.Recipients(), ", "))
}

// customerThread returns the Message-ID of the customer side's latest
// message and the References of a reply to it (RFC 5322 §3.6.4: its
// References, or else its In-Reply-To, then its own id).
func (s *Store) customerThread(ctx context.Context, tx *sqlx.Tx, caseID int64) (string, []string, error) {
	var id, text string
	var raw []byte
	err := s.row(ctx, tx, "last-customer-message", caseID).Scan(&id, &raw, &text)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("customer's last message: %w", err)
	}
	var refs []string
	if e, err := message.Read(bytes.NewReader(raw)); e != nil {
		h := mail.Header{Header: e.Header}
		if refs, err = h.MsgIDList("References"); err != nil || len(refs) == 0 {
			refs, _ = h.MsgIDList("In-Reply-To")
		}
	}
	// Keep the root and the newest: some servers reject very long headers.
	if len(refs) > 20 {
		refs = append(refs[:1], refs[len(refs)-19:]...)
	}
	return id, append(refs, id), nil
}

// queue enqueues m and files it on the case as an outbound message.
func (s *Store) queue(ctx context.Context, tx *sqlx.Tx, caseID int64, m *mailout.Message, inReplyTo string, now time.Time) (int64, error) {
	var parents []string
	if inReplyTo != "" {
		parents = []string{inReplyTo}
	}
	return s.enqueueOnCase(ctx, tx, caseID, m, parents, m.Auto != mailout.Human, now)
}

// staffList is the staff directory as mail recipients.
func (s *Store) staffList() []mail.Address {
	var out []mail.Address
	for _, a := range s.settings().Staff {
		out = append(out, mail.Address{Address: a})
	}
	return out
}

// staffArray is the staff directory (PR included) for SQL.
func (s *Store) staffArray() any {
	staff := s.settings().Staff
	list := make([]string, 0, len(staff)+1)
	for _, a := range staff {
		list = append(list, strings.ToLower(a))
	}
	if s.opts.PR.Address != "" {
		list = append(list, strings.ToLower(s.opts.PR.Address))
	}
	return pq.Array(list)
}
