package threads

import (
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"casegate/mailout"
	"casegate/templates"
	"casegate/vocab"
)

// A decider takes every decision of filing, the sweep and the admin
// commands in plain Go: from a snapshot of what the database holds to a
// plan of what to write. It reads nothing and writes nothing itself, so
// each decision is a function of its inputs and is tested without a
// database (decide_test.go).
type decider struct {
	s   *Store
	set *Settings
	now time.Time // truncated to microseconds, as PostgreSQL keeps time
	// answered counts the automatic answers earlier plans of the same batch
	// gave each address, which the snapshot could not see yet.
	answered map[string]int
	// nextNew numbers the placeholders of cases opened in the batch.
	nextNew int64
}

func (s *Store) decider(now time.Time) *decider {
	return &decider{s: s, set: s.settings(), now: now.Truncate(time.Microsecond), answered: map[string]int{}}
}

// isStaff reports whether addr is in the staff directory; the PR mailbox
// counts as staff.
func (d *decider) isStaff(addr string) bool {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if addr == "" {
		return false
	}
	for _, a := range d.set.Staff {
		if a == addr {
			return true
		}
	}
	return d.s.opts.PR.Address != "" && strings.EqualFold(d.s.opts.PR.Address, addr)
}

// isOwn reports whether addr is one of casegate's own addresses: the
// support address in any +detail form (reply tokens, bounce addresses), at
// any domain it receives mail at, and the PR mailbox. None of them ever
// gets an automatic answer, or casegate would answer itself.
func (d *decider) isOwn(addr string) bool {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if addr == "" {
		return false
	}
	if strings.EqualFold(addr, d.s.opts.Support.Address) || d.s.opts.PR.Address != "" && strings.EqualFold(addr, d.s.opts.PR.Address) {
		return true
	}
	local, domain, _ := strings.Cut(addr, "@")
	base, _, _ := strings.Cut(local, "+")
	return d.s.ownDomains[domain] && base == d.s.supportBase
}

// staffList is the staff directory as mail recipients.
func (d *decider) staffList() []mail.Address {
	var out []mail.Address
	for _, a := range d.set.Staff {
		out = append(out, mail.Address{Address: a})
	}
	return out
}

func (d *decider) team() string { return d.s.opts.Team }

// newMessageID is the Message-ID of a mail casegate will send, fixed when
// the decision is taken, so that a reply to the mail threads on its case
// even before it is rendered.
func (d *decider) newMessageID() string { return mailout.NewMessageID(d.s.domain) }

// answerKind says which rules an automatic mail is sent under.
type answerKind int

const (
	// answerToInbound is an automatic answer to an inbound mail
	// (acknowledgement, status reply, rating thanks, command errors):
	// counted against the per-address and per-case caps.
	answerToInbound answerKind = iota
	// mailOnCase is automatic mail about the case that no inbound mail
	// asked for (holding reply, follow-up, resolution notice, merge
	// notice): not counted against the caps, which exist to stop mail
	// cannons, but never to our own, a staff or a hard-bounced address.
	mailOnCase
)

// mayAnswer decides whether an automatic mail may go to addr on case c,
// and says why not. Reaching the per-address cap tells staff once a day.
func (d *decider) mayAnswer(p *plan, c *caseState, addr string, kind answerKind, sn *snapshot, toStaff bool) (bool, string) {
	addr = strings.ToLower(strings.TrimSpace(addr))
	switch {
	case addr == "":
		return false, "no sender address"
	case d.isOwn(addr):
		return false, addr + " is one of casegate's own addresses"
	case d.isStaff(addr) && !toStaff:
		return false, "the sender is a staff address"
	}
	st := sn.address(addr)
	if st.Suppressed != "" {
		return false, addr + " hard-bounced (" + st.Suppressed + ")"
	}
	if kind != answerToInbound {
		return true, ""
	}
	max := d.s.opts.Safety.MaxAutoRepliesPerDay
	if n := st.AutoAnswers24h + d.answered[addr]; n >= max {
		why := fmt.Sprintf("%s already got %d automatic mails in 24 hours (cap %d)", addr, n, max)
		if !st.CappedToday && !d.cappedToday(p, addr) {
			p.Capped = append(p.Capped, addr)
			d.answered["capped:"+addr] = 1
			d.notifySafety(p, c, "auto-reply-cap", addr, why)
		}
		return false, why
	}
	if c != nil {
		recent := 0
		for _, at := range c.Book.AutoAnswers {
			if d.now.Sub(at) < 24*time.Hour {
				recent++
			}
		}
		if max := d.s.opts.Safety.MaxAutoRepliesPerCase; recent >= max {
			return false, fmt.Sprintf("case %d already sent %d automatic answers in 24 hours (cap %d)", c.ID, recent, max)
		}
	}
	return true, ""
}

func (d *decider) cappedToday(p *plan, addr string) bool { return d.answered["capped:"+addr] > 0 }

// countAnswer records that the mail just added to p is an automatic answer
// to addr on case c, counted against the caps. The writer checks the
// per-address cap again under a lock of the address, so that decisions
// taken at once elsewhere (another committer, another instance) cannot
// both take the last answer.
func (d *decider) countAnswer(p *plan, c *caseState, addr string) {
	addr = strings.ToLower(addr)
	p.Intents[len(p.Intents)-1].AnswerTo = addr
	d.answered[addr]++
	p.AutoAnswers = append(p.AutoAnswers, autoAnswer{Address: addr, At: d.now})
	if c != nil {
		var keep []time.Time
		for _, at := range c.Book.AutoAnswers {
			if d.now.Sub(at) < 24*time.Hour {
				keep = append(keep, at)
			}
		}
		c.Book.AutoAnswers = append(keep, d.now)
	}
}

