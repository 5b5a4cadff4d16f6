package threads

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"casegate/mailout"
	"casegate/templates"
)

// followupQueries are the names of the follow-up queries in queries.sql.
var followupQueries = []string{"followup-state", "replan-followup", "insert-followup-timer",
	"record-followup", "close-resolved", "opt-out-followup", "insert-rating"}

// FollowupOptions configures what happens after a case is resolved; zero
// values are the defaults.
type FollowupOptions struct {
	// Delay after the resolution before the customer is asked whether it
	// is fixed; default 72 hours.
	Delay time.Duration
	// CloseAfter is how long after the follow-up an unanswered resolved
	// case closes; default 168 hours.
	CloseAfter time.Duration
	// ReopenAtOrBelow is the highest rating that reopens the case; default 2.
	ReopenAtOrBelow int
}

func (o FollowupOptions) withDefaults() FollowupOptions {
	if o.Delay <= 0 {
		o.Delay = 72 * time.Hour
	}
	if o.CloseAfter <= 0 {
		o.CloseAfter = 168 * time.Hour
	}
	if o.ReopenAtOrBelow == 0 {
		o.ReopenAtOrBelow = 2
	}
	return o
}

// The follow-up's timers share the timers table (and so the sweeper) with
// the escalation rules, under rule names no rule may clear: delete-timers
// leaves "followup:" rows alone, and only followupChanged writes them.
const (
	timerAsk   = "followup:ask"
	timerClose = "followup:close"
)

type followupState struct {
	Status     CaseStatus   `db:"status"`
	ResolvedAt sql.NullTime `db:"resolved_at"`
	OptedOut   bool         `db:"opted_out"`
	AskedAt    sql.NullTime `db:"asked_at"`
}

// followupChanged recomputes the follow-up of a case whose lock the caller
// holds, firing what is due: the follow-up mail (delay after the
// resolution) and the automatic close (close_after after the follow-up).
// Any change that ends the resolution (the customer wrote, staff reopened
// or closed it) cancels what was pending. It runs from caseChanged, so
// every filing, status change and sweep keeps it current. It reports
// whether it queued mail.
func (s *Store) followupChanged(ctx context.Context, tx *sqlx.Tx, caseID int64, now time.Time) (bool, error) {
	var st struct {
		followupState
		Cleared pq.StringArray `db:"cleared"`
	}
	if err := s.row(ctx, tx, "replan-followup", caseID).StructScan(&st); err != nil {
		return false, fmt.Errorf("case %d: follow-up state: %w", caseID, err)
	}
	cleared := []string(st.Cleared)
	if st.Status != StatusResolved || !st.ResolvedAt.Valid {
		if len(cleared) == 0 {
			return false, nil
		}
		return false, s.addEvent(ctx, tx, caseID, now, "followup-cancelled", "casegate", 0,
			fmt.Sprintf("%s: the case is %s now", strings.Join(cleared, ", "), st.Status))
	}
	o := s.opts.Followup.withDefaults()
	since := st.ResolvedAt.Time
	queued := false
	if !st.AskedAt.Valid {
		due := since.Add(o.Delay)
		if due.After(now) {
			return false, s.setFollowupTimer(ctx, tx, caseID, timerAsk, since, due)
		}
		var err error
		if queued, err = s.askFollowup(ctx, tx, caseID, since, st.OptedOut, now); err != nil {
			return queued, err
		}
		st.AskedAt = sql.NullTime{Time: now, Valid: true}
	}
	due := st.AskedAt.Time.Add(o.CloseAfter)
	if due.After(now) {
		return queued, s.setFollowupTimer(ctx, tx, caseID, timerClose, since, due)
	}
	var fired int64
	err := s.row(ctx, tx, "record-followup", caseID, "close", since, now, "closed").Scan(&fired)
	if errors.Is(err, sql.ErrNoRows) {
		return queued, nil
	}
	if err != nil {
		return queued, fmt.Errorf("case %d: record close: %w", caseID, err)
	}
	if _, err := s.exec(ctx, tx, "close-resolved", caseID, now); err != nil {
		return queued, fmt.Errorf("case %d: close: %w", caseID, err)
	}
	return queued, s.addEvent(ctx, tx, caseID, now, "status", "casegate", 0,
		fmt.Sprintf("resolved → closed: no answer to the follow-up within %s", o.CloseAfter))
}

