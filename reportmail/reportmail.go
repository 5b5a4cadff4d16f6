// Package reportmail sends the weekly report mail: once a week, at a set
// day and time, the report of the last weeks (views) goes to PR and the
// support leads as automatic mail, its text part with the figures and its
// HTML part with the charts inline. A row per scheduled sending is the key
// that makes it go once, whatever number of instances run. After downtime
// it goes late, once, if it is at most a day late; a report older than
// that is skipped (the next week's covers the same weeks), and so a new
// installation does not send last week's at once.
package reportmail

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate/calendar"
	"casegate/internal/sqlfile"
	"casegate/mailout"
	"casegate/views"
)

// Options configures a Mailer. DB, Views, From and To are required.
type Options struct {
	DB    *sqlx.DB
	Views *views.Reader
	From  mail.Address   // the support address the mail comes from
	To    []mail.Address // PR and the support leads
	// Weekday and Clock ("08:00") say when it goes, in Location; default
	// Monday 08:00 UTC.
	Weekday  time.Weekday
	Clock    string
	Location *time.Location
	// Window is how far back the report reaches; default 28 days (four
	// weekly points in each trend).
	Window time.Duration
	// Calendar is the business hours times count in; nil is 24x7.
	Calendar *calendar.Calendar
	// Interval is how often Run looks whether a sending is due; default a
	// minute.
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
	// AfterQueue runs after a report was queued (the sender's Wake).
	AfterQueue func()
}

//go:embed queries.sql
var queriesSQL string

// maxLate is how late a weekly report may still go.
const maxLate = 24 * time.Hour

// Mailer sends the weekly report mail.
type Mailer struct {
	opts         Options
	q            queries
	hour, minute int
}

// New checks opts and returns a Mailer.
func New(opts Options) (*Mailer, error) {
	if opts.DB == nil || opts.Views == nil || opts.From.Address == "" || len(opts.To) == 0 {
		return nil, errors.New("reportmail: DB, Views, From and To are required")
	}
	if opts.Clock == "" {
		opts.Clock = "08:00"
	}
	t, err := time.Parse("15:04", opts.Clock)
	if err != nil {
		return nil, fmt.Errorf("reportmail: time %q: use HH:MM", opts.Clock)
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Window <= 0 {
		opts.Window = 28 * 24 * time.Hour
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	var q queries
	if err := sqlfile.Bind(queriesSQL, &q); err != nil {
		return nil, fmt.Errorf("reportmail/queries.sql: %w", err)
	}
	return &Mailer{opts: opts, q: q, hour: t.Hour(), minute: t.Minute()}, nil
}

// queries are the statements of queries.sql.
type queries struct {
	Sent   sqlfile.Query `query:"report-mail-sent"`
	Record sqlfile.Query `query:"record-report-mail"`
}

// Scheduled returns the latest occurrence of the weekly time at or before
// now: the sending that is due (or done) now.
func (m *Mailer) Scheduled(now time.Time) time.Time {
	local := now.In(m.opts.Location)
	back := (int(local.Weekday()) - int(m.opts.Weekday) + 7) % 7
	day := local.AddDate(0, 0, -back)
	at := time.Date(day.Year(), day.Month(), day.Day(), m.hour, m.minute, 0, 0, m.opts.Location)
	if at.After(local) {
		at = at.AddDate(0, 0, -7)
	}
	return at
}

// Run sends each week's report when it is due, until ctx ends. A failed
// attempt is logged and tried again at the next look.
func (m *Mailer) Run(ctx context.Context) error {
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	for {
		if _, err := m.SendDue(ctx); err != nil && ctx.Err() == nil {
			m.opts.Logger.Error("report mail: sending failed; will try again", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SendDue queues the report of the latest scheduled time unless it was
// queued already (by this or another instance), and says whether it did.
func (m *Mailer) SendDue(ctx context.Context) (bool, error) {
	now := m.opts.Now()
	scheduled := m.Scheduled(now)
	if now.Sub(scheduled) > maxLate {
		return false, nil
	}
	var done bool
	err := m.q.Sent.Get(ctx, m.opts.DB, &done, scheduled)
	if err != nil || done {
		return false, err
	}
	page, err := m.opts.Views.ReportPage(ctx, now.Add(-m.opts.Window), now, m.opts.Calendar)
	if err != nil {
		return false, err
	}
	msg, err := m.compose(page)
	if err != nil {
		return false, err
	}

	tx, err := m.opts.DB.BeginTxx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	// The key: a second instance waits here for the first to commit, then
	// finds the row and queues nothing.
	res, err := m.q.Record.Exec(ctx, tx, scheduled, now, msg.MessageID)
	if err != nil {
		return false, fmt.Errorf("report mail: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if _, err := mailout.Enqueue(ctx, tx, msg, now); err != nil {
		return false, fmt.Errorf("report mail: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("report mail: %w", err)
	}
	m.opts.Logger.Info("report mail: queued", "scheduled", scheduled.Format(time.RFC3339), "message_id", msg.MessageID, "recipients", len(m.opts.To))
	if m.opts.AfterQueue != nil {
		m.opts.AfterQueue()
	}
	return true, nil
}

// compose writes the mail: the figures as text, the page with its charts
// as HTML, automatic mail (RFC 3834) so no robot answers it.
func (m *Mailer) compose(p views.Page) (*mailout.Message, error) {
	var text, html bytes.Buffer
	loc := m.opts.Location
	fmt.Fprintf(&text, "Support outcomes of the cases opened %s – %s.\nThe HTML part of this mail has the charts.\n\n",
		p.Report.From.In(loc).Format("Mon 2 Jan 2006"), p.Report.To.In(loc).Format("Mon 2 Jan 2006"))
	if err := views.WriteText(&text, p.Report); err != nil {
		return nil, err
	}
	if len(p.Staff) > 0 {
		text.WriteString("\nReplies, resolutions and open assigned cases per person:\n")
		for _, s := range p.Staff {
			fmt.Fprintf(&text, "  %-40s %4d replies %4d resolved %4d open\n", s.Actor, s.Replies, s.Resolved, s.OpenAssigned)
		}
	}
	if err := views.WriteHTML(&html, p); err != nil {
		return nil, err
	}
	_, domain, _ := strings.Cut(m.opts.From.Address, "@")
	return &mailout.Message{
		From:      m.opts.From,
		To:        m.opts.To,
		Subject:   fmt.Sprintf("Support report, week of %s", p.Report.To.In(loc).AddDate(0, 0, -7).Format("2 Jan 2006")),
		MessageID: mailout.NewMessageID(domain),
		Auto:      mailout.AutoGenerated,
		Loop:      domain,
		Text:      text.String(),
		HTML:      html.String(),
	}, nil
}
