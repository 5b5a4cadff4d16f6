package mailout

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Transport delivers one mail to one recipient. Smarthost and Maildir are
// the two implementations.
type Transport interface {
	Deliver(ctx context.Context, env Envelope, raw []byte) error
}

// Envelope says who one delivery is from and to. Key names the delivery
// (the same on every attempt), so a transport that can tell whether it
// delivered it before (the Maildir) delivers it at most once.
type Envelope struct {
	Key      string
	From, To string
}

// SenderOptions configures a Sender. The zero value of every field but DB
// and Transport is a documented default.
type SenderOptions struct {
	DB *sqlx.DB
	// Outbox holds the prepared statements; default an unprepared one on DB.
	Outbox    *Outbox
	Transport Transport
	Logger    *slog.Logger     // default slog.Default()
	Now       func() time.Time // default time.Now
	// ReturnPath gives the envelope sender of one delivery; a bounce to it
	// names the delivery. Default: the null path "<>".
	ReturnPath func(deliveryID int64) string
	Batch      int           // deliveries claimed at once; default 64
	Parallel   int           // deliveries under way at once; default 8
	Poll       time.Duration // how often to look for due rows without a Wake; default 5s
	Lease      time.Duration // how long a claimed row is ours before others retry it; default 10m
	// GiveUpAfter is how long after queueing a temporary failure becomes
	// permanent; default 5 days (RFC 5321 §4.5.4.1).
	GiveUpAfter time.Duration
	// OnFailed is called after a delivery failed for good, e.g. to tell
	// staff; it must not block.
	OnFailed func(d FailedDelivery)
	// OnAttempt, when set, is told the result of every delivery attempt:
	// "sent", "deferred" or "failed" (for good). It must not block (metrics).
	OnAttempt func(result string)
	// Sign, when set, signs each delivery's bytes (DKIM) just before
	// sending; the outbox keeps the unsigned bytes. A signing error is a
	// temporary failure.
	Sign func(raw []byte) ([]byte, error)
}

// FailedDelivery describes a recipient casegate gave up on.
type FailedDelivery struct {
	DeliveryID, OutboxID int64
	MessageID, Recipient string
	Err                  string
}

// Sender delivers queued outbox rows. Any number of Senders, in any number
// of processes, may run against one database: rows are claimed with
// FOR UPDATE SKIP LOCKED and leased.
type Sender struct {
	opts SenderOptions
	wake chan struct{}
	sent sentRecords
}

// sentRecords writes the "sent" records of deliveries handed off at the
// same time in one statement: the first delivery to arrive writes, those
// that arrive meanwhile wait and go in the next statement together. Each
// delivery's attempt still returns only once its own record is written,
// so a record is never put off to the end of a batch (a crash would then
// send the batch's mail again), and Parallel deliveries under way cost one
// round trip, not Parallel.
type sentRecords struct {
	mu      sync.Mutex
	writing bool
	waiting []sentRecord
}

type sentRecord struct {
	id   int64
	done chan error
}

// recordSent records delivery id as sent and returns when that record is
// written (or failed).
func (s *Sender) recordSent(ctx context.Context, id int64) error {
	r := &s.sent
	done := make(chan error, 1)
	r.mu.Lock()
	r.waiting = append(r.waiting, sentRecord{id, done})
	if r.writing {
		r.mu.Unlock()
		return <-done
	}
	r.writing = true
	for len(r.waiting) > 0 {
		batch := r.waiting
		r.waiting = nil
		r.mu.Unlock()
		ids := make([]int64, len(batch))
		for i, b := range batch {
			ids[i] = b.id
		}
		_, err := s.opts.Outbox.q.MarkSent.Exec(ctx, s.opts.DB, pq.Array(ids), s.opts.Now())
		for _, b := range batch {
			b.done <- err
		}
		r.mu.Lock()
	}
	r.writing = false
	r.mu.Unlock()
	return <-done
}

// NewSender returns a Sender; call Run to start it.
func NewSender(opts SenderOptions) *Sender {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReturnPath == nil {
		opts.ReturnPath = func(int64) string { return "" }
	}
	if opts.Batch == 0 {
		opts.Batch = 64
	}
	if opts.Parallel == 0 {
		opts.Parallel = 8
	}
	if opts.Poll == 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.Lease == 0 {
		opts.Lease = 10 * time.Minute
	}
	if opts.GiveUpAfter == 0 {
		opts.GiveUpAfter = 5 * 24 * time.Hour
	}
	if opts.Outbox == nil {
		opts.Outbox = NewOutbox(opts.DB)
	}
	return &Sender{opts: opts, wake: make(chan struct{}, 1)}
}

