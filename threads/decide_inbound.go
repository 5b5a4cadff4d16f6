package threads

import (
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-message/mail"

	"casegate/mailout"
	"casegate/templates"
	"casegate/vocab"
)

// inbound decides what filing in means, from its snapshot.
func (d *decider) inbound(in *vocab.Inbound, sn *snapshot) *plan {
	p := &plan{Outcome: outcomeFiled, snap: sn}
	if sn.Duplicate != nil {
		p.Outcome = outcomeDuplicate
		return p
	}
	if in.Quarantine != "" {
		return d.quarantine(p, in, in.Quarantine)
	}
	if bounce, handled := d.bounce(p, in, sn); handled {
		return bounce
	}
	p.Message = messageRowOf(in, d.now)
	c, how, whyNot := d.thread(in, sn)
	if c == nil {
		d.openCase(p, in, whyNot)
		return p
	}
	p.Case, p.Version = c, c.Version
	d.messageEvent(p, "received", strings.ToLower(in.From.Address), "threaded by "+how)
	d.forgedAuthentication(p, in)
	d.onCase(p, c, in, sn)
	return p
}

// forgedAuthentication records that the message carried
// Authentication-Results claiming our authserv-id that no trusted relay
// added (mailin removed them unread).
func (d *decider) forgedAuthentication(p *plan, in *vocab.Inbound) {
	if in.Auth.Forged != "" {
		d.messageEvent(p, "forged-authentication-results", strings.ToLower(in.From.Address), in.Auth.Forged)
	}
}

// quarantine keeps in whole, exactly once, on no case, for the operator.
func (d *decider) quarantine(p *plan, in *vocab.Inbound, reason string) *plan {
	p.Outcome = outcomeQuarantine
	p.Message = messageRowOf(in, d.now)
	p.Quarantine = &quarantineRow{Reason: reason}
	return p
}

// thread picks the case in belongs to (DESIGN.md, "Threading"): a fresh
// reply token, else what In-Reply-To/References, a subject tag or a case
// number name for this sender. nil means a new case; whyNot then says why
// the tokens and case numbers it carries did not thread it.
func (d *decider) thread(in *vocab.Inbound, sn *snapshot) (c *caseState, how string, whyNot []string) {
	if t := sn.TokenCase; t != nil {
		switch stale := d.staleToken(t, sn.token); {
		case stale == "":
			return d.follow(t, sn), "reply token", nil
		default:
			whyNot = append(whyNot, fmt.Sprintf("its reply token for case #%d is stale (%s)", t.ID, stale))
		}
	} else if sn.token.Case != 0 {
		whyNot = append(whyNot, fmt.Sprintf("its reply token names case #%d, which does not exist", sn.token.Case))
	} else if sn.token.Forged != 0 {
		whyNot = append(whyNot, fmt.Sprintf("its reply address for case #%d does not verify (forged, mistyped, or signed with a key casegate no longer has)", sn.token.Forged))
	}
	if sn.Thread != nil {
		return d.follow(sn.Thread, sn), sn.ThreadHow, nil
	}
	for _, id := range sn.Named {
		whyNot = append(whyNot, fmt.Sprintf("it names case #%d, but %s is not a participant of it", id, strings.ToLower(in.From.Address)))
	}
	return nil, "", whyNot
}

// follow returns c, or the case c was merged into.
func (d *decider) follow(c *caseState, sn *snapshot) *caseState {
	if c.MergedInto != 0 {
		if into := sn.extra(c.MergedInto); into != nil {
			return into.clone()
		}
	}
	return c.clone()
}

// staleToken says why the token claim on case c no longer works, or "" when
// it does: tokens signed with a rotated secret, and tokens of a case
// resolved or closed longer than [staff] token_ttl ago, are stale.
func (d *decider) staleToken(c *caseState, t tokenClaim) string {
	if !t.Current {
		return "signed with a secret that has been rotated"
	}
	ttl := d.s.opts.TokenTTL
	ended := c.ClosedAt
	if c.Status == vocab.StatusResolved {
		ended = c.ResolvedAt
	}
	if (c.Status == vocab.StatusResolved || c.Status == vocab.StatusClosed) && !ended.IsZero() && d.now.Sub(ended) > ttl {
		return fmt.Sprintf("the case was %s on %s, more than %s ago", c.Status, timeText(ended), ttl)
	}
	return ""
}

