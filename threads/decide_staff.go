package threads

import (
	"fmt"
	"strings"

	"github.com/emersion/go-message/mail"

	"casegate/mailout"
	"casegate/templates"
	"casegate/vocab"
)

// route is what a message on an existing case is to the case: whether it
// carries staff authority (DESIGN.md, "Who is staff?") and whether it asks
// for the case's status.
type route struct {
	token         vocab.Role // staff or note token for this case ("" for none), fresh
	staffSender   bool       // the From address is in the staff directory (PR included)
	proof         string     // what proves the sender's origin; "" for nothing
	statusRequest bool       // "status" (whether the sender may be told is the case's business)
	// staleStaff: a proven staff sender wrote to a staff or note address of
	// the case that no longer works (stale says why).
	staleStaff bool
	stale      string
	// directStaff: a proven staff sender wrote without a staff token (a
	// reply to the customer from their own client, support in Cc/Bcc).
	directStaff bool
}

// authorised reports whether all three proofs of staff authority hold.
func (r route) authorised() bool {
	return r.staffSender && r.proof != "" && (r.token == vocab.RoleStaff || r.token == vocab.RoleNote)
}

// claimsStaff reports whether the message looks like staff mail.
func (r route) claimsStaff() bool {
	return r.token == vocab.RoleStaff || r.token == vocab.RoleNote || r.staffSender
}

// whyNotStaff lists which proofs of staff authority r lacks.
func (r route) whyNotStaff(in *vocab.Inbound) []string {
	var why []string
	if !r.staffSender {
		why = append(why, fmt.Sprintf("the sender %s is not in the staff directory", in.From.Address))
	}
	if r.proof == "" {
		why = append(why, "nothing proves where it came from: no aligned DKIM signature, no DMARC pass, no SMTP AUTH, not from a trusted network")
	}
	if r.token != vocab.RoleStaff && r.token != vocab.RoleNote {
		why = append(why, "it was not sent to the case's staff reply address (no valid staff token)")
	}
	return why
}

// route reads what in is to case c.
func (d *decider) route(c *caseState, in *vocab.Inbound, sn *snapshot) route {
	r := route{staffSender: d.isStaff(in.From.Address)}
	if !in.MultipleFrom {
		r.proof = in.Auth.Proof()
	}
	t := sn.token
	if t.Case == c.ID {
		role := vocab.Role("")
		if t.has(vocab.RoleNote) { // a note address wins: a note is never relayed
			role = vocab.RoleNote
		} else if t.has(vocab.RoleStaff) {
			role = vocab.RoleStaff
		}
		if role != "" {
			if stale := d.staleToken(c, t); stale != "" {
				r.staleStaff, r.stale = r.staffSender && r.proof != "", stale
			} else {
				r.token = role
			}
		}
	}
	r.directStaff = r.staffSender && r.proof != "" && r.token == "" && !r.staleStaff
	r.statusRequest = !r.authorised() && isStatusRequest(in)
	return r
}

// staffReply applies the commands at the top of an authorised staff reply
// and relays the rest to the customer, or records it as an internal note.
// A command that cannot be applied applies none of them and relays
// nothing: the sender is told why.
func (d *decider) staffReply(p *plan, c *caseState, in *vocab.Inbound, r route) {
	actor := strings.ToLower(in.From.Address)
	d.messageEvent(p, "staff", actor, fmt.Sprintf("staff authority: directory, %s, %s token", r.proof, r.token))
	cmds, text, errs := d.parseCommands(in.Unsigned()) // the staff member's signature stays inside
	note := r.token == vocab.RoleNote
	for _, cmd := range cmds {
		note = note || cmd.name == cmdNote
	}
	if len(errs) == 0 && len(cmds) == 0 && !note && text == "" && len(in.Attachments) == 0 {
		errs = append(errs, "there is no new text above the quoted message, so nothing was sent to the customer")
	}
	// Commands apply to a copy: all of them or, on the first that cannot
	// be applied, none.
	trial := &plan{snap: p.snap}
	tc := c.clone()
	resolved := false
	if len(errs) == 0 {
		for _, cmd := range cmds {
			if err := d.applyCommand(trial, tc, cmd, actor); err != "" {
				errs = append(errs, fmt.Sprintf("line %d, #%s: %s", cmd.line, cmd.name, err))
				break
			}
			resolved = resolved || cmd.name == cmdResolve
		}
	}
	if len(errs) > 0 {
		d.messageEvent(p, "commands-rejected", actor, strings.Join(errs, "; "))
		d.replyCommandError(p, c, in, errs)
		return
	}
	*c = *tc
	p.absorb(trial)
	if trial.Merge != nil {
		// The case goes on as the one it joined; nothing is relayed on
		// the merged case (the merge told the customer).
		p.Case, p.Version, p.Merge = c, trial.Version, trial.Merge
		return
	}
	if note {
		detail := text
		for _, a := range in.Attachments {
			detail += "\n[attached: " + a.Filename + "]"
		}
		d.messageEvent(p, "note", actor, strings.TrimSpace(detail))
		return
	}
	staff := participant{Address: actor, Name: in.From.Name, Role: vocab.ParticipantStaff}
	if c.participant(actor) == nil {
		c.Participants = append(c.Participants, staff)
		p.Participants = append(p.Participants, staff)
		d.event(p, "participant", actor, actor+" added as staff: replied as staff")
	}
	if text == "" && len(in.Attachments) == 0 {
		if resolved {
			d.resolutionNotice(p, c)
		}
		return // commands only
	}
	if c.Status == vocab.StatusNew {
		d.setStatus(p, c, vocab.StatusOpen, actor, "staff replied")
	}
	d.staffResponded(c, "replied")
	d.relay(p, c, in, text, resolved)
}

