package mailin

import (
	"bufio"
	"bytes"
	"casegate/vocab"
	"encoding/json"
	"net/textproto"
	"regexp"
	"strings"
)

// Bounces that carry no message/delivery-status part (RFC 3464), as
// qmail, Exim, Exchange, Gmail, Yahoo, Amazon SES, Lotus Notes and many
// providers send them, are read by the rules below: the failed recipient
// from X-Failed-Recipients or from the text, the status from an enhanced
// status code (RFC 3463) or an SMTP reply code in the text, else from the
// words the MTA uses for the failure. The rules are our own, written after
// reading how Sisimai (github.com/sisimai) reads the same MTAs; its Go port
// cannot be imported as a module. TestDSNParserOnSisimaiCorpus measures
// them on Sisimai's public samples against Sisimai's own expectations, and
// TestBounceRules holds one sample per MTA family.

// plainBounce reads a bounce without a delivery-status part.
func plainBounce(in *vocab.Inbound) []vocab.DSNRecipient {
	text := bounceText(in)
	var rcpts []string
	for _, v := range headerValues(in.Raw, "X-Failed-Recipients") {
		for _, a := range strings.Split(v, ",") {
			if a = strings.Trim(strings.TrimSpace(a), "<>"); strings.Contains(a, "@") {
				rcpts = append(rcpts, a)
			}
		}
	}
	if len(rcpts) == 0 {
		if a := failedAddress(in, text); a != "" {
			rcpts = append(rcpts, a)
		} else if a := returnedRecipient(in); a != "" && in.Automatic {
			// Named nowhere in the text: the returned message's To.
			rcpts = append(rcpts, a)
		}
	}
	if len(rcpts) == 0 {
		return nil
	}
	status := statusInText(text)
	if status == "" && !in.Automatic {
		// Words alone, in mail no header marks as automatic: a person
		// writing about a bounce, not a bounce.
		return nil
	}
	var out []vocab.DSNRecipient
	for _, r := range rcpts {
		d := vocab.DSNRecipient{Recipient: validText([]byte(r)), Status: status}
		out = append(out, d)
	}
	return out
}

// bounceText is what an MTA wrote in its bounce: the text body, or the
// first text attachment when the body is empty, cut where the returned
// message begins (its addresses and codes are not the failure's).
func bounceText(in *vocab.Inbound) string {
	text := in.Text
	if strings.TrimSpace(text) == "" {
		for _, a := range in.Attachments {
			if strings.HasPrefix(a.ContentType, "text/") && len(a.Data) > 0 {
				text = validText(a.Data)
				break
			}
		}
	}
	if len(text) > 64<<10 {
		text = text[:64<<10]
	}
	if m := returnedMessageStart.FindStringIndex(text); m != nil && m[0] > 0 {
		text = text[:m[0]]
	}
	return text
}

// Where MTAs begin the copy of the returned message.
var returnedMessageStart = regexp.MustCompile(`(?im)^[ \t>*-]*(-+ ?)?(original message( follows)?|this is a copy of the message|below this line is a copy of the message|returned message|the original message headers|the headers of the original message|message headers follow|------ this is a copy|original message header|unsent message below|content of the original message|--- the header of the original message is following\. ---)`)

// failedAddress picks the failed recipient out of the text: the first
// address that is neither the bounce's sender nor its recipient (the
// original sender), nor a mailer daemon, preferring one that stands on a
// line of its own or in angle brackets.
func failedAddress(in *vocab.Inbound, text string) string {
	skip := map[string]bool{strings.ToLower(in.From.Address): true}
	for _, a := range in.To {
		skip[strings.ToLower(a.Address)] = true
	}
	for _, a := range headerValues(in.Raw, "Return-Path") {
		skip[strings.ToLower(strings.Trim(strings.TrimSpace(a), "<>"))] = true
	}
	var first string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if quotedHeaderLine.MatchString(line) {
			continue // Message-ID:, Received:, From: of the returned message
		}
		for _, m := range failedAddressPattern.FindAllStringSubmatch(line, 10) {
			a := strings.ToLower(strings.TrimRight(m[1], "."))
			local, _, _ := strings.Cut(a, "@")
			if skip[a] || local == "mailer-daemon" || local == "postmaster" || strings.ContainsAny(local, "$") {
				continue
			}
			if first == "" {
				first = a
			}
		}
	}
	return first
}

var (
	failedAddressPattern = regexp.MustCompile(`<?([A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})>?`)
	quotedHeaderLine     = regexp.MustCompile(`(?i)^\s*(message-id|received|from|return-path|reply-to|sender|references|in-reply-to|x-[a-z-]+|dkim-signature|arc-[a-z-]+|list-[a-z-]+)\s*:`)
)

