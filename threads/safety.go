package threads

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate/mailout"
	"casegate/templates"
)

// SafetyOptions configures casegate's defences against mail loops and
// bounces. Zero values are the documented defaults.
// Staff (the staff directory, Options.StaffAddresses) are told of bounces,
// of senders that reached the automatic-reply cap and of mail that claims a
// staff address without proving it; no automatic reply ever goes to them.
type SafetyOptions struct {
	// MaxAutoRepliesPerDay caps the automatic mails (acknowledgements and
	// the like) one address receives in 24 hours, across all cases; default
	// 5 (RFC 3834 §2: do not answer the same sender again and again).
	MaxAutoRepliesPerDay int
	// BounceSuppression is how long a hard-bounced address gets nothing
	// automatic; default 7 days.
	BounceSuppression time.Duration
}

// bounceMAC binds a delivery id to the server secret, so a bounce address
// cannot be forged to fail someone else's delivery.
func bounceMAC(secret []byte, deliveryID int64) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("bounce:" + strconv.FormatInt(deliveryID, 10)))
	return hex.EncodeToString(m.Sum(nil)[:6])
}

// BounceAddress is the return path (VERP) of one delivery:
// support+bounce-<delivery id>-<mac>@domain. A bounce sent to it names the
// delivery it reports on without any guesswork.
func (s *Store) BounceAddress(deliveryID int64) string {
	return s.supportBase + "+bounce-" + strconv.FormatInt(deliveryID, 10) + "-" + bounceMAC(s.opts.Secret, deliveryID) + "@" + s.domain
}

// bounceDelivery returns the delivery id named by a valid bounce address
// among in's recipients, or 0.
func (s *Store) bounceDelivery(in *Inbound) int64 {
	for _, rcpt := range in.Recipients {
		local, _, _ := strings.Cut(strings.ToLower(rcpt), "@")
		base, detail, ok := strings.Cut(local, "+")
		if !ok || base != s.supportBase {
			continue
		}
		rest, ok := strings.CutPrefix(detail, "bounce-")
		if !ok {
			continue
		}
		idText, mac, ok := strings.Cut(rest, "-")
		id, err := strconv.ParseInt(idText, 10, 64)
		if !ok || err != nil || id <= 0 {
			continue
		}
		if hmac.Equal([]byte(mac), []byte(bounceMAC(s.opts.Secret, id))) {
			return id
		}
	}
	return 0
}

// fileSafety handles what must not be filed as ordinary correspondence:
// loops go to quarantine, bounces update their delivery. handled is false
// for everything else, which fileInTx files as usual.
func (s *Store) fileSafety(ctx context.Context, tx *sqlx.Tx, in *Inbound, now time.Time) (f Filed, queued, handled bool, err error) {
	if in.Quarantine != "" {
		return Filed{Quarantined: true}, false, true, s.quarantine(ctx, tx, in, in.Quarantine, now)
	}
	deliveryID := s.bounceDelivery(in)
	if deliveryID == 0 && in.DSN != nil && in.DSN.OriginalMessageID != "" {
		// A DSN that did not come to our VERP address (an old return path,
		// a relay that rewrote it): match it by the Message-ID we sent.
		for _, r := range in.DSN.Recipients {
			err := s.row(ctx, tx, "deliveries-by-message-id", in.DSN.OriginalMessageID, bareAddress(r.Recipient)).Scan(&deliveryID)
			if err == nil {
				break
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return f, false, true, err
			}
		}
	}
	if deliveryID == 0 && in.DSN != nil && in.Automatic && in.DSN.HasFailure() {
		// A bounce of mail we never sent: backscatter of spam that forged
		// our address. It is no one's case; the operator can look.
		reason := "bounce of mail casegate did not send (backscatter)"
		return Filed{Quarantined: true}, false, true, s.quarantine(ctx, tx, in, reason, now)
	}
	if deliveryID == 0 {
		return f, false, false, nil
	}
	f, queued, err = s.fileBounce(ctx, tx, in, deliveryID, now)
	return f, queued, true, err
}

