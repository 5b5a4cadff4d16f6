package mailin

import (
	"bufio"
	"bytes"
	"casegate/vocab"
	"net/textproto"
	"regexp"
	"strings"
)

// readDSN reads the delivery-status notification (RFC 3464, carried in a
// multipart/report of RFC 6522) a message holds, if any: the per-recipient
// Final-Recipient, Action, Status and Diagnostic-Code, and the Message-ID
// of the returned message. Many MTAs send bounces without a
// message/delivery-status part; for them the recipient comes from
// X-Failed-Recipients (Exim) or the text, and the status from the text.
func readDSN(in *vocab.Inbound) {
	var dsn vocab.DSN
	var feedback []vocab.DSNRecipient
	isFeedback := false
	for _, a := range in.Attachments {
		switch strings.ToLower(mediaTypeOnly(a.ContentType)) {
		case "message/delivery-status", "message/global-delivery-status":
			dsn.Recipients = append(dsn.Recipients, parseDeliveryStatus(a.Data)...)
		case "message/feedback-report":
			isFeedback = true
			feedback = append(feedback, parseFeedbackReport(a.Data)...)
		case "text/rfc822-headers", "message/rfc822", "message/rfc822-headers", "message/global", "message/global-headers":
			if dsn.OriginalMessageID == "" {
				dsn.OriginalMessageID = returnedMessageID(a.Data)
			}
		}
	}
	if len(dsn.Recipients) == 0 {
		// Delivery-status fields in the text: a report whose MIME
		// structure was lost (no Content-Type, or no delimiter).
		if hasDSNField(in.Text) {
			if m := dsnFieldsInText.FindStringIndex(in.Text); m != nil {
				dsn.Recipients = parseDeliveryStatus([]byte(in.Text[m[0]:]))
			}
		}
	}
	if len(dsn.Recipients) == 0 {
		dsn.Recipients = notificationJSON(in.Text) // Amazon SES notifications
	}
	if isFeedback && len(feedback) == 0 {
		if a := returnedRecipient(in); a != "" {
			feedback = []vocab.DSNRecipient{{Recipient: validText([]byte(a)), Diagnostic: "feedback report"}}
		}
	}
	if len(dsn.Recipients) == 0 && len(feedback) > 0 {
		// A complaint (RFC 5965) names the recipient but is no failure.
		dsn.Recipients = feedback
	}
	if len(dsn.Recipients) == 0 && looksLikeBounce(in) {
		dsn.Recipients = plainBounce(in)
	}
	for i := range dsn.Recipients {
		completeStatus(&dsn.Recipients[i], in)
	}
	if dsn.OriginalMessageID == "" && len(dsn.Recipients) > 0 {
		// Returned headers in a text/rfc822-headers part or quoted in the
		// text: the first Message-ID field below the bounce's own header.
		if i := headerEnd(in.Raw); i >= 0 {
			body := in.Raw[i:]
			if len(body) > 1<<20 {
				body = body[:1<<20]
			}
			dsn.OriginalMessageID = returnedMessageID(body)
		}
	}
	if len(dsn.Recipients) > 0 {
		in.DSN = &dsn
	}
}

func mediaTypeOnly(ct string) string {
	t, _, _ := strings.Cut(ct, ";")
	return strings.TrimSpace(t)
}

// parseDeliveryStatus reads the fields of a message/delivery-status body:
// a per-message group, then one group per recipient, separated by blank
// lines (RFC 3464 §2.1).
func parseDeliveryStatus(b []byte) []vocab.DSNRecipient {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	var out []vocab.DSNRecipient
	for i, group := range bytes.Split(b, []byte("\n\n")) {
		if len(bytes.TrimSpace(group)) == 0 {
			continue
		}
		r := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(bytes.TrimLeft(group, "\n"), '\n', '\n'))))
		h, _ := r.ReadMIMEHeader() // keep what parsed
		rcpt := h.Get("Final-Recipient")
		if rcpt == "" {
			rcpt = h.Get("Original-Recipient")
		}
		if rcpt == "" {
			if i == 0 {
				continue // the per-message group
			}
			if h.Get("Action") == "" && h.Get("Status") == "" {
				continue
			}
		}
		out = append(out, vocab.DSNRecipient{
			Recipient:  validText([]byte(bareRecipient(rcpt))),
			Action:     strings.ToLower(firstWord(h.Get("Action"))),
			Status:     statusCode.FindString(h.Get("Status")),
			Diagnostic: oneLineLong(h.Get("Diagnostic-Code")),
		})
	}
	return out
}

var (
	statusCode      = regexp.MustCompile(`\b[245]\.\d{1,3}\.\d{1,3}\b`)
	quotedMessageID = regexp.MustCompile(`(?im)^\s*Message-ID:\s*<([^<>\s]+)>`)
)

var dsnFieldsInText = regexp.MustCompile(`(?im)^(Reporting-MTA|Original-Envelope-Id|Final-Recipient):`)

// hasDSNField is a quick test before dsnFieldsInText: whether text holds
// one of its field names at all, in any case. A case-insensitive regexp
// over a whole text costs more than the rest of reading most mail.
func hasDSNField(text string) bool {
	for i := strings.IndexByte(text, ':'); i >= 0; {
		for _, f := range [...]string{"reporting-mta", "original-envelope-id", "final-recipient"} {
			if i >= len(f) && strings.EqualFold(text[i-len(f):i], f) {
				return true
			}
		}
		next := strings.IndexByte(text[i+1:], ':')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

var bounceSubject = regexp.MustCompile(`(?i)undeliver|delivery (status|failure|notification|has failed)|returned mail|failure notice|non.?deliver|mail delivery failed|rejected|could not be delivered|delivery problem`)

// looksLikeBounce tells a bounce without a delivery-status part from other
// automatic mail (an out-of-office note must not fail a delivery).
func looksLikeBounce(in *vocab.Inbound) bool {
	local, _, _ := strings.Cut(strings.ToLower(in.From.Address), "@")
	return local == "mailer-daemon" || local == "postmaster" || local == "" || bounceSubject.MatchString(in.Subject)
}

// returnedMessageID reads the Message-ID of a returned message or its
// headers.
func returnedMessageID(b []byte) string {
	if m := quotedMessageID.FindSubmatch(b); m != nil {
		return validText(m[1])
	}
	return ""
}

func bareRecipient(s string) string {
	if t, addr, ok := strings.Cut(s, ";"); ok && !strings.Contains(t, "@") {
		s = addr
	}
	return strings.Trim(strings.TrimSpace(s), "<>")
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func oneLineLong(s string) string {
	s = strings.Join(strings.Fields(validText([]byte(s))), " ")
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}