func (s *Store) setFollowupTimer(ctx context.Context, tx *sqlx.Tx, caseID int64, rule string, since, due time.Time) error {
	if _, err := s.exec(ctx, tx, "insert-followup-timer", caseID, rule, since, due); err != nil {
		return fmt.Errorf("case %d: store %s timer: %w", caseID, rule, err)
	}
	return nil
}

// askFollowup sends the follow-up of the resolution since, once: the
// followups key records that it was asked (or why not), so the close timer
// counts from here either way.
func (s *Store) askFollowup(ctx context.Context, tx *sqlx.Tx, caseID int64, since time.Time, optedOut bool, now time.Time) (bool, error) {
	var fired int64
	err := s.row(ctx, tx, "record-followup", caseID, "ask", since, now, "asked").Scan(&fired)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("case %d: record follow-up: %w", caseID, err)
	}
	if optedOut {
		return false, s.addEvent(ctx, tx, caseID, now, "followup-skipped", "casegate", 0, "the customer asked for no follow-ups")
	}
	return s.mailCustomer(ctx, tx, caseID, templates.Followup, templates.FollowupData{}, "followup", now)
}

// resolved is what resolving a case does besides the status: the customer
// is told. The follow-up timer follows from caseChanged.
func (s *Store) resolved(ctx context.Context, tx *sqlx.Tx, caseID int64, now time.Time) (bool, error) {
	return s.mailCustomer(ctx, tx, caseID, templates.Resolution, templates.FollowupData{}, "resolution-notice", now)
}

// mailCustomer queues an automatic mail of kind to the customer of a case,
// PR participants in copy, and files it on the case. Like every automatic
// mail it goes only to a customer who wrote as a person (RFC 3834) and who
// passes mayAutoReply; otherwise an event says why not.
func (s *Store) mailCustomer(ctx context.Context, tx *sqlx.Tx, caseID int64, kind templates.Kind, data templates.FollowupData, event string, now time.Time) (bool, error) {
	var c digestCase
	if err := tx.GetContext(ctx, &c, s.q["digest-case"], caseID); err != nil {
		return false, fmt.Errorf("case %d: %s: %w", caseID, kind, err)
	}
	if !c.CustomerWrote {
		return false, s.addEvent(ctx, tx, caseID, now, event+"-skipped", "casegate", 0,
			"the customer sent no mail written by a person (RFC 3834)")
	}
	may, why, notified, err := s.mayAutoReply(ctx, tx, caseID, c.Customer, now)
	if err != nil {
		return false, err
	}
	if !may {
		return notified, s.addEvent(ctx, tx, caseID, now, event+"-skipped", "casegate", 0, why)
	}
	data.Case, data.Subject, data.CustomerName, data.Team = caseID, stripSubjectPrefixes(c.Subject), c.CustomerName, s.opts.Team
	lang, zone := s.caseLocale(c.Language, c.TimeZone)
	if c.ResolvedAt.Valid {
		data.ResolvedAt = templates.NewMoment(c.ResolvedAt.Time, zone, now)
	}
	text, err := s.settings().Templates.RenderLang(kind, lang, data)
	if err != nil {
		return false, err
	}
	return true, s.queueToCustomer(ctx, tx, caseID, c, text, event, "to "+c.Customer, now)
}

// followupReply is what a customer's mail on a resolved case says about
// its resolution.
type followupReply struct {
	score   int    // 1–5, 0 for no rating
	comment string // the rest of the answer
	reopen  bool   // "reopen", "not fixed", or a low score
	stop    bool   // "stop" / "unsubscribe": no more follow-ups
}

// understood reports whether the reply is an answer to the follow-up.
func (r followupReply) understood() bool { return r.score > 0 || r.reopen || r.stop }