// fileBounce records a report on one of our deliveries: the delivery is
// marked, the address suppressed after a hard bounce, the report filed on
// the delivery's case (never a new one) and staff told. Nothing is sent
// to the bouncing side.
func (s *Store) fileBounce(ctx context.Context, tx *sqlx.Tx, in *Inbound, deliveryID int64, now time.Time) (f Filed, queued bool, err error) {
	var d struct {
		ID        int64  `db:"id"`
		Recipient string `db:"recipient"`
		OutboxID  int64  `db:"outbox_id"`
		MessageID string `db:"message_id"`
		CaseID    int64  `db:"case_id"`
	}
	err = s.row(ctx, tx, "bounced-delivery", deliveryID).StructScan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		return Filed{Quarantined: true}, false, s.quarantine(ctx, tx, in, fmt.Sprintf("bounce for unknown delivery %d", deliveryID), now)
	}
	if err != nil {
		return f, false, fmt.Errorf("find delivery %d: %w", deliveryID, err)
	}
	f.Bounce = d.ID

	report, failed := s.readReport(in, d.Recipient)
	if _, err := s.exec(ctx, tx, "mark-bounced", d.ID, report.Status, now, failed, "bounced: "+describe(report)); err != nil {
		return f, false, fmt.Errorf("mark delivery %d bounced: %w", d.ID, err)
	}
	if failed && !strings.HasPrefix(report.Status, "4") {
		until := now.Add(s.opts.Safety.BounceSuppression)
		if _, err := s.exec(ctx, tx, "suppress-address", d.Recipient, report.Status, report.Diagnostic, d.ID, now, until); err != nil {
			return f, false, fmt.Errorf("suppress %s: %w", d.Recipient, err)
		}
	}
	in.Automatic = true
	if in.Why == "" {
		in.Why = "bounce"
	}
	if d.CaseID == 0 {
		reason := fmt.Sprintf("bounce of delivery %d (%s) to %s, which belongs to no case", d.ID, describe(report), d.Recipient)
		return Filed{Quarantined: true, Bounce: d.ID}, false, s.quarantine(ctx, tx, in, reason, now)
	}
	f.Case = d.CaseID
	if err := s.row(ctx, tx, "lock-case", d.CaseID).Scan(new(string)); err != nil {
		return f, false, fmt.Errorf("lock case %d: %w", d.CaseID, err)
	}
	if f.Message, err = s.insertInbound(ctx, tx, d.CaseID, in, now); err != nil {
		return f, false, err
	}
	kind := "delivery-delayed"
	if failed {
		kind = "bounced"
	}
	detail := fmt.Sprintf("delivery %d of %s to %s: %s; nothing sent back", d.ID, d.MessageID, d.Recipient, describe(report))
	if err := s.addEvent(ctx, tx, d.CaseID, now, kind, "casegate", f.Message, detail); err != nil {
		return f, false, err
	}
	if !failed || s.isStaff(d.Recipient) {
		// A bounce of a notice to staff is recorded but not announced to
		// staff again, or a broken staff address would loop.
		return f, false, nil
	}
	queued, err = s.notifySafety(ctx, tx, d.CaseID, "bounce", d.Recipient, describe(report), now)
	return f, queued, err
}

// readReport picks the DSN block that concerns recipient. Mail to a bounce
// address without a DSN is a failure when it is automatic (a non-standard
// bounce from a mailer-daemon), otherwise only recorded.
func (s *Store) readReport(in *Inbound, recipient string) (DSNRecipient, bool) {
	if in.DSN != nil && len(in.DSN.Recipients) > 0 {
		for _, r := range in.DSN.Recipients {
			if strings.EqualFold(bareAddress(r.Recipient), recipient) {
				return r, r.Failed()
			}
		}
		r := in.DSN.Recipients[0]
		return r, r.Failed()
	}
	r := DSNRecipient{Recipient: recipient, Diagnostic: "no delivery-status report; subject " + strconvQuote(in.Subject)}
	return r, in.Automatic
}

func describe(r DSNRecipient) string {
	s := strings.TrimSpace(r.Status + " " + r.Diagnostic)
	if s == "" {
		s = "no status given"
	}
	return s
}

func strconvQuote(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return strconv.Quote(s)
}

// bareAddress strips an RFC 3464 address type ("rfc822;") and brackets.
func bareAddress(s string) string {
	if t, addr, ok := strings.Cut(s, ";"); ok && !strings.Contains(t, "@") {
		s = addr
	}
	return strings.ToLower(strings.Trim(strings.TrimSpace(s), "<>"))
}

// quarantine keeps a message that must not be filed on a case, whole and
// exactly once, for the operator.
func (s *Store) quarantine(ctx context.Context, tx *sqlx.Tx, in *Inbound, reason string, now time.Time) error {
	_, err := s.exec(ctx, tx, "quarantine", in.Source, reason, in.Raw, in.EnvelopeFrom,
		textArray(in.Recipients), in.MessageID, now, in.BodySHA256)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	s.opts.Logger.Warn("threads: quarantined", "message_id", in.MessageID, "reason", reason)
	return nil
}

// insertInbound stores in on caseID with its authentication verdicts.
func (s *Store) insertInbound(ctx context.Context, tx *sqlx.Tx, caseID int64, in *Inbound, now time.Time) (int64, error) {
	var id int64
	err := s.row(ctx, tx, "insert-inbound", caseID, in.MessageID, in.BodySHA256, in.Raw, in.Source,
		in.EnvelopeFrom, textArray(in.Recipients), strings.ToLower(in.From.Address), in.From.Name, in.Subject, in.Text,
		textArray(in.ThreadingIDs()), in.Automatic, textArray(in.Problems), now, in.Auth.Summary).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store message: %w", err)
	}
	return id, nil
}