// openCase opens a new case with in as its first message: classified,
// its deadlines set (and those due at once fired), acknowledged to the
// sender unless automatic mail or the caps forbid, and staff told.
func (d *decider) openCase(p *plan, in *vocab.Inbound, whyNot []string) {
	d.nextNew--
	from := strings.ToLower(in.From.Address)
	category, risk := in.Classification()
	subject := strings.TrimSpace(in.Subject)
	if subject == "" {
		subject = "(no subject)"
	}
	c := &caseState{
		ID: d.nextNew, Subject: subject, Status: vocab.StatusNew, Priority: vocab.PriorityNormal,
		Category: category, Risk: risk, Customer: from,
		// The case's language and time zone are chosen once: her
		// languages the templates have, else the default; her Date
		// header's offset when it differs from the configured zone.
		Language: d.set.Templates.Choose(in.Languages, d.s.opts.DefaultLanguage),
		TimeZone: templates.CaseZone(d.s.opts.TimeZone, in.Date),
		OpenedAt: d.now, UpdatedAt: d.now,
		Participants: []participant{{Address: from, Name: in.From.Name, Role: vocab.ParticipantCustomer}},
	}
	p.Case, p.NewCase = c, true
	p.Participants = append(p.Participants, c.Participants[0])
	c.Book.CustomerThread = []string{in.MessageID}
	d.messageEvent(p, "opened", from, "new case from "+in.Source)
	d.forgedAuthentication(p, in)
	for _, why := range whyNot {
		d.event(p, "not-threaded", "casegate", "opened as a new case although "+why)
	}
	for _, id := range p.snap.Named {
		p.Events = append(p.Events, event{Case: id, At: d.now, Kind: "not-threaded", Actor: "casegate",
			Detail: fmt.Sprintf("a mail from %s naming this case opened case %s instead: the sender is not a participant", from, newCaseRef)})
	}
	if t := p.snap.TokenCase; t != nil {
		p.Events = append(p.Events, event{Case: t.ID, At: d.now, Kind: "not-threaded", Actor: "casegate",
			Detail: fmt.Sprintf("a mail from %s with a stale reply token for this case opened case %s instead", from, newCaseRef)})
	}
	if f := p.snap.token.Forged; f != 0 && p.snap.extra(f) != nil {
		p.Events = append(p.Events, event{Case: f, At: d.now, Kind: "not-threaded", Actor: "casegate",
			Detail: fmt.Sprintf("a mail from %s to a reply address for this case that does not verify (forged or mistyped) opened case %s instead", from, newCaseRef)})
	}
	// Classification runs on every message; "automatic" only means that
	// nobody answers it automatically.
	detail := fmt.Sprintf("%s, risk %s", category, risk)
	if ev := strings.Join(in.Evidence, "; "); ev != "" {
		detail += ": " + ev
	} else {
		detail += ": nothing matched"
	}
	d.messageEvent(p, "classified", "casegate", detail)
	if risk != vocab.RiskNone {
		c.Book.RiskWords = in.Evidence
	}
	if risk == vocab.RiskHigh {
		d.raisePriority(p, c, d.s.opts.RiskPriority, "public-risk wording")
	}
	if !in.Automatic {
		c.Book.CustomerWrote = true
		c.Book.Unanswered = append(c.Book.Unanswered, d.now)
	}
	d.addCopied(p, c, in)
	d.settle(p, c) // rules due at once fire before the acknowledgement, which then copies PR
	d.checkStaffClaim(p, c, in)
	if in.Automatic {
		d.messageEvent(p, "not-acknowledged", "casegate", "automatic mail is never answered (RFC 3834): "+in.Why)
	} else if p.has(templates.HoldingReply) {
		// A rule due at once sent her a holding reply (what she wrote
		// brought in a senior person): one mail answers her, with the
		// case number, not two in the same second.
		d.event(p, "acknowledged", "casegate", "to "+from+" by the holding reply")
	} else if ok, why := d.mayAnswer(p, c, from, answerToInbound, p.snap, false); !ok {
		d.messageEvent(p, "not-acknowledged", "casegate", why)
	} else {
		kind := templates.Acknowledgement
		if category == vocab.CategoryJournalist {
			kind = templates.JournalistAcknowledgement
		}
		m := d.mail(p, kind, mailout.AutoReplied, &templates.AcknowledgementData{
			Subject: stripSubjectPrefixes(in.Subject), CustomerName: in.From.Name, Team: d.team(),
		})
		d.toCustomer(c, m)
		m.To = []mail.Address{{Name: in.From.Name, Address: in.From.Address}}
		m.InReplyTo, m.References = in.MessageID, in.ReplyReferences()
		d.countAnswer(p, c, from)
		d.event(p, "acknowledged", "casegate", "to "+from)
	}
	d.notifyStaff(p, c, in, true)
}