// keepsStatus reports whether filing the reply must leave the resolved
// case alone: an opt-out or a good rating. Everything else reopens it the
// usual way.
func (r followupReply) keepsStatus() bool { return r.stop || r.score > 0 && !r.reopen }

var (
	ratingRe = regexp.MustCompile(`^\s*([1-5])(?:\s*(?:/|of|out of)\s*5)?(?:[\s.,!:;)-]+|$)`)
	reopenRe = regexp.MustCompile(`(?i)\b(reopen|re-open|not fixed|isn't fixed|is not fixed|still broken|nicht behoben|nicht gelöst)\b`)
	stopRe   = regexp.MustCompile(`(?i)^\s*(stop|unsubscribe)\b`)
)

// parseFollowupReply reads the first line the customer wrote (quoted
// history aside): "4 thanks", "1 still broken", "reopen", "stop".
func parseFollowupReply(text string, reopenAtOrBelow int) followupReply {
	var r followupReply
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, ">") || t == "--" {
			break
		}
		if t != "" {
			lines = append(lines, t)
		}
	}
	if len(lines) == 0 {
		return r
	}
	first := lines[0]
	if stopRe.MatchString(first) {
		r.stop = true
		return r
	}
	if m := ratingRe.FindStringSubmatch(first); m != nil {
		r.score, _ = strconv.Atoi(m[1])
		lines[0] = strings.TrimSpace(first[len(m[0]):])
	}
	r.comment = strings.TrimSpace(strings.Join(lines, "\n"))
	if len(r.comment) > 2000 {
		r.comment = strings.ToValidUTF8(r.comment[:2000], "")
	}
	r.reopen = reopenRe.MatchString(first) || r.score > 0 && r.score <= reopenAtOrBelow
	return r
}

// readFollowupReply decides, before the case is touched, whether in is the
// customer's answer to the resolution of case caseID. Only the customer's
// own mail, written by a person, to a resolved case counts.
func (s *Store) readFollowupReply(ctx context.Context, tx *sqlx.Tx, caseID int64, in *Inbound, r route) (followupReply, error) {
	if in.Automatic || r.claimsStaff() {
		return followupReply{}, nil
	}
	var st followupState
	if err := tx.GetContext(ctx, &st, s.q["followup-state"], caseID); err != nil {
		return followupReply{}, fmt.Errorf("case %d: follow-up state: %w", caseID, err)
	}
	if st.Status != StatusResolved {
		return followupReply{}, nil
	}
	role, err := s.participantRole(ctx, tx, caseID, in.From.Address)
	if err != nil || role != ParticipantCustomer {
		return followupReply{}, err
	}
	text := in.NewText
	if strings.TrimSpace(text) == "" {
		text = in.Text
	}
	return parseFollowupReply(text, s.opts.Followup.withDefaults().ReopenAtOrBelow), nil
}