// checkStaffClaim tells staff, once per message, when mail claims a staff
// address without proving it. The message is filed as ordinary
// correspondence either way; authority is for the staff-command code to
// grant from in.Auth.
func (s *Store) checkStaffClaim(ctx context.Context, tx *sqlx.Tx, caseID int64, in *Inbound, now time.Time) (bool, error) {
	if !s.isStaff(in.From.Address) || in.Auth.ProvesSender() && !in.MultipleFrom {
		return false, nil
	}
	why := in.Auth.Summary
	if in.MultipleFrom {
		why = "more than one From address; " + why
	}
	if why == "" {
		why = "no DKIM, DMARC or SMTP authentication"
	}
	if err := s.addEvent(ctx, tx, caseID, now, "unauthenticated-staff", strings.ToLower(in.From.Address), 0, why); err != nil {
		return false, err
	}
	return s.notifySafety(ctx, tx, caseID, "forged-staff", in.From.Address, why, now)
}

// mayAutoReply decides whether an automatic mail may go to addr now: never
// to staff, a hard-bounced address or an address over the daily cap. A
// sender that reaches the cap is recorded and staff are told once a day.
func (s *Store) mayAutoReply(ctx context.Context, tx *sqlx.Tx, caseID int64, addr string, now time.Time) (ok bool, why string, queued bool, err error) {
	addr = strings.ToLower(addr)
	if addr == "" {
		return false, "no sender address", false, nil
	}
	if s.isStaff(addr) {
		return false, "the sender is a staff address", false, nil
	}
	// Under the address's lock, so concurrent filings count each other.
	var status string
	var n int
	if err := s.row(ctx, tx, "auto-reply-check", addr, now, now.Add(-24*time.Hour)).Scan(&status, &n); err != nil {
		return false, "", false, fmt.Errorf("check automatic replies to %s: %w", addr, err)
	}
	if status != "" {
		return false, addr + " hard-bounced (" + status + ")", false, nil
	}
	if n < s.opts.Safety.MaxAutoRepliesPerDay {
		return true, "", false, nil
	}
	why = fmt.Sprintf("%s already got %d automatic mails in 24 hours (cap %d)", addr, n, s.opts.Safety.MaxAutoRepliesPerDay)
	var inserted string
	err = s.row(ctx, tx, "record-capped", addr, now.UTC().Format("2006-01-02"), caseID, now).Scan(&inserted)
	if errors.Is(err, sql.ErrNoRows) {
		return false, why, false, nil // staff were told today
	}
	if err != nil {
		return false, "", false, fmt.Errorf("record capped %s: %w", addr, err)
	}
	queued, err = s.notifySafety(ctx, tx, caseID, "auto-reply-cap", addr, why, now)
	return false, why, queued, err
}

// notifySafety queues a safety notice to every staff address and files it
// on the case. Notices are automatic mail (auto-generated) and never go to
// a hard-bounced staff address.
func (s *Store) notifySafety(ctx context.Context, tx *sqlx.Tx, caseID int64, event, addr, detail string, now time.Time) (bool, error) {
	var to []mail.Address
	for _, a := range s.staffList() {
		var status string
		err := s.row(ctx, tx, "address-suppressed", a.Address, now).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			to = append(to, a)
		} else if err != nil {
			return false, fmt.Errorf("check bounces of %s: %w", a.Address, err)
		}
	}
	if len(to) == 0 {
		return false, nil
	}
	var c Case
	if caseID != 0 {
		if err := s.row(ctx, tx, "case-header", caseID).StructScan(&c); err != nil {
			return false, fmt.Errorf("case %d: %w", caseID, err)
		}
	}
	text, err := s.settings().Templates.Render(templates.SafetyNotice, templates.SafetyNoticeData{
		Case: caseID, Subject: c.Subject, Event: event, Address: addr, Detail: detail, Team: s.opts.Team,
	})
	if err != nil {
		return false, err
	}
	m := s.noticeMail(mailout.AutoGenerated, text)
	m.To = to
	if caseID == 0 {
		_, err := mailout.Enqueue(ctx, tx, m, now)
		return err == nil, err
	}
	msgRow, err := s.enqueueOnCase(ctx, tx, caseID, m, nil, true, now)
	if err != nil {
		return false, fmt.Errorf("store staff notice: %w", err)
	}
	return true, s.addEvent(ctx, tx, caseID, now, "staff-notified", "casegate", msgRow, event+": "+addr)
}
