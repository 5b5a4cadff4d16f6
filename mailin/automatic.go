package mailin

import (
	"casegate/vocab"
	"regexp"
	"strings"

	"github.com/emersion/go-message/mail"
)

// Signals of automatic mail beyond RFC 3834's Auto-Submitted, gathered
// from the bounces, reports and vacation replies of real MTAs and mailers
// (sisimai's set of emails, stalwart-mail-auth's reports). Answering any of
// them risks a loop or mails a machine; the message is still filed.

// automaticSenders are local parts that only machines send from.
var automaticSenders = map[string]bool{
	"mailer-daemon": true, "mailerdaemon": true, "mail-daemon": true, "postmaster": true,
	"post_master": true, "noreply": true, "no-reply": true, "do-not-reply": true, "donotreply": true,
	"bounce": true, "bounces": true,
}

// automaticSenderPrefixes catch "noreply-dmarc-support@…" and the like.
var automaticSenderPrefixes = []string{"noreply-", "no-reply-", "noreply.", "no-reply.", "mailer-daemon", "dmarcreport", "dmarc-report", "dmarc_report"}

// automaticNames are display names of MTAs' delivery reports.
var automaticNames = regexp.MustCompile(`(?i)^(mail(er)?[ -]?daemon|mail deliver(y)? (sub)?system|mail delivery service|postmaster|.*\bndr\b.*|dmarc aggregate report)$`)

// automaticSubjects are the subjects of delivery reports, auto-replies and
// feedback reports that carry no header saying so. They are whole phrases
// (or end in a colon) so that a customer's "Delivery status of my order"
// or "Auto reply not working" is still answered.
var automaticSubjects = regexp.MustCompile(`(?i)^\s*(` +
	`undeliverable\s*(mail|message)?\s*(:|$)|undelivered mail returned to sender|returned mail\s*:|failure notice\s*$|` +
	`delivery status notification|mail delivery failed|delivery failure\s*:|mail system error - returned mail|` +
	`non-?delivery (report|notification)|there was an error sending your mail|warning: could not send message|` +
	`auto(matic)?[ -]?(reply|response|antwort|réponse)\s*:|out of (the )?office( reply| autoreply)?\s*:|abwesenheitsnotiz|` +
	`report domain:|complaint about message from|` +
	`メールエラー通知` + // KDDI's "mail error notice"
	`)`)

// automaticHeaders are set by vacation responders, list managers and
// MTAs on mail nobody should answer.
var automaticHeaders = []string{
	"X-Autoreply", "X-Autorespond", "X-Auto-Response", "X-Mail-Autoreply", "X-Failed-Recipients",
	"Mailing-List", "X-MLServer", "X-ML-Name", "List-Subscribe", "List-Post", "X-Amazon-Mail-Relay-Type",
}

// classifyMore adds the signals above to classify's RFC 3834 checks.
func classifyMore(in *vocab.Inbound, h mail.Header) {
	if in.Automatic {
		return
	}
	mark := func(why string) { in.Automatic, in.Why = true, why }
	if rp := strings.TrimSpace(h.Get("Return-Path")); rp == "<>" || strings.EqualFold(strings.Trim(rp, "<>"), "mailer-daemon") {
		mark("null return path (Return-Path: " + rp + ")")
		return
	}
	if rawFrom := h.Get("From"); strings.Contains(rawFrom, "<>") {
		mark("null From address (" + strings.TrimSpace(rawFrom) + ")")
		return
	}
	local, _, _ := strings.Cut(strings.ToLower(in.From.Address), "@")
	if automaticSenders[local] {
		mark("From " + in.From.Address)
		return
	}
	for _, p := range automaticSenderPrefixes {
		if strings.HasPrefix(local, p) {
			mark("From " + in.From.Address)
			return
		}
	}
	if automaticNames.MatchString(strings.TrimSpace(in.From.Name)) {
		mark("From " + in.From.Name)
		return
	}
	for _, k := range automaticHeaders {
		if h.Has(k) {
			mark(k)
			return
		}
	}
	if strings.EqualFold(h.Get("X-Apple-Action"), "VACATION") {
		mark("X-Apple-Action: VACATION")
		return
	}
	if automaticSubjects.MatchString(in.Subject) {
		mark("subject of an automatic message: " + in.Subject)
		return
	}
	if t, _, _ := h.ContentType(); isReportType(t) {
		mark(t)
	}
}

// isReportType tells the parts that only delivery, disposition and
// feedback reports carry (RFC 3464, RFC 3798, RFC 5965, RFC 6533).
func isReportType(t string) bool {
	switch strings.ToLower(t) {
	case "message/delivery-status", "message/global-delivery-status", "message/disposition-notification",
		"message/global-disposition-notification", "message/feedback-report", "text/rfc822-headers":
		return true
	}
	return false
}

// markReportPart classifies a message by a report part found anywhere in
// it, for reports sent as multipart/mixed rather than multipart/report.
func markReportPart(in *vocab.Inbound, t string) {
	if !in.Automatic && isReportType(t) {
		in.Automatic, in.Why = true, "report part "+t
	}
}