// newCaseRef stands for the number of the case a plan opens, in events the
// plan writes on other cases; the writer puts in the number.
const newCaseRef = "#{new}"

// onCase decides what a message on an existing case means.
func (d *decider) onCase(p *plan, c *caseState, in *vocab.Inbound, sn *snapshot) {
	from := strings.ToLower(in.From.Address)
	c.UpdatedAt = d.now
	r := d.route(c, in, sn)
	switch {
	case r.authorised() && in.Automatic:
		// An out-of-office answer to a notification must never reach the customer.
		d.messageEvent(p, "not-relayed", from, "automatic mail from staff is never relayed (RFC 3834): "+in.Why)
	case r.authorised():
		d.staffReply(p, c, in, r)
	case r.staleStaff:
		d.messageEvent(p, "not-staff", from, "the staff reply address it was sent to is stale: "+r.stale)
		d.replyStale(p, c, in, r.stale)
	case r.directStaff && !in.Automatic:
		d.staffAnsweredDirectly(p, c, in, r)
	case r.claimsStaff():
		// Filed on the case and nothing more: no command, no relay, no
		// deadline restarted; staff are told why (one mail).
		d.messageEvent(p, "not-staff", from, "filed as an ordinary message: "+strings.Join(r.whyNotStaff(in), "; "))
		if !in.Automatic {
			d.tellNotAuthorised(p, c, in, r)
		}
	default:
		d.customerMail(p, c, in, r)
	}
	d.settle(p, c)
}

// customerMail decides what a mail from the customer side (or anyone not
// acting as staff) means for the case.
func (d *decider) customerMail(p *plan, c *caseState, in *vocab.Inbound, r route) {
	from := strings.ToLower(in.From.Address)
	if in.Automatic {
		// Filed on the case as automatic: it reopens nothing, restarts no
		// clock and is answered by nobody (RFC 3834).
		d.messageEvent(p, "automatic", from, "automatic mail filed; the case is left as it was: "+in.Why)
		return
	}
	isCustomer := c.role(from) == vocab.ParticipantCustomer
	if c.customerSide(from) {
		c.Book.CustomerThread = keepRecent(append(c.Book.CustomerThread, in.MessageID), 30)
	}
	d.addCopied(p, c, in)
	switch {
	case r.statusRequest && c.participant(from) != nil:
		d.replyStatus(p, c, in)
		return
	case r.statusRequest:
		// Someone who is not on the case learns nothing about it.
		d.messageEvent(p, "status-refused", from, "not a participant of the case")
		return
	}
	if isCustomer {
		c.Book.CustomerWrote = true
		if c.Status == vocab.StatusResolved {
			if fr := parseFollowupReply(followupText(in), d.s.opts.Followup.withDefaults().ReopenAtOrBelow); fr.understood() {
				d.answerFollowup(p, c, in, fr)
				return
			}
		}
	}
	if d.isThanks(in) {
		d.messageEvent(p, "thanks", from, "a thank-you: nothing to answer")
		return
	}
	// New words from a person: they need an answer.
	if c.Status == vocab.StatusPending || c.Status == vocab.StatusResolved {
		d.setStatus(p, c, vocab.StatusOpen, from, "the customer wrote")
	}
	if c.Status == vocab.StatusNew || c.Status == vocab.StatusOpen {
		c.Book.Unanswered = append(c.Book.Unanswered, d.now)
	}
	d.raiseRisk(p, c, in)
	d.notifyStaff(p, c, in, false)
}

// isThanks reports whether in says nothing but thanks.
func (d *decider) isThanks(in *vocab.Inbound) bool {
	text := strings.ToLower(strings.TrimSpace(in.Unsigned()))
	if text == "" || len(text) > 60 {
		return false
	}
	text = strings.Trim(strings.Join(strings.Fields(text), " "), ".!:) ")
	for _, w := range d.s.opts.ThanksWords {
		if text == strings.ToLower(w) {
			return true
		}
	}
	return false
}

// raiseRisk records risk a later mail shows: it may raise the risk (and
// then the priority), never lower it.
func (d *decider) raiseRisk(p *plan, c *caseState, in *vocab.Inbound) {
	_, risk := in.Classification()
	if risk.Rank() <= c.Risk.Rank() {
		return
	}
	old := c.Risk
	c.Risk = risk
	c.Book.RiskWords = in.Evidence
	d.messageEvent(p, "risk", "casegate", fmt.Sprintf("%s → %s: %s", old, risk, strings.Join(in.Evidence, "; ")))
	if risk == vocab.RiskHigh {
		d.raisePriority(p, c, d.s.opts.RiskPriority, "public-risk wording")
	}
}