// Wake makes the sender look for due rows now, e.g. right after a commit
// that queued mail. It never blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers due rows until ctx is cancelled. A delivery under way when
// ctx ends is finished (bounded by its own timeouts), so no row is left
// half-sent without a record.
func (s *Sender) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.Poll)
	defer t.Stop()
	for {
		for {
			n, err := s.RunOnce(context.WithoutCancel(ctx))
			if err != nil {
				s.opts.Logger.Error("outbox: claim failed", "err", err)
				break
			}
			if n < s.opts.Batch || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			if c, ok := s.opts.Transport.(io.Closer); ok {
				c.Close()
			}
			return nil
		case <-t.C:
		case <-s.wake:
		}
	}
}

type claimed struct {
	ID        int64     `db:"id"`
	OutboxID  int64     `db:"outbox_id"`
	Recipient string    `db:"recipient"`
	Attempts  int       `db:"attempts"`
	MessageID string    `db:"message_id"`
	Raw       []byte    `db:"raw"`
	Automatic bool      `db:"automatic"`
	CreatedAt time.Time `db:"created_at"`
}

// RunOnce claims one batch of due deliveries and attempts each; it returns
// how many it claimed.
func (s *Sender) RunOnce(ctx context.Context) (int, error) {
	now := s.opts.Now()
	var batch []claimed
	if err := s.opts.Outbox.q.Claim.Select(ctx, s.opts.DB, &batch, now, now.Add(s.opts.Lease), s.opts.Batch); err != nil {
		return 0, fmt.Errorf("claim deliveries: %w", err)
	}
	work := make(chan claimed)
	var wg sync.WaitGroup
	for i := 0; i < min(s.opts.Parallel, len(batch)); i++ {
		wg.Go(func() {
			for d := range work {
				s.attempt(ctx, d)
			}
		})
	}
	for _, d := range batch {
		work <- d
	}
	close(work)
	wg.Wait()
	return len(batch), nil
}

// attempt delivers d and records the outcome on its row at once: a
// delivery recorded as sent right after its handoff is not sent again
// after a crash; one whose record failed stays leased and is sent again
// when the lease ends — a duplicate with the same Message-ID rather than
// a loss.
func (s *Sender) attempt(ctx context.Context, d claimed) {
	log := s.opts.Logger.With("delivery", d.ID, "message_id", d.MessageID, "recipient", d.Recipient, "attempt", d.Attempts)
	raw, err := d.Raw, error(nil)
	if s.opts.Sign != nil {
		raw, err = s.opts.Sign(d.Raw)
	}
	if err == nil {
		env := Envelope{Key: "d" + strconv.FormatInt(d.ID, 10), From: s.opts.ReturnPath(d.ID), To: d.Recipient}
		err = s.opts.Transport.Deliver(ctx, env, raw)
	}
	now := s.opts.Now()
	q := &s.opts.Outbox.q
	result := "deferred"
	switch {
	case err == nil:
		result = "sent"
		err = s.recordSent(ctx, d.ID)
		log.Info("outbox: delivered")
	case IsPermanent(err) || now.Sub(d.CreatedAt) >= s.opts.GiveUpAfter:
		reason := err.Error()
		result = "failed"
		log.Warn("outbox: delivery failed for good", "err", reason)
		if _, err = q.MarkFailed.Exec(ctx, s.opts.DB, d.ID, now, reason); err == nil && s.opts.OnFailed != nil {
			s.opts.OnFailed(FailedDelivery{DeliveryID: d.ID, OutboxID: d.OutboxID, MessageID: d.MessageID, Recipient: d.Recipient, Err: reason})
		}
	default:
		next := now.Add(Backoff(d.Attempts))
		log.Info("outbox: delivery deferred", "err", err, "next_attempt", next)
		_, err = q.Reschedule.Exec(ctx, s.opts.DB, d.ID, next, err.Error())
	}
	if s.opts.OnAttempt != nil {
		s.opts.OnAttempt(result)
	}
	if err != nil {
		log.Error("outbox: recording outcome failed; the delivery is retried when its lease ends", "err", err)
	}
}

// Backoff is the wait before attempt n+1 after n failed attempts:
// 1, 5, 15, 30 minutes, then doubling up to 4 hours. Acknowledgements
// matter most in their first minutes; RFC 5321 §4.5.4.1's 30 minutes is
// the floor for the long tail.
func Backoff(attempts int) time.Duration {
	steps := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute}
	if attempts <= 0 {
		return steps[0]
	}
	if attempts <= len(steps) {
		return steps[attempts-1]
	}
	d := steps[len(steps)-1] << (attempts - len(steps))
	if d > 4*time.Hour || d <= 0 {
		d = 4 * time.Hour
	}
	return d
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