// event adds a timeline event of the plan's case.
func (d *decider) event(p *plan, kind, actor, detail string) {
	p.Events = append(p.Events, event{At: d.now, Kind: kind, Actor: actor, Detail: detail})
}

// messageEvent adds an event about the plan's own message.
func (d *decider) messageEvent(p *plan, kind, actor, detail string) {
	p.Events = append(p.Events, event{At: d.now, Kind: kind, Actor: actor, Message: true, Detail: detail})
}

// mail adds an intent to the plan and returns it for the caller to finish.
func (d *decider) mail(p *plan, kind templates.Kind, auto mailout.AutoSubmitted, data any) *intent {
	p.Intents = append(p.Intents, intent{Kind: kind, MessageID: d.newMessageID(), Auto: auto, Data: data})
	return &p.Intents[len(p.Intents)-1]
}

// toCustomer addresses an automatic mail to the customer of c with PR
// participants in copy, threaded under what the customer has (her own
// mail and casegate's mail to her), in her language, and remembers it as
// part of her thread.
func (d *decider) toCustomer(c *caseState, m *intent) {
	m.To = []mail.Address{{Name: c.customerName(), Address: c.Customer}}
	for _, pr := range c.withRole(vocab.ParticipantPR) {
		m.Cc = append(m.Cc, mail.Address{Name: pr.Name, Address: pr.Address})
	}
	m.ReplyTo = vocab.RoleCustomer
	m.Lang = d.language(c.Language)
	m.InReplyTo, m.References = threadHeaders(c.Book.CustomerThread)
	c.Book.CustomerThread = keepRecent(append(c.Book.CustomerThread, m.MessageID), 30)
}

// toStaff addresses a mail about c to staff (the assignee when there is
// one, else the staff directory), threaded with every earlier staff mail
// of the case (the first notification is the root).
func (d *decider) toStaff(c *caseState, m *intent, to []mail.Address) {
	m.To = to
	m.ReplyTo = vocab.RoleStaff
	m.InReplyTo, m.References = threadHeaders(c.Book.StaffThread)
	c.Book.StaffThread = keepRecent(append(c.Book.StaffThread, m.MessageID), 30)
}

// staffRecipients is who hears of a case: its assignee, else the directory.
func (d *decider) staffRecipients(c *caseState) []mail.Address {
	if c.Assignee != "" {
		return []mail.Address{{Address: c.Assignee}}
	}
	return d.staffList()
}

// language is the template language of mail to a customer whose case
// chose lang: a case opened before languages were chosen gets the
// configured default.
func (d *decider) language(lang string) string {
	if lang != "" {
		return lang
	}
	return d.s.opts.DefaultLanguage
}

// zone is the time zone of mail to the customer of c: what the case chose
// when it opened, else the configured one.
func (d *decider) zone(c *caseState) *time.Location {
	if c.TimeZone != "" {
		if z, err := templates.LoadZone(c.TimeZone); err == nil {
			return z
		}
	}
	if d.s.opts.TimeZone != nil {
		return d.s.opts.TimeZone
	}
	return time.UTC
}

// moment is at as a customer mail of c shows it: in her zone, read now.
func (d *decider) moment(c *caseState, at time.Time) *templates.Moment {
	return templates.NewMoment(at, d.zone(c), d.now)
}

// notifySafety tells staff of a mail-safety event: a bounce, a capped
// sender, mail claiming a staff address without proof. Never to a staff
// address that hard-bounced.
func (d *decider) notifySafety(p *plan, c *caseState, event, addr, detail string) {
	var to []mail.Address
	for _, a := range d.staffList() {
		if p.snap.address(a.Address).Suppressed == "" {
			to = append(to, a)
		}
	}
	if len(to) == 0 {
		return
	}
	data := templates.SafetyNoticeData{Event: event, Address: addr, Detail: detail, Team: d.team()}
	m := d.mail(p, templates.SafetyNotice, mailout.AutoGenerated, &data)
	if c != nil {
		data.Subject = stripSubjectPrefixes(c.Subject)
		d.toStaff(c, m, to)
		d.event(p, "staff-notified", "casegate", event+": "+addr)
	} else {
		m.To = to
	}
}

// messageRowOf is in as stored.
func messageRowOf(in *vocab.Inbound, now time.Time) *messageRow {
	return &messageRow{
		MessageID: in.MessageID, BodySHA256: in.BodySHA256, Raw: in.Raw, Text: in.Text,
		Source: in.Source, EnvelopeFrom: in.EnvelopeFrom, EnvelopeTo: nonNil(in.Recipients),
		From: strings.ToLower(in.From.Address), FromName: in.From.Name, Subject: in.Subject,
		InReplyTo: nonNil(in.ThreadingIDs()), Automatic: in.Automatic, Problems: nonNil(in.Problems),
		ReceivedAt: now, AuthSummary: in.Auth.Summary,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// timeText is how times appear in mail casegate writes.
func timeText(t time.Time) string {
	return t.UTC().Format("Mon, 02 Jan 2006 15:04 MST")
}

// formatAddress shows an address as "Name <address>" for staff to read.
func formatAddress(a mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return templates.HeaderValue(a.Name) + " <" + a.Address + ">"
}

// has reports whether p already sends a mail of kind.
func (p *plan) has(kind templates.Kind) bool {
	for _, m := range p.Intents {
		if m.Kind == kind {
			return true
		}
	}
	return false
}
