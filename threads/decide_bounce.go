package threads

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"casegate/mailout"
	"casegate/vocab"
)

// SafetyOptions configures casegate's defences against mail loops, bounces
// and mail cannons. Zero values are the documented defaults. Staff (the
// staff directory) are told of bounces, of addresses that reached the cap
// and of mail that claims a staff address without proving it; no automatic
// answer ever goes to them.
type SafetyOptions struct {
	// MaxAutoRepliesPerDay caps the automatic answers to inbound mail
	// (acknowledgements, status replies, rating thanks, command errors)
	// one address receives in 24 hours, across all cases; default 5
	// (RFC 3834 §2: do not answer the same sender again and again).
	MaxAutoRepliesPerDay int
	// MaxAutoRepliesPerCase caps the automatic answers one case sends in
	// 24 hours, whoever they go to; default 10.
	MaxAutoRepliesPerCase int
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
	return s.supportBase + "+bounce-" + strconv.FormatInt(deliveryID, 10) + "-" + bounceMAC(s.secrets[0], deliveryID) + "@" + s.domain
}

// bounceDelivery returns the delivery id named by a valid bounce address
// among rcpts (signed with the current or a previous secret), or 0.
func (s *Store) bounceDelivery(rcpts []string) int64 {
	for _, rcpt := range rcpts {
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
		for _, secret := range s.secrets {
			if hmac.Equal([]byte(mac), []byte(bounceMAC(secret, id))) {
				return id
			}
		}
	}
	return 0
}

// bounce decides what a delivery report means: a report on one of our
// deliveries marks it, suppresses the address after a hard bounce, is
// filed on the delivery's case as automatic mail (never a new case) and
// staff are told; a bounce of mail we never sent (backscatter) and one
// whose mail belongs to no case go to quarantine. Nothing is sent to the
// bouncing side. handled is false for mail that is no bounce of ours.
func (d *decider) bounce(p *plan, in *vocab.Inbound, sn *snapshot) (*plan, bool) {
	dl := sn.Delivery
	if dl == nil {
		if in.DSN != nil && in.Automatic && in.DSN.HasFailure() {
			return d.quarantine(p, in, "bounce of mail casegate did not send (backscatter)"), true
		}
		return nil, false
	}
	report, failed := readReport(in, dl.Recipient)
	p.Bounce = &mailout.Bounce{Delivery: dl.ID, Status: report.Status, Failed: failed, At: d.now,
		Error: "bounced: " + describe(report)}
	in.Automatic = true
	if in.Why == "" {
		in.Why = "bounce"
	}
	if failed && !strings.HasPrefix(report.Status, "4") {
		p.Suppress = &suppression{Address: strings.ToLower(dl.Recipient), Status: report.Status, Diagnostic: report.Diagnostic,
			Delivery: dl.ID, At: d.now, Until: d.now.Add(d.s.opts.bounceSuppression())}
	}
	if dl.Case == 0 || sn.Thread == nil {
		reason := fmt.Sprintf("bounce of delivery %d (%s) to %s, which belongs to no case", dl.ID, describe(report), dl.Recipient)
		return d.quarantine(p, in, reason), true
	}
	c := sn.Thread.clone()
	p.Case, p.Version = c, c.Version
	p.Message = messageRowOf(in, d.now)
	kind := "delivery-delayed"
	if failed {
		kind = "bounced"
	}
	d.messageEvent(p, kind, "casegate", fmt.Sprintf("delivery %d of %s to %s: %s; nothing sent back", dl.ID, dl.MessageID, dl.Recipient, describe(report)))
	if failed && !d.isStaff(dl.Recipient) {
		// A bounce of a notice to staff is recorded but not announced to
		// staff again, or a broken staff address would loop.
		d.notifySafety(p, c, "bounce", dl.Recipient, describe(report))
	}
	return p, true
}

// readReport picks the vocab.DSN block that concerns recipient. Mail to a bounce
// address without a vocab.DSN is a failure when it is automatic (a non-standard
// bounce from a mailer-daemon), otherwise only recorded.
func readReport(in *vocab.Inbound, recipient string) (vocab.DSNRecipient, bool) {
	if in.DSN != nil && len(in.DSN.Recipients) > 0 {
		for _, r := range in.DSN.Recipients {
			if strings.EqualFold(bareAddress(r.Recipient), recipient) {
				return r, r.Failed()
			}
		}
		r := in.DSN.Recipients[0]
		return r, r.Failed()
	}
	r := vocab.DSNRecipient{Recipient: recipient, Diagnostic: "no delivery-status report; subject " + quote200(in.Subject)}
	return r, in.Automatic
}

func describe(r vocab.DSNRecipient) string {
	s := strings.TrimSpace(r.Status + " " + r.Diagnostic)
	if s == "" {
		s = "no status given"
	}
	return s
}

func quote200(s string) string {
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "")
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
