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

// sweepQueries are the names of the set-based sweep's queries in queries.sql.
var sweepQueries = []string{"sweep-state", "sweep-timelines", "sweep-messages", "sweep-record-escalations",
	"sweep-add-pr", "sweep-raise-priority", "sweep-insert-outbound", "sweep-add-events",
	"sweep-delete-timers", "sweep-upsert-timers"}

// errBatchFiredBefore means a cycle the batch fired was recorded meanwhile:
// the caller redoes the batch case by case, where record-escalation decides.
var errBatchFiredBefore = errors.New("threads: a cycle of the batch fired before")

// A sweep claims up to a batch of cases and used to evaluate them one by
// one, some fifteen round trips each. sweepBatch does the same work for the
// whole batch in about ten statements: it reads every case at once, runs
// caseChangedRules's logic for each case in memory (what a firing changes —
// priority, PR participant, timeline, last Message-ID — is applied to the
// in-memory case, so later actions see it as they would in the database),
// and writes each kind of row for all cases in one multi-row statement.

// sweepCase is a claimed case as the set-based sweep sees it.
type sweepCase struct {
	id       int64
	st       CaseState
	followup bool // the follow-up has work: the case takes the per-case path
	c        digestCase
	fired    map[cycle]bool // escalations rows, before and in this batch
	pr       []mail.Address // PR participants, oldest first
	prAdded  bool
	timeline []sweepEvent // the last events, oldest first
	messages []templates.DigestMessage
	msgTimes []time.Time
}

type cycle struct {
	rule  string
	since int64 // µs since the epoch: the database's precision
}

type sweepEvent struct {
	at                  time.Time
	kind, actor, detail string
}

// sweepWrites collects the rows a batch writes, one slice per column.
type sweepWrites struct {
	escCase                         []int64
	escRule, escSince, escDue       []string
	escActions                      []string
	prCases                         []int64
	raise                           map[int64]Priority
	mails                           []*mailout.Message
	mailCase                        []int64
	evCase                          []int64
	evKind, evDetail                []string
	evMail                          []int // index+1 into mails; 0 for none
	timerCase                       []int64
	timerRule, timerSince, timerDue []string
	fired                           []firedRule // logged once the batch is written
}

type firedRule struct {
	caseID  int64
	rule    string
	actions []string
}

// sweepBatch fires what is due on the cases ids, whose locks the caller
// holds, as caseChanged would, in tx. It returns the cases it left for the
// per-case path (those whose follow-up has work) and whether it queued
// mail. On error the caller rolls back what it wrote.
func (s *Store) sweepBatch(ctx context.Context, tx *sqlx.Tx, ids []int64, now time.Time) (slow []int64, queued bool, err error) {
	cases, err := s.loadSweepCases(ctx, tx, ids)
	if err != nil {
		return nil, false, err
	}
	var fast []*sweepCase
	for _, id := range ids {
		c := cases[id]
		if c == nil || c.followup {
			slow = append(slow, id)
			continue
		}
		fast = append(fast, c)
	}
	if len(fast) == 0 {
		return slow, false, nil
	}
	if err := s.loadSweepDigests(ctx, tx, cases, fast); err != nil {
		return nil, false, err
	}
	w := &sweepWrites{raise: make(map[int64]Priority)}
	for _, c := range fast {
		if err := s.planSweepCase(c, now, w); err != nil {
			return nil, false, err
		}
	}
	if err := s.writeSweep(ctx, tx, fast, w, now); err != nil {
		return nil, false, err
	}
	for _, f := range w.fired {
		s.opts.Logger.Info("escalation: rule fired", "case", f.caseID, "rule", f.rule, "actions", f.actions)
	}
	return slow, len(w.mails) > 0, nil
}

