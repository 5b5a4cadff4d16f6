package mailin

import (
	"strings"
	"testing"
)

// TestAutomaticSignals checks the header, sender and subject signals of
// automatic mail, and that a customer's mail with similar words is still
// answered.
func TestAutomaticSignals(t *testing.T) {
	tests := []struct {
		name, header string
		automatic    bool
	}{
		{"customer", "From: Ada <ada@example.com>\r\nSubject: Printer on fire\r\n", false},
		{"customer asking about delivery", "From: Ada <ada@example.com>\r\nSubject: Delivery status of my order 1042\r\n", false},
		{"customer about auto reply", "From: Ada <ada@example.com>\r\nSubject: Auto reply not working\r\n", false},
		{"customer forwarding a bounce", "From: Ada <ada@example.com>\r\nSubject: Fwd: Returned mail: see transcript for details\r\n", false},
		{"customer named postmaster-ish", "From: Post Office Fan <fan@example.com>\r\nSubject: stamps\r\n", false},
		{"Auto-Submitted", "From: a@example.com\r\nAuto-Submitted: auto-replied\r\nSubject: x\r\n", true},
		{"null Return-Path", "Return-Path: <>\r\nFrom: a@example.com\r\nSubject: x\r\n", true},
		{"null From", "From: MAILER-DAEMON <>\r\nSubject: Mail delivery failed\r\n", true},
		{"mailer-daemon", "From: MAILER-DAEMON@example.com\r\nSubject: x\r\n", true},
		{"no-reply sender", "From: SES <no-reply@sns.amazonaws.com>\r\nSubject: AWS Notification Message\r\n", true},
		{"DMARC report sender", "From: noreply-dmarc-support@google.com\r\nSubject: Report domain: example.com\r\n", true},
		{"Exim X-Failed-Recipients", "From: a@example.com\r\nX-Failed-Recipients: b@example.com\r\nSubject: x\r\n", true},
		{"mailing list", "From: a@example.com\r\nMailing-List: contact x-help@example.com; run by ezmlm\r\nSubject: x\r\n", true},
		{"Apple vacation", "From: a@example.com\r\nX-Apple-Action: VACATION\r\nSubject: Nyaan\r\n", true},
		{"Outlook auto reply", "From: a@example.com\r\nSubject: Automatic reply: Printer on fire\r\n", true},
		{"Postfix bounce subject", "From: someone@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n", true},
		{"DSN part in multipart/mixed", "From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n--b--\r\n", true},
	}
	for _, tt := range tests {
		raw := tt.header
		if !strings.Contains(raw, "\r\n\r\n") {
			raw += "\r\nbody\r\n"
		}
		in := Parse([]byte(raw))
		if in.Automatic != tt.automatic {
			t.Errorf("%s: Automatic = %v (%s), want %v", tt.name, in.Automatic, in.Why, tt.automatic)
		}
	}
}