// absorb adds what a trial plan (of staff commands) decided to p.
func (p *plan) absorb(t *plan) {
	p.Events = append(p.Events, t.Events...)
	p.Intents = append(p.Intents, t.Intents...)
	p.Participants = append(p.Participants, t.Participants...)
	p.Escalations = append(p.Escalations, t.Escalations...)
	p.AutoAnswers = append(p.AutoAnswers, t.AutoAnswers...)
	p.Capped = append(p.Capped, t.Capped...)
}

// staffResponded records that staff acted on c: the deadlines that wait
// for staff are met.
func (d *decider) staffResponded(c *caseState, action string) {
	c.StaffRespondedAt = d.now
	c.Book.Unanswered = nil
	c.Book.PromisedBy = timeZero // what a holding reply promised is kept
	c.Book.LastStaffAction = &staffAction{Kind: action, At: d.now}
}

// relay sends a staff member's words to the customer side from the
// support address, threaded under what the customer has. The staff
// member's address never appears in it; their name only with ShowNames.
// resolved adds the resolution to the same mail: one event, one mail.
func (d *decider) relay(p *plan, c *caseState, in *vocab.Inbound, text string, resolved bool) {
	data := &templates.RelayedData{Subject: stripSubjectPrefixes(c.Subject), Text: text, Team: d.team(), Resolved: resolved}
	m := d.mail(p, templates.Relayed, mailout.Human, data)
	if d.s.opts.ShowNames && strings.TrimSpace(in.From.Name) != "" {
		data.StaffName = templates.HeaderValue(in.From.Name)
		m.FromName = data.StaffName + " (" + d.team() + ")"
	}
	d.toCustomer(c, m)
	m.To = nil
	for _, pt := range c.Participants {
		if strings.EqualFold(pt.Address, in.From.Address) {
			continue
		}
		switch pt.Role {
		case vocab.ParticipantCustomer:
			m.To = append(m.To, mail.Address{Name: pt.Name, Address: pt.Address})
		case vocab.ParticipantCC:
			m.Cc = append(m.Cc, mail.Address{Name: pt.Name, Address: pt.Address})
		}
	}
	if len(m.To) == 0 {
		m.To = []mail.Address{{Address: c.Customer}}
	}
	m.Source, m.Attach = -1, len(in.Attachments) > 0
	detail := "to " + strings.Join(append(addresses(m.To), addresses(m.Cc)...), ", ")
	if resolved {
		detail += "; with the resolution"
	}
	d.event(p, "relayed", strings.ToLower(in.From.Address), detail)
}

// staffAnsweredDirectly records a proven staff member's mail that reached
// the case without a staff token (an answer from their own client, support
// in Cc or Bcc): it is the staff response on the case — the deadlines that
// wait for staff are met — but carries no commands and is not relayed
// again, the customer has it already.
func (d *decider) staffAnsweredDirectly(p *plan, c *caseState, in *vocab.Inbound, r route) {
	actor := strings.ToLower(in.From.Address)
	d.messageEvent(p, "staff-replied-directly", actor,
		fmt.Sprintf("staff answered the customer from their own mail client (%s); recorded as the staff response, not relayed, no commands", r.proof))
	if c.participant(actor) == nil {
		staff := participant{Address: actor, Name: in.From.Name, Role: vocab.ParticipantStaff}
		c.Participants = append(c.Participants, staff)
		p.Participants = append(p.Participants, staff)
	}
	if c.Status == vocab.StatusNew {
		d.setStatus(p, c, vocab.StatusOpen, actor, "staff replied")
	}
	d.staffResponded(c, "replied")
	// What the customer got is part of her thread.
	c.Book.CustomerThread = keepRecent(append(c.Book.CustomerThread, in.MessageID), 30)
	// The reports count the first staff response.
	d.event(p, "relayed", actor, "answered directly; not relayed by casegate")
	if cmds, _, _ := d.parseCommands(in.Unsigned()); len(cmds) > 0 {
		d.replyCommandError(p, c, in, []string{"your mail is recorded as your answer to the customer, but commands work only in a reply to the case's staff address (the Reply-To of its notifications): nothing was applied"})
	}
}