func (s *Store) loadSweepCases(ctx context.Context, tx *sqlx.Tx, ids []int64) (map[int64]*sweepCase, error) {
	rows, err := s.rows(ctx, tx, "sweep-state", pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("sweep state: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]*sweepCase, len(ids))
	for rows.Next() {
		var (
			c                      = &sweepCase{fired: make(map[cycle]bool)}
			responded              sql.NullTime
			unanswered, firedSince pq.Int64Array
			firedRules, prs, names pq.StringArray
		)
		err := rows.Scan(&c.id, &c.st.Status, &c.st.Priority, &c.st.Category, &c.st.Risk, &c.st.OpenedAt, &responded,
			&unanswered, &c.followup, &c.c.Subject, &c.c.Customer, &c.c.CustomerName, &c.c.CustomerWrote, &c.c.LastMessageID,
			&firedRules, &firedSince, &prs, &names, &c.c.Language, &c.c.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("sweep state: %w", err)
		}
		c.st.StaffRespondedAt = responded.Time
		for _, us := range unanswered {
			c.st.Unanswered = append(c.st.Unanswered, time.UnixMicro(us))
		}
		c.c.Category, c.c.Risk, c.c.Priority, c.c.Status = string(c.st.Category), string(c.st.Risk), string(c.st.Priority), string(c.st.Status)
		c.c.OpenedAt = c.st.OpenedAt
		if len(firedRules) != len(firedSince) || len(prs) != len(names) {
			return nil, fmt.Errorf("sweep state of case %d: arrays differ in length", c.id)
		}
		for i := range firedRules {
			c.fired[cycle{firedRules[i], firedSince[i]}] = true
		}
		for i := range prs {
			c.pr = append(c.pr, mail.Address{Name: names[i], Address: prs[i]})
		}
		out[c.id] = c
	}
	return out, rows.Err()
}

// loadSweepDigests reads what digests show of the cases fast: their last
// events and messages.
func (s *Store) loadSweepDigests(ctx context.Context, tx *sqlx.Tx, cases map[int64]*sweepCase, fast []*sweepCase) error {
	ids := make([]int64, len(fast))
	for i, c := range fast {
		ids[i] = c.id
	}
	rows, err := s.rows(ctx, tx, "sweep-timelines", pq.Array(ids))
	if err != nil {
		return fmt.Errorf("sweep timelines: %w", err)
	}
	for rows.Next() {
		var id int64
		var e sweepEvent
		if err := rows.Scan(&id, &e.at, &e.kind, &e.actor, &e.detail); err != nil {
			rows.Close()
			return fmt.Errorf("sweep timelines: %w", err)
		}
		cases[id].timeline = append(cases[id].timeline, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sweep timelines: %w", err)
	}
	rows, err = s.rows(ctx, tx, "sweep-messages", pq.Array(ids))
	if err != nil {
		return fmt.Errorf("sweep messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var at time.Time
		var m templates.DigestMessage
		if err := rows.Scan(&id, &at, &m.Direction, &m.From, &m.Text); err != nil {
			return fmt.Errorf("sweep messages: %w", err)
		}
		c := cases[id]
		c.messages, c.msgTimes = append(c.messages, m), append(c.msgTimes, at)
	}
	return rows.Err()
}

// planSweepCase is caseChangedRules on an in-memory case: it fires the due
// deadlines not fired before, replans after a priority change, and keeps
// the rest as timers.
func (s *Store) planSweepCase(c *sweepCase, now time.Time, w *sweepWrites) error {
	rules := s.opts.Rules
	for round := 0; round <= len(rules); round++ {
		plan := Plan(rules, c.st)
		replan := false
		for _, d := range plan {
			if d.Due.After(now) {
				continue
			}
			k := cycle{d.Rule, d.Since.UnixMicro()}
			if c.fired[k] {
				continue // this cycle fired before
			}
			c.fired[k] = true
			if err := s.fireInSweep(c, d, now, w); err != nil {
				return err
			}
			replan = replan || s.rule(d.Rule).changesCase()
		}
		if replan {
			continue
		}
		for _, d := range plan {
			if !c.fired[cycle{d.Rule, d.Since.UnixMicro()}] {
				w.timerCase = append(w.timerCase, c.id)
				w.timerRule = append(w.timerRule, d.Rule)
				w.timerSince = append(w.timerSince, d.Since.UTC().Format(time.RFC3339Nano))
				w.timerDue = append(w.timerDue, d.Due.UTC().Format(time.RFC3339Nano))
			}
		}
		return nil
	}
	return fmt.Errorf("case %d: escalation rules did not settle", c.id)
}

// fireInSweep is fire on an in-memory case.
func (s *Store) fireInSweep(c *sweepCase, d Deadline, now time.Time, w *sweepWrites) error {
	r := s.rule(d.Rule)
	actions := make([]string, len(r.Actions))
	for i, a := range r.Actions {
		actions[i] = a.String()
	}
	w.escCase = append(w.escCase, c.id)
	w.escRule = append(w.escRule, r.Name)
	w.escSince = append(w.escSince, d.Since.UTC().Format(time.RFC3339Nano))
	w.escDue = append(w.escDue, d.Due.UTC().Format(time.RFC3339Nano))
	w.escActions = append(w.escActions, strings.Join(actions, "\n"))
	detail := fmt.Sprintf("rule %q (%s): %s", r.Name, r.Describe(), strings.Join(actions, ", "))
	if late := now.Sub(d.Due); late >= time.Minute {
		detail += fmt.Sprintf("; due %s, fired %s late", d.Due.In(r.Calendar.Location()).Format(timeLayout), late.Round(time.Second))
	}
	c.event(w, now, "escalated", 0, detail)
	for _, a := range r.Actions {
		if err := s.actInSweep(c, r, a, now, w); err != nil {
			return fmt.Errorf("case %d: rule %s: %s: %w", c.id, r.Name, a, err)
		}
	}
	w.fired = append(w.fired, firedRule{c.id, r.Name, actions})
	return nil
}

// event adds an event of casegate to the case and its in-memory timeline;
// mail is an index+1 into w.mails, or 0.
func (c *sweepCase) event(w *sweepWrites, now time.Time, kind string, mail int, detail string) {
	w.evCase = append(w.evCase, c.id)
	w.evKind = append(w.evKind, kind)
	w.evMail = append(w.evMail, mail)
	w.evDetail = append(w.evDetail, detail)
	c.timeline = append(c.timeline, sweepEvent{at: now, kind: kind, actor: "casegate", detail: detail})
}

// actInSweep is act on an in-memory case.
func (s *Store) actInSweep(c *sweepCase, r *Rule, a Action, now time.Time, w *sweepWrites) error {
	switch a.Kind {
	case ActionCCPR:
		if s.opts.PR.Address == "" {
			c.event(w, now, "escalation-skipped", 0, "cc_pr: no PR address configured")
			return nil
		}
		pr := strings.ToLower(s.opts.PR.Address)
		if !c.prAdded {
			c.prAdded = true
			w.prCases = append(w.prCases, c.id)
			known := false
			for _, p := range c.pr {
				known = known || p.Address == pr
			}
			if !known {
				c.pr = append(c.pr, mail.Address{Name: s.opts.PR.Name, Address: pr})
			}
		}
		return s.digestInSweep(c, r, s.opts.PR, now, w)
	case ActionNotify:
		return s.digestInSweep(c, r, mail.Address{Address: a.Address}, now, w)
	case ActionPriority:
		if priorityRank(a.Priority) <= priorityRank(c.st.Priority) {
			return nil // already as high or higher
		}
		c.st.Priority, c.c.Priority = a.Priority, string(a.Priority)
		w.raise[c.id] = a.Priority
		c.event(w, now, "priority", 0, fmt.Sprintf("%s (rule %s)", a.Priority, r.Name))
		return nil
	case ActionHoldingReply:
		if !c.c.CustomerWrote {
			c.event(w, now, "escalation-skipped", 0, "holding_reply: the customer sent no mail written by a person (RFC 3834)")
			return nil
		}
		lang, _ := s.caseLocale(c.c.Language, c.c.TimeZone)
		text, err := s.settings().Templates.RenderLang(templates.HoldingReply, lang, templates.HoldingReplyData{
			Case: c.id, Subject: stripSubjectPrefixes(c.c.Subject), CustomerName: c.c.CustomerName, Team: s.opts.Team,
		})
		if err != nil {
			return err
		}
		// As queueToCustomer.
		m := s.automaticMail(c.id, RoleCustomer, mailout.AutoGenerated, text)
		m.To, m.Cc = []mail.Address{{Name: c.c.CustomerName, Address: c.c.Customer}}, append([]mail.Address(nil), c.pr...)
		c.queue(w, m, "holding-reply", fmt.Sprintf("to %s (rule %s)", c.c.Customer, r.Name), now)
		return nil
	}
	return fmt.Errorf("%w: unknown action %q", ErrBadRule, a.Kind)
}

// queue is queueOutbound on an in-memory case: the mail threads under the
// case's latest message and becomes it.
func (c *sweepCase) queue(w *sweepWrites, m *mailout.Message, kind, detail string, now time.Time) {
	if c.c.LastMessageID != "" {
		m.InReplyTo, m.References = c.c.LastMessageID, []string{c.c.LastMessageID}
	}
	w.mails = append(w.mails, m)
	w.mailCase = append(w.mailCase, c.id)
	c.c.LastMessageID = m.MessageID
	c.event(w, now, kind, len(w.mails), detail)
}

// digestInSweep is sendDigest on an in-memory case.
func (s *Store) digestInSweep(c *sweepCase, r *Rule, to mail.Address, now time.Time, w *sweepWrites) error {
	loc := r.Calendar.Location()
	data := templates.DigestData{
		Case: c.id, Subject: c.c.Subject, Customer: c.c.Customer, CustomerName: c.c.CustomerName,
		Category: c.c.Category, Risk: c.c.Risk, Priority: c.c.Priority, Status: c.c.Status,
		Opened: c.c.OpenedAt.In(loc).Format(timeLayout), Rule: r.Name, Why: r.Describe(),
		ReplyAddress: s.ReplyAddress(c.id, RoleStaff), Team: s.opts.Team,
	}
	timeline := c.timeline
	if len(timeline) > 30 {
		timeline = timeline[len(timeline)-30:]
	}
	for _, e := range timeline {
		l := templates.TimelineLine{At: e.at.In(loc).Format(timeLayout), Kind: e.kind, Actor: e.actor, Detail: e.detail}
		if l.Kind == "classified" || l.Kind == "risk" {
			data.Evidence = append(data.Evidence, l.Detail)
		}
		data.Timeline = append(data.Timeline, l)
	}
	for i, m := range c.messages {
		m.At = c.msgTimes[i].In(loc).Format(timeLayout)
		if len(m.Text) > 4000 {
			m.Text = strings.ToValidUTF8(m.Text[:4000], "") + "\n[…]"
		}
		data.LastMessages = append(data.LastMessages, m)
	}
	text, err := s.settings().Templates.Render(templates.EscalationDigest, data)
	if err != nil {
		return err
	}
	m := s.automaticMail(c.id, RoleStaff, mailout.AutoGenerated, text)
	m.To = []mail.Address{to}
	c.queue(w, m, "digest", fmt.Sprintf("to %s (rule %s)", to.Address, r.Name), now)
	return nil
}

// writeSweep writes what the batch decided, one statement per kind of row.
func (s *Store) writeSweep(ctx context.Context, tx *sqlx.Tx, fast []*sweepCase, w *sweepWrites, now time.Time) error {
	if len(w.escCase) > 0 {
		var recorded []int64
		if err := s.selectNamed(ctx, tx, &recorded, "sweep-record-escalations", pq.Array(w.escCase), pq.Array(w.escRule),
			pq.Array(w.escSince), pq.Array(w.escDue), pq.Array(w.escActions), now); err != nil {
			return fmt.Errorf("record escalations: %w", err)
		}
		if len(recorded) != len(w.escCase) {
			return fmt.Errorf("record %d escalations, %d new: %w", len(w.escCase), len(recorded), errBatchFiredBefore)
		}
	}
	if len(w.prCases) > 0 {
		if _, err := s.exec(ctx, tx, "sweep-add-pr", pq.Array(w.prCases), strings.ToLower(s.opts.PR.Address), s.opts.PR.Name, now); err != nil {
			return fmt.Errorf("add PR participants: %w", err)
		}
	}
	if len(w.raise) > 0 {
		var ids []int64
		var levels []string
		for id, p := range w.raise {
			ids, levels = append(ids, id), append(levels, string(p))
		}
		if _, err := s.exec(ctx, tx, "sweep-raise-priority", pq.Array(ids), pq.Array(levels), now); err != nil {
			return fmt.Errorf("raise priorities: %w", err)
		}
	}
	msgRow := make([]int64, len(w.mails))
	if len(w.mails) > 0 {
		queued, err := mailout.EnqueueAll(ctx, tx, w.mails, now)
		if err != nil {
			return err
		}
		var (
			outbox                      = make([]int64, len(w.mails))
			mids, subjects, texts, irts = make([]string, len(w.mails)), make([]string, len(w.mails)), make([]string, len(w.mails)), make([]string, len(w.mails))
		)
		for i, m := range w.mails {
			outbox[i], mids[i], subjects[i], texts[i], irts[i] = queued[i].OutboxID, queued[i].MessageID, m.Subject, m.Text, m.InReplyTo
		}
		rows, err := s.rows(ctx, tx, "sweep-insert-outbound", pq.Array(w.mailCase), pq.Array(mids), pq.Array(outbox),
			pq.Array(subjects), pq.Array(texts), pq.Array(irts), s.opts.Support.Address, now)
		if err != nil {
			return fmt.Errorf("store outbound mail: %w", err)
		}
		byOutbox := make(map[int64]int64, len(w.mails))
		for rows.Next() {
			var id, ob int64
			if err := rows.Scan(&id, &ob); err != nil {
				rows.Close()
				return fmt.Errorf("store outbound mail: %w", err)
			}
			byOutbox[ob] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store outbound mail: %w", err)
		}
		for i := range w.mails {
			if msgRow[i] = byOutbox[outbox[i]]; msgRow[i] == 0 {
				return fmt.Errorf("store outbound mail %s: no row returned", mids[i])
			}
		}
	}
	if len(w.evCase) > 0 {
		msgs := make([]int64, len(w.evMail))
		for i, m := range w.evMail {
			if m > 0 {
				msgs[i] = msgRow[m-1]
			}
		}
		if _, err := s.exec(ctx, tx, "sweep-add-events", now, pq.Array(w.evCase), pq.Array(w.evKind), pq.Array(msgs), pq.Array(w.evDetail)); err != nil {
			return fmt.Errorf("add events: %w", err)
		}
	}
	ids := make([]int64, len(fast))
	for i, c := range fast {
		ids[i] = c.id
	}
	if _, err := s.exec(ctx, tx, "sweep-delete-timers", pq.Array(ids), pq.Array(w.timerCase), pq.Array(w.timerRule)); err != nil {
		return fmt.Errorf("clear timers: %w", err)
	}
	if len(w.timerCase) > 0 {
		if _, err := s.exec(ctx, tx, "sweep-upsert-timers", pq.Array(w.timerCase), pq.Array(w.timerRule),
			pq.Array(w.timerSince), pq.Array(w.timerDue)); err != nil {
			return fmt.Errorf("store timers: %w", err)
		}
	}
	return nil
}

// selectNamed runs the named query in tx and scans its one column into dest.
func (s *Store) selectNamed(ctx context.Context, tx *sqlx.Tx, dest *[]int64, name string, args ...any) error {
	rows, err := s.rows(ctx, tx, name, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return err
		}
		*dest = append(*dest, v)
	}
	return rows.Err()
}

// priorityRank orders priorities as the case_priority ENUM does.
func priorityRank(p Priority) int {
	switch p {
	case PriorityLow:
		return 0
	case PriorityNormal:
		return 1
	case PriorityHigh:
		return 2
	case PriorityUrgent:
		return 3
	}
	return -1
}