// raisePriority raises c's priority to at least to, never lowers it.
func (d *decider) raisePriority(p *plan, c *caseState, to vocab.Priority, why string) {
	if to == "" || to.Rank() <= c.Priority.Rank() {
		return
	}
	c.Priority = to
	d.event(p, "priority", "casegate", fmt.Sprintf("%s (%s)", to, why))
}

// addCopiedParticipants makes the addresses a customer put in To or Cc
// participants of the case (role cc, copied on replies), when the
// configuration allows it. Our own addresses and staff are never added.
func (d *decider) addCopied(p *plan, c *caseState, in *vocab.Inbound) {
	if !d.s.opts.AddCCParticipants || c.role(in.From.Address) != vocab.ParticipantCustomer {
		return
	}
	for _, a := range slices.Concat(in.To, in.Cc) { // parsed by mailin, raw 8-bit names decoded
		addr := strings.ToLower(a.Address)
		_, domain, _ := strings.Cut(addr, "@")
		if domain == "" || domain == d.s.domain || d.isOwn(addr) || d.isStaff(addr) || c.participant(addr) != nil {
			continue
		}
		np := participant{Address: addr, Name: a.Name, Role: vocab.ParticipantCC}
		c.Participants = append(c.Participants, np)
		p.Participants = append(p.Participants, np)
		d.event(p, "participant", strings.ToLower(in.From.Address), fmt.Sprintf("%s added as cc: copied by the customer", addr))
	}
}

// notifyStaff sends staff the customer's message: the assignee when the
// case has one, else the whole staff directory, with the risk and whether
// PR was alerted. Replying to it goes to the case's staff address.
func (d *decider) notifyStaff(p *plan, c *caseState, in *vocab.Inbound, newCase bool) {
	to := d.staffRecipients(c)
	if len(to) == 0 {
		d.messageEvent(p, "not-notified", "casegate", "no staff addresses are configured")
		return
	}
	data := d.notificationData(c, in.From)
	data.NewCase = newCase
	m := d.mail(p, templates.Notification, mailout.AutoGenerated, data)
	// The text and the attachments are read from the stored message; on a
	// later mail staff have the history and see what is new.
	m.Source, m.SourceText, m.Attach = -1, true, len(in.Attachments) > 0
	if !newCase && strings.TrimSpace(in.NewText) != "" && in.NewText != in.Text {
		data.Text, m.SourceText = in.NewText, false
	}
	// Attachments travel with the notification up to a total size that
	// mail systems accept; larger ones stay with the case's raw message.
	budget := notificationAttachmentBytes
	for _, a := range in.Attachments {
		if a.Len() > budget {
			data.Attachments = append(data.Attachments, fmt.Sprintf("%s (%d KB, not forwarded: too large; kept with the case)", a.Filename, a.Len()>>10))
			continue
		}
		budget -= a.Len()
		data.Attachments = append(data.Attachments, a.Filename)
	}
	d.toStaff(c, m, to)
	d.messageEvent(p, "notified", "casegate", "to "+strings.Join(addresses(to), ", "))
}

// notificationData is what staff mail about c says of the case.
func (d *decider) notificationData(c *caseState, from mail.Address) *templates.NotificationData {
	data := &templates.NotificationData{
		Subject: stripSubjectPrefixes(c.Subject), Category: string(c.Category), Priority: string(c.Priority),
		Status: string(c.Status), From: formatAddress(from), Team: d.team(),
		Risk: string(c.Risk), RiskWords: c.Book.RiskWords, PRAlerted: !c.Book.PRAlerted.IsZero(),
	}
	if len(d.s.opts.Rules) > 0 {
		for _, t := range c.Timers {
			if !strings.HasPrefix(t.Rule, "followup:") {
				data.Deadlines = append(data.Deadlines, t.Rule+" due "+timeText(t.Due))
			}
		}
	}
	return data
}

// checkStaffClaim tells staff when mail claims a staff address without
// proving it. The message is filed as ordinary correspondence either way.
func (d *decider) checkStaffClaim(p *plan, c *caseState, in *vocab.Inbound) {
	if !d.isStaff(in.From.Address) || in.Auth.ProvesSender() && !in.MultipleFrom {
		return
	}
	why := in.Auth.Summary
	if in.MultipleFrom {
		why = "more than one From address; " + why
	}
	if why == "" {
		why = "no DKIM, DMARC or SMTP authentication"
	}
	d.event(p, "unauthenticated-staff", strings.ToLower(in.From.Address), why)
	d.notifySafety(p, c, "forged-staff", in.From.Address, why)
}

func addresses(as []mail.Address) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Address
	}
	return out
}