// replyCommandError answers an authorised staff member whose commands
// could not be applied (RFC 3834 §3: an automatic reply to their message).
func (d *decider) replyCommandError(p *plan, c *caseState, in *vocab.Inbound, errs []string) {
	if ok, why := d.mayAnswer(p, c, in.From.Address, answerToInbound, p.snap, true); !ok {
		d.messageEvent(p, "command-error-skipped", "casegate", why)
		return
	}
	m := d.mail(p, templates.CommandError, mailout.AutoReplied, &templates.CommandErrorData{
		Subject: stripSubjectPrefixes(c.Subject), Errors: errs, Team: d.team(),
	})
	m.To = []mail.Address{{Name: in.From.Name, Address: in.From.Address}}
	m.ReplyTo = vocab.RoleStaff
	m.InReplyTo, m.References = in.MessageID, in.ReplyReferences()
	d.countAnswer(p, c, in.From.Address)
	d.event(p, "command-error-sent", "casegate", "to "+strings.ToLower(in.From.Address))
}

// replyStale tells a proven staff member that the staff address they wrote
// to no longer works; nothing of their mail is applied or relayed. The
// notice's own Reply-To is the case's staff address under the current
// key: after a rotation, replying to it works; a case that ended longer
// than token_ttl ago must be reopened first.
func (d *decider) replyStale(p *plan, c *caseState, in *vocab.Inbound, why string) {
	if ok, whyNot := d.mayAnswer(p, c, in.From.Address, answerToInbound, p.snap, true); !ok {
		d.messageEvent(p, "command-error-skipped", "casegate", whyNot)
		return
	}
	next := "Reply to this mail instead: its reply address is current"
	if p.snap.token.Current {
		next = fmt.Sprintf("To work on it again, reopen it first (casegate case reopen %d), or ask an admin", c.ID)
	}
	m := d.mail(p, templates.CommandError, mailout.AutoReplied, &templates.CommandErrorData{
		Subject: stripSubjectPrefixes(c.Subject), Team: d.team(),
		Errors: []string{"the address you wrote to is stale (" + why + "): nothing was applied and nothing was sent to the customer. " + next},
	})
	m.To = []mail.Address{{Name: in.From.Name, Address: in.From.Address}}
	m.ReplyTo = vocab.RoleStaff
	m.InReplyTo, m.References = in.MessageID, in.ReplyReferences()
	d.countAnswer(p, c, in.From.Address)
	d.event(p, "command-error-sent", "casegate", "stale address; to "+strings.ToLower(in.From.Address))
}

// tellNotAuthorised tells the staff list (one mail) that a message claimed
// staff authority without proving it. Nothing goes to the claimed sender.
func (d *decider) tellNotAuthorised(p *plan, c *caseState, in *vocab.Inbound, r route) {
	to := d.staffList()
	if len(to) == 0 {
		return
	}
	m := d.mail(p, templates.NotAuthorised, mailout.AutoGenerated, &templates.NotAuthorisedData{
		Subject: stripSubjectPrefixes(c.Subject), From: formatAddress(in.From), Reasons: r.whyNotStaff(in), Team: d.team(),
	})
	d.toStaff(c, m, to)
	d.event(p, "staff-warned", "casegate", "to "+strings.Join(addresses(to), ", "))
}

// applyCommand applies one staff command to c, recording into p; it
// returns why it cannot be applied, or "".
func (d *decider) applyCommand(p *plan, c *caseState, cmd command, actor string) string {
	switch cmd.name {
	case cmdPriority:
		c.Priority = cmd.priority
		d.event(p, "priority", actor, string(cmd.priority))
		d.staffResponded(c, "changed-priority")
	case cmdAssign:
		c.Assignee = cmd.address
		d.event(p, "assigned", actor, cmd.address)
		d.staffResponded(c, "took-case")
	case cmdEscalate:
		d.escalateToPR(p, c, actor)
	case cmdNote:
	case cmdMerge:
		return d.merge(p, c, cmd.caseID, actor)
	default:
		if !d.setStatus(p, c, statusOf[cmd.name], actor, "#"+cmd.name+" by mail") {
			return "not allowed while the case is " + string(c.Status)
		}
		d.staffResponded(c, "changed-status")
	}
	return ""
}