// answerFollowup records the customer's answer, filed as message row msg:
// the rating, an opt-out, a close on a good rating, the thanks, and staff
// (and PR, when the case was escalated) told of a reopening. A reply that
// reopens has already reopened the case (touch-case).
func (s *Store) answerFollowup(ctx context.Context, tx *sqlx.Tx, caseID, msg int64, in *Inbound, fr followupReply, now time.Time) (bool, error) {
	if !fr.understood() {
		return false, nil
	}
	actor := strings.ToLower(in.From.Address)
	if fr.stop {
		if _, err := s.exec(ctx, tx, "opt-out-followup", caseID, actor); err != nil {
			return false, fmt.Errorf("case %d: opt out: %w", caseID, err)
		}
		return false, s.addEvent(ctx, tx, caseID, now, "followup-opt-out", actor, msg, "no more follow-ups")
	}
	queued := false
	if fr.score > 0 {
		if _, err := s.exec(ctx, tx, "insert-rating", caseID, msg, fr.score, fr.comment, fr.reopen, now); err != nil {
			return false, fmt.Errorf("case %d: record rating: %w", caseID, err)
		}
		detail := fmt.Sprintf("%d of 5", fr.score)
		if fr.comment != "" {
			detail += ": " + fr.comment
		}
		if err := s.addEvent(ctx, tx, caseID, now, "rated", actor, msg, detail); err != nil {
			return false, err
		}
		if !fr.reopen {
			if _, err := s.exec(ctx, tx, "close-resolved", caseID, now); err != nil {
				return false, fmt.Errorf("case %d: close: %w", caseID, err)
			}
			if err := s.addEvent(ctx, tx, caseID, now, "status", "casegate", msg, fmt.Sprintf("resolved → closed: rated %d of 5", fr.score)); err != nil {
				return false, err
			}
		}
		q, err := s.mailCustomer(ctx, tx, caseID, templates.RatingThanks, templates.FollowupData{Score: fr.score, Reopened: fr.reopen}, "rating-thanks", now)
		if err != nil {
			return false, err
		}
		queued = q
	}
	if !fr.reopen {
		return queued, nil
	}
	why := "the customer asked to reopen"
	if fr.score > 0 && fr.score <= s.opts.Followup.withDefaults().ReopenAtOrBelow {
		why = fmt.Sprintf("rated %d of 5 (reopens at or below %d)", fr.score, s.opts.Followup.withDefaults().ReopenAtOrBelow)
	}
	if err := s.addEvent(ctx, tx, caseID, now, "reopened", actor, msg, why); err != nil {
		return false, err
	}
	q, err := s.notifyPRReopened(ctx, tx, caseID, in, why, now)
	return queued || q, err
}

// notifyPRReopened tells the PR participants of an escalated case that the
// customer reopened it; staff hear of it from the usual notification of the
// customer's mail.
func (s *Store) notifyPRReopened(ctx context.Context, tx *sqlx.Tx, caseID int64, in *Inbound, why string, now time.Time) (bool, error) {
	pr, err := s.prCopies(ctx, tx, caseID)
	if err != nil || len(pr) == 0 {
		return false, err
	}
	c, err := s.lockedCase(ctx, tx, caseID)
	if err != nil {
		return false, err
	}
	text := in.NewText
	if strings.TrimSpace(text) == "" {
		text = in.Text
	}
	rendered, err := s.settings().Templates.Render(templates.Notification, templates.NotificationData{
		Case: c.ID, Subject: stripSubjectPrefixes(c.Subject), Category: c.Category, Priority: string(c.Priority),
		Status: string(c.Status), From: formatAddress(in.From), Text: "[Reopened: " + why + "]\n\n" + text,
		NoteAddress: s.ReplyAddress(c.ID, RoleNote), Team: s.opts.Team,
	})
	if err != nil {
		return false, err
	}
	m := s.automaticMail(c.ID, RoleStaff, mailout.AutoGenerated, rendered)
	m.To, m.InReplyTo, m.References = pr, in.MessageID, []string{in.MessageID}
	row, err := s.queue(ctx, tx, c.ID, m, in.MessageID, now)
	if err != nil {
		return false, fmt.Errorf("notify PR: %w", err)
	}
	return true, s.addEvent(ctx, tx, c.ID, now, "notified", "casegate", row, "reopened; to "+strings.Join(m.Recipients(), ", "))
}

// chooseLanguage is the language a new case opened by in writes to its
// customer in: the first of the author's languages the templates have,
// else the configured default.
func (s *Store) chooseLanguage(in *Inbound) string {
	return s.settings().Templates.Choose(in.Languages, s.opts.DefaultLanguage)
}

// caseLocale is the language and time zone of a case's customer mail, from
// what the case stored when it opened: a case opened before either was
// stored gets the configured default.
func (s *Store) caseLocale(lang, zone string) (string, *time.Location) {
	if lang == "" {
		lang = s.opts.DefaultLanguage
	}
	loc := s.opts.TimeZone
	if zone != "" {
		if z, err := templates.LoadZone(zone); err == nil {
			loc = z
		}
	}
	if loc == nil {
		loc = time.UTC
	}
	return lang, loc
}