// statusInText finds an enhanced status code (RFC 3463), else an SMTP
// reply code made a status of its class, else the status the words of the
// failure stand for.
func statusInText(text string) string {
	if s := statusCode.FindString(text); s != "" {
		return s
	}
	if m := smtpReplyInText.FindStringSubmatch(text); m != nil {
		return m[1] + ".0.0"
	}
	return statusFromWords(text)
}

var smtpReplyInText = regexp.MustCompile(`(?m)(?:^|[\s(:;"'])([45])[0-9][0-9](?:[ -]|$)`)

// What MTAs say, and the status (RFC 3463) it stands for. The first match
// wins, so the specific comes before the general.
var failureWords = []struct {
	status string
	re     *regexp.Regexp
}{
	{"5.1.1", regexp.MustCompile(`(?i)user unknown|unknown user|no such (user|mailbox|recipient|address)|(user|mailbox|recipient|address|account)( \S+)? (does not exist|doesn't exist|not found|is unknown|unavailable)|invalid (final delivery userid|recipient|mailbox|address)|not listed in|no mailbox|unknown (local.part|recipient|address)|recipient (address )?rejected|is not a valid mailbox|undeliverable address|bad destination mailbox|not our customer|address rejected|no valid recipients|account has been disabled|mailbox is disabled|disabled mailbox|account is disabled|deactivated`)},
	{"5.2.2", regexp.MustCompile(`(?i)mailbox (is )?full|over ?quota|quota exceeded|exceeds? (the )?(allowed|storage|mailbox|quota)|insufficient (disk|storage)|mailbox size limit|too much mail|user has too many messages`)},
	{"5.1.2", regexp.MustCompile(`(?i)host (not found|unknown)|unknown host|domain (not found|does not exist)|no (mx|such domain)|name server.*not found|unrouteable|unroutable|nxdomain|hostname (lookup|not) |host or domain name not found`)},
	{"5.3.4", regexp.MustCompile(`(?i)message (is )?too (large|big)|message size exceeds|size limit|exceeds (the )?maximum (message )?size`)},
	{"5.4.6", regexp.MustCompile(`(?i)mail loop|loops back|too many hops|routing loop|duplicated message-id`)},
	{"5.4.7", regexp.MustCompile(`(?i)expired|retry time(out)? (not reached|exceeded)|could not be delivered (with)?in|has not been delivered for|too many (delivery )?attempts|delivery failed \d+ attempts|gave up|giving up|message timed out|time(d)? ?out`)},
	{"5.7.1", regexp.MustCompile(`(?i)relay(ing)? (denied|not permitted|access denied)|not (allowed|authorized|permitted) to (send|post|relay)|spam|blocked|black ?list|blacklisted|rejected (by|for|due|because)|refused|policy|not a member|are not member|access denied|denied|filter`)},
	{"4.4.1", regexp.MustCompile(`(?i)connection (refused|timed out|reset)|no route to host|could not connect|unable to connect|temporarily unavailable|service unavailable`)},
}

// statusFromWords reads the status a failure's words stand for, or "".
func statusFromWords(text string) string {
	for _, w := range failureWords {
		if w.re.MatchString(text) {
			return w.status
		}
	}
	return ""
}

// A delay notice, not a failure: the MTA is still trying.
var delayWords = regexp.MustCompile(`(?i)\bdelay(ed)?\b|warning message only|\bwarning\b|will (keep trying|retry|be retried|continue)|still trying|not yet been delivered|has been deferred|\bdeferred\b`)

var returnedSubject = regexp.MustCompile(`(?i)returned mail|returning message|undeliver|failure|failed`)

// completeStatus fills a recipient's missing status and action: from the
// Diagnostic-Code, then the bounce's text, then whether the bounce is a
// failure (5.0.0) or a delay (4.0.0), as RFC 3463's "other undefined
// status" of each class.
func completeStatus(r *vocab.DSNRecipient, in *vocab.Inbound) {
	if r.Status == "" && r.Diagnostic != "" {
		if s := statusCode.FindString(r.Diagnostic); s != "" {
			r.Status = s
		} else if m := smtpReplyInText.FindStringSubmatch(r.Diagnostic); m != nil {
			r.Status = m[1] + ".0.0"
		} else {
			r.Status = statusFromWords(r.Diagnostic)
		}
	}
	if r.Status == "" && r.Action == "" && r.Diagnostic != "" && strings.HasPrefix(r.Diagnostic, "feedback report") {
		return // a complaint carries no status
	}
	// A delay notice: the MTA is still trying, so nothing has failed yet.
	// "Returned mail: Deferred: …" is a returned message: final.
	delay := strings.EqualFold(r.Action, "delayed") || r.Action == "" && delayWords.MatchString(in.Subject) && !returnedSubject.MatchString(in.Subject)
	if r.Status == "" {
		r.Status = statusFromWords(bounceText(in))
	}
	if r.Status == "" {
		r.Status = "5.0.0"
	}
	if delay && strings.HasPrefix(r.Status, "5") {
		r.Status = "4" + r.Status[1:]
	}
	if r.Action == "" {
		r.Action = "failed"
		if strings.HasPrefix(r.Status, "4") {
			r.Action = "delayed"
		}
	}
}