// setStatus moves c to status when allowed (and records the event); a
// resolution starts the follow-up, leaving it ends it.
func (d *decider) setStatus(p *plan, c *caseState, to vocab.CaseStatus, actor, reason string) bool {
	ok := false
	for _, st := range allowed[c.Status] {
		ok = ok || st == to
	}
	if !ok {
		return false
	}
	detail := string(c.Status) + " → " + string(to)
	if reason != "" {
		detail += ": " + reason
	}
	d.event(p, "status", actor, detail)
	c.Status = to
	switch to {
	case vocab.StatusResolved:
		c.ResolvedAt = d.now
		c.Book.FollowupAsked = timeZero
	case vocab.StatusClosed:
		c.ClosedAt = d.now
	default:
		c.ResolvedAt, c.ClosedAt = timeZero, timeZero
	}
	return true
}

// escalateToPR hands the case to PR now (#escalate): PR becomes a
// participant, copied on every later mail, and its mailbox gets a digest.
func (d *decider) escalateToPR(p *plan, c *caseState, actor string) {
	pr := d.s.opts.PR
	d.addPR(p, c, actor, "escalated")
	lastText := "(no message from the customer)"
	m := d.mail(p, templates.Escalation, mailout.AutoGenerated, &templates.EscalationData{
		Subject: stripSubjectPrefixes(c.Subject), Customer: c.Customer, Status: string(c.Status),
		Priority: string(c.Priority), By: actor, Text: lastText, Team: d.team(),
	})
	m.To = []mail.Address{{Name: pr.Name, Address: strings.ToLower(pr.Address)}}
	m.ReplyTo = vocab.RoleStaff
	m.InReplyTo, m.References = threadHeaders(c.Book.StaffThread)
	m.Source, m.SourceText = lastCustomerMessage, true
	d.event(p, "escalated", actor, "to "+strings.ToLower(pr.Address))
}

// lastCustomerMessage as an intent's Source: the customer's latest message,
// found when the mail is rendered.
const lastCustomerMessage = -2

// addPR makes the PR mailbox a participant of c.
func (d *decider) addPR(p *plan, c *caseState, actor, why string) {
	addr := strings.ToLower(d.s.opts.PR.Address)
	if pt := c.participant(addr); pt != nil {
		if pt.Role == vocab.ParticipantPR {
			return
		}
		pt.Role = vocab.ParticipantPR
		p.Participants = append(p.Participants, *pt)
	} else {
		np := participant{Address: addr, Name: d.s.opts.PR.Name, Role: vocab.ParticipantPR}
		c.Participants = append(c.Participants, np)
		p.Participants = append(p.Participants, np)
	}
	if c.Book.PRAlerted.IsZero() {
		c.Book.PRAlerted = d.now
	}
	d.event(p, "participant", actor, addr+" added as pr: "+why)
}

// resolutionNotice tells the customer the case was resolved. It is mail
// staff caused: the caps on automatic answers do not hold it back.
func (d *decider) resolutionNotice(p *plan, c *caseState) {
	d.mailCustomer(p, c, templates.Resolution, &templates.FollowupData{}, "resolution-notice", mailOnCase)
}

// mailCustomer sends an automatic mail of kind to the customer of c, PR
// in copy, in her language. Like every automatic mail it goes only to a
// customer who wrote as a person (RFC 3834) and whom mayAnswer allows;
// otherwise an event says why not.
func (d *decider) mailCustomer(p *plan, c *caseState, kind templates.Kind, data *templates.FollowupData, event string, k answerKind) bool {
	if !c.Book.CustomerWrote {
		d.event(p, event+"-skipped", "casegate", "the customer sent no mail written by a person (RFC 3834)")
		return false
	}
	if ok, why := d.mayAnswer(p, c, c.Customer, k, p.snap, false); !ok {
		d.event(p, event+"-skipped", "casegate", why)
		return false
	}
	data.Subject, data.CustomerName, data.Team = stripSubjectPrefixes(c.Subject), c.customerName(), d.team()
	data.ResolvedAt = d.moment(c, c.ResolvedAt)
	m := d.mail(p, kind, mailout.AutoGenerated, data)
	d.toCustomer(c, m)
	if k == answerToInbound {
		d.countAnswer(p, c, c.Customer)
	}
	d.event(p, event, "casegate", "to "+c.Customer)
	return true
}
