package threads

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"casegate/mailout"
	"casegate/templates"
	"casegate/vocab"
)

// Rendering after the commit. A decision commits an intent for every mail
// it causes — kind, recipients, threading, template data — and the 250 (or
// the admin command's answer) does not wait for templates, MIME or the
// outbox. The composer claims pending intents in batches, renders them,
// hands the mails to mailout's outbox and marks the intents rendered, all
// in one transaction, so every intent becomes exactly one outbox mail.

// WakeComposer makes RunComposer render now; it never blocks.
func (s *Store) WakeComposer() {
	select {
	case s.composeWake <- struct{}{}:
	default:
	}
}

// ComposerOptions configures RunComposer; zero values are the defaults.
type ComposerOptions struct {
	Batch int           // intents rendered in one transaction; default 200
	Poll  time.Duration // how often to look without a wake-up; default 5 seconds
	// Yield bounds how long rendering waits, once woken, while sessions
	// wait for their filing to commit: under a burst the CPU and the
	// database go to the 250s first, and the composer renders larger
	// batches less often. Default 1 second; a negative value never waits.
	Yield time.Duration
	// Listen, when set, wakes the composer when another process commits
	// intents (an admin command): a channel fed by LISTEN casegate_intents.
	Listen <-chan struct{}
}

// RunComposer renders committed intents until ctx ends, at once after a
// commit that made some (WakeComposer) and every Poll.
func (s *Store) RunComposer(ctx context.Context, o ComposerOptions) error {
	if o.Batch <= 0 {
		o.Batch = 200
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	if o.Yield == 0 {
		o.Yield = time.Second
	}
	s.composing.Store(true)
	defer s.composing.Store(false)
	t := time.NewTicker(o.Poll)
	defer t.Stop()
	for {
		s.yieldToFiling(ctx, o.Yield)
		for {
			n, err := s.ComposeOnce(context.WithoutCancel(ctx), o.Batch)
			if err != nil {
				s.opts.Logger.Error("compose: rendering intents failed", "err", err)
				break
			}
			if n < o.Batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.composeWake:
		case <-o.Listen:
		}
	}
}

// Filing says whether sessions are waiting for their filing to commit:
// work that can wait (rendering, indexing) yields to them.
func (s *Store) Filing() bool { return s.filing.Load() > 0 }

// yieldToFiling waits, at most max, while File calls wait for their
// commit. Alone (one mail at a time) it returns at once: the mail that
// woke the composer has had its 250.
func (s *Store) yieldToFiling(ctx context.Context, max time.Duration) {
	if max <= 0 || !s.Filing() {
		return
	}
	deadline := time.NewTimer(max)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.Filing() {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}

// pendingIntent is a claimed intent with what its mail is made of.
type pendingIntent struct {
	ID         int64          `db:"id"`
	Case       sql.NullInt64  `db:"case_id"`
	Kind       string         `db:"kind"`
	MessageID  string         `db:"message_id"`
	CreatedAt  time.Time      `db:"created_at"`
	Spec       []byte         `db:"spec"`
	Source     sql.NullInt64  `db:"source_message"`
	SourceText sql.NullString `db:"source_text"`
	SourceRaw  []byte         `db:"source_raw"`
}

// storedIntent is intent as read back: its data still JSON.
type storedIntent struct {
	intent
	Data json.RawMessage `json:"data"`
}

// ComposeOnce renders up to batch pending intents into the outbox in one
// transaction and returns how many it claimed.
func (s *Store) ComposeOnce(ctx context.Context, batch int) (int, error) {
	tx, err := s.opts.DB.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	// The commit need not wait for the disk: the intent is the durable
	// record, and a rendering lost in a database crash is redone from it
	// with the same Message-ID.
	if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
		return 0, err
	}
	var claimed []pendingIntent
	if err := s.q.ClaimIntents.Select(ctx, tx, &claimed, batch); err != nil {
		return 0, fmt.Errorf("claim intents: %w", err)
	}
	if len(claimed) == 0 {
		return 0, nil
	}
	set := s.settings()
	ex, err := s.expand(ctx, tx, claimed)
	if err != nil {
		return 0, err
	}
	var mails []*mailout.Message
	var ids []int64
	var failed []int64
	for _, pi := range claimed {
		m, err := s.render(set, pi, ex)
		if err != nil {
			// A template that cannot render this intent will not render it
			// on the next try either: record it and go on, so one broken
			// mail never holds up the others.
			s.opts.Logger.Error("compose: cannot render; the mail is not sent", "case", pi.Case.Int64, "kind", pi.Kind,
				"message_id", pi.MessageID, "err", err)
			failed = append(failed, pi.ID)
			continue
		}
		mails = append(mails, m)
		ids = append(ids, pi.ID)
	}
	queued, err := s.opts.Outbox.EnqueueAll(ctx, tx, mails, s.opts.Now())
	if err != nil {
		return 0, err
	}
	outboxIDs := make([]int64, 0, len(ids)+len(failed))
	for _, q := range queued {
		outboxIDs = append(outboxIDs, q.OutboxID)
	}
	for range failed {
		outboxIDs = append(outboxIDs, 0)
	}
	if _, err := s.q.MarkRendered.Exec(ctx, tx, pq.Array(append(ids, failed...)), pq.Array(outboxIDs), s.opts.Now()); err != nil {
		return 0, fmt.Errorf("mark intents rendered: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	if len(mails) > 0 && s.opts.AfterCommit != nil {
		s.opts.AfterCommit()
	}
	return len(claimed), nil
}

// expanded is what some intents refer to rather than carry: a digest's
// timeline and last messages, the customer's latest words.
type expanded struct {
	timelines map[int64][]timelineRow
	messages  map[int64][]digestMessage
	last      map[int64]string
}

type timelineRow struct {
	Case   int64     `db:"case_id"`
	At     time.Time `db:"at"`
	Kind   string    `db:"kind"`
	Actor  string    `db:"actor"`
	Detail string    `db:"detail"`
}

type digestMessage struct {
	Case      int64     `db:"case_id"`
	At        time.Time `db:"at"`
	Direction string    `db:"direction"`
	From      string    `db:"from_address"`
	Text      string    `db:"text"`
}

func (s *Store) expand(ctx context.Context, tx *sqlx.Tx, claimed []pendingIntent) (expanded, error) {
	ex := expanded{timelines: map[int64][]timelineRow{}, messages: map[int64][]digestMessage{}, last: map[int64]string{}}
	var digests, escalations []int64
	for _, pi := range claimed {
		switch templates.Kind(pi.Kind) {
		case templates.EscalationDigest:
			digests = append(digests, pi.Case.Int64)
		case templates.Escalation:
			escalations = append(escalations, pi.Case.Int64)
		}
	}
	if len(digests) > 0 {
		var rows []timelineRow
		if err := s.q.DigestTimelines.Select(ctx, tx, &rows, pq.Array(digests)); err != nil {
			return ex, fmt.Errorf("digest timelines: %w", err)
		}
		for _, r := range rows {
			ex.timelines[r.Case] = append(ex.timelines[r.Case], r)
		}
		var msgs []digestMessage
		if err := s.q.DigestMessages.Select(ctx, tx, &msgs, pq.Array(digests)); err != nil {
			return ex, fmt.Errorf("digest messages: %w", err)
		}
		for _, m := range msgs {
			ex.messages[m.Case] = append(ex.messages[m.Case], m)
		}
	}
	if len(escalations) > 0 {
		var rows []struct {
			Case int64  `db:"case_id"`
			Text string `db:"text_body"`
		}
		if err := s.q.LastCustomer.Select(ctx, tx, &rows, pq.Array(escalations)); err != nil {
			return ex, fmt.Errorf("customer's last message: %w", err)
		}
		for _, r := range rows {
			ex.last[r.Case] = r.Text
		}
	}
	return ex, nil
}

// templateData gives the data type each kind is rendered from.
var templateData = map[templates.Kind]func() any{
	templates.Acknowledgement:           func() any { return new(templates.AcknowledgementData) },
	templates.JournalistAcknowledgement: func() any { return new(templates.AcknowledgementData) },
	templates.HoldingReply:              func() any { return new(templates.HoldingReplyData) },
	templates.Notification:              func() any { return new(templates.NotificationData) },
	templates.Relayed:                   func() any { return new(templates.RelayedData) },
	templates.StatusReply:               func() any { return new(templates.StatusData) },
	templates.CommandError:              func() any { return new(templates.CommandErrorData) },
	templates.NotAuthorised:             func() any { return new(templates.NotAuthorisedData) },
	templates.Escalation:                func() any { return new(templates.EscalationData) },
	templates.EscalationDigest:          func() any { return new(templates.DigestData) },
	templates.SafetyNotice:              func() any { return new(templates.SafetyNoticeData) },
	templates.Resolution:                func() any { return new(templates.FollowupData) },
	templates.Followup:                  func() any { return new(templates.FollowupData) },
	templates.RatingThanks:              func() any { return new(templates.FollowupData) },
	templates.Merged:                    func() any { return new(templates.MergedData) },
	templates.DeliveryFailure:           func() any { return new(templates.DeliveryFailureData) },
}

// render makes the mail of one intent.
func (s *Store) render(set *Settings, pi pendingIntent, ex expanded) (*mailout.Message, error) {
	var spec storedIntent
	if err := json.Unmarshal(pi.Spec, &spec); err != nil {
		return nil, fmt.Errorf("intent %d: %w", pi.ID, err)
	}
	kind := templates.Kind(pi.Kind)
	mk, ok := templateData[kind]
	if !ok {
		return nil, fmt.Errorf("intent %d: unknown kind %q", pi.ID, kind)
	}
	data := mk()
	if err := json.Unmarshal(spec.Data, data); err != nil {
		return nil, fmt.Errorf("intent %d: %w", pi.ID, err)
	}
	caseID := pi.Case.Int64
	setField(data, "Case", caseID)
	text := pi.SourceText.String
	switch d := data.(type) {
	case *templates.NotificationData:
		if spec.SourceText {
			d.Text = text
		}
		d.NoteAddress = s.ReplyAddress(caseID, vocab.RoleNote)
	case *templates.EscalationData:
		if t, ok := ex.last[caseID]; ok {
			d.Text = t
		}
	case *templates.DigestData:
		loc, err := time.LoadLocation(spec.Zone)
		if err != nil {
			loc = time.UTC
		}
		d.ReplyAddress = s.ReplyAddress(caseID, vocab.RoleStaff)
		for _, r := range ex.timelines[caseID] {
			d.Timeline = append(d.Timeline, templates.TimelineLine{At: r.At.In(loc).Format(timeLayout), Kind: r.Kind, Actor: r.Actor, Detail: r.Detail})
		}
		for _, m := range ex.messages[caseID] {
			t := m.Text
			if len(t) > 4000 {
				t = strings.ToValidUTF8(t[:4000], "") + "\n[…]"
			}
			d.LastMessages = append(d.LastMessages, templates.DigestMessage{At: m.At.In(loc).Format(timeLayout), Direction: m.Direction, From: m.From, Text: t})
		}
	}
	rendered, err := set.Templates.RenderLang(kind, spec.Lang, data)
	if err != nil {
		return nil, err
	}
	fromName := spec.FromName
	if fromName == "" {
		fromName = s.opts.Team
	}
	m := &mailout.Message{
		From:       mail.Address{Name: fromName, Address: s.opts.Support.Address},
		To:         spec.To,
		Cc:         spec.Cc,
		Subject:    rendered.Subject,
		MessageID:  pi.MessageID,
		InReplyTo:  spec.InReplyTo,
		References: spec.References,
		Auto:       spec.Auto,
		Loop:       s.domain,
		Date:       pi.CreatedAt,
		Text:       rendered.Text,
		HTML:       rendered.HTML,
	}
	if spec.ReplyTo != "" && caseID != 0 {
		m.ReplyTo = []mail.Address{{Name: s.opts.Team, Address: s.ReplyAddress(caseID, spec.ReplyTo)}}
	}
	if spec.Attach && len(pi.SourceRaw) > 0 && s.opts.Attachments != nil {
		budget := notificationAttachmentBytes
		for _, a := range s.opts.Attachments(pi.SourceRaw) {
			b, err := a.Bytes()
			if err != nil {
				return nil, fmt.Errorf("attachment %q: %w", a.Filename, err)
			}
			if kind == templates.Notification {
				if len(b) > budget {
					continue // named in the notification as kept with the case
				}
				budget -= len(b)
			}
			m.Attachments = append(m.Attachments, mailout.Attachment{Filename: a.Filename, ContentType: a.ContentType, Data: b})
		}
	}
	return m, nil
}

// notificationAttachmentBytes bounds the attachments forwarded to staff in
// one notification (10 MiB: many mail systems refuse much more).
const notificationAttachmentBytes = 10 << 20

// setField sets the int64 field name of the struct *v when it has one.
func setField(v any, name string, x int64) {
	f := reflect.ValueOf(v).Elem().FieldByName(name)
	if f.IsValid() && f.CanSet() && f.Kind() == reflect.Int64 {
		f.SetInt(x)
	}
}