// parseFeedbackReport reads the recipient an abuse or opt-out report
// (RFC 5965 ARF) is about: Original-Rcpt-To, else Removal-Recipient.
func parseFeedbackReport(b []byte) []vocab.DSNRecipient {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(bytes.TrimLeft(b, "\r\n"), '\n', '\n'))))
	h, _ := r.ReadMIMEHeader()
	kind := strings.TrimSpace(h.Get("Feedback-Type"))
	var out []vocab.DSNRecipient
	for _, key := range []string{"Original-Rcpt-To", "Removal-Recipient", "Redacted-Address", "X-HmXmrOriginalRecipient"} {
		for _, v := range h.Values(key) {
			if a := strings.Trim(strings.TrimSpace(v), "<>"); strings.Contains(a, "@") {
				out = append(out, vocab.DSNRecipient{Recipient: validText([]byte(a)), Diagnostic: oneLineLong("feedback report: " + kind)})
			}
		}
		if len(out) > 0 {
			break
		}
	}
	return out
}

// returnedRecipient is the To of the returned message or its headers: whom
// a complaint without Original-Rcpt-To is about.
func returnedRecipient(in *vocab.Inbound) string {
	for _, a := range in.Attachments {
		switch mediaTypeOnly(a.ContentType) {
		case "message/rfc822", "text/rfc822-headers", "message/rfc822-headers":
			for _, v := range headerValues(a.Data, "To") {
				if m := failedAddressPattern.FindStringSubmatch(v); m != nil {
					return m[1]
				}
			}
		}
	}
	return ""
}

// notificationJSON reads an Amazon SES notification (bounce, complaint or
// delivery), sent as JSON, directly or wrapped in an SNS message.
func notificationJSON(text string) []vocab.DSNRecipient {
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, "{") || !strings.Contains(text, "notificationType") {
		return nil
	}
	// Mailers wrap the JSON's long lines, and SNS adds a footer after it:
	// unwrap, and read the first JSON value only.
	text = strings.NewReplacer("\r", "", "\n", "").Replace(text)
	var n sesNotification
	if err := json.NewDecoder(strings.NewReader(text)).Decode(&n); err != nil {
		return nil
	}
	if n.NotificationType == "" && n.Message != "" {
		if err := json.Unmarshal([]byte(n.Message), &n); err != nil {
			return nil
		}
	}
	var out []vocab.DSNRecipient
	switch n.NotificationType {
	case "Bounce":
		action := "failed"
		if n.Bounce.BounceType == "Transient" {
			action = "delayed"
		}
		for _, r := range n.Bounce.BouncedRecipients {
			out = append(out, vocab.DSNRecipient{Recipient: validText([]byte(r.EmailAddress)), Action: action,
				Status: statusCode.FindString(r.Status), Diagnostic: oneLineLong(r.DiagnosticCode)})
		}
	case "Complaint":
		for _, r := range n.Complaint.ComplainedRecipients {
			out = append(out, vocab.DSNRecipient{Recipient: validText([]byte(r.EmailAddress)), Diagnostic: "feedback report: " + n.Complaint.ComplaintFeedbackType})
		}
	case "Delivery":
		for _, r := range n.Delivery.Recipients {
			out = append(out, vocab.DSNRecipient{Recipient: validText([]byte(r)), Action: "delivered", Status: "2.0.0", Diagnostic: oneLineLong(n.Delivery.SMTPResponse)})
		}
	}
	return out
}

type sesNotification struct {
	Message          string `json:"Message"` // an SNS envelope's payload
	NotificationType string `json:"notificationType"`
	Bounce           struct {
		BounceType        string `json:"bounceType"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint struct {
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
		ComplainedRecipients  []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
	Delivery struct {
		Recipients   []string `json:"recipients"`
		SMTPResponse string   `json:"smtpResponse"`
	} `json:"delivery"`
}

// headerValues reads the raw values of a field of the message's own
// header, unfolded.
func headerValues(raw []byte, key string) []string {
	end := headerEnd(raw)
	if end < 0 {
		end = len(raw)
	}
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw[:end])))
	h, _ := r.ReadMIMEHeader()
	return h.Values(key)
}
