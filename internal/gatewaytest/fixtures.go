package gatewaytest

// The mails customers, journalists, staff and remote mail systems write in
// the behaviour tests, the texts casegate is expected to send back, and
// the checks those tests make of customer-facing words: one copy for the
// tests of threads, mailin, mailout and cmd/casegate.

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // BerlinTime works without the system's zoneinfo

	"github.com/jmoiron/sqlx"
)

// CustomerMail is Ada's first mail: a new case from a customer.
const CustomerMail = `From: Ada Lovelace <ada@customer.example>
To: support@support.example.com
Subject: Printer on fire
Message-ID: <first-1@customer.example>
Date: Sun, 22 Nov 2026 10:00:00 +0000
Content-Type: text/plain; charset=utf-8

My printer is on fire. Please help.
`

// JournalistMail is a press enquiry from the Daily Planet
// (daily-planet.example, a press domain where a test configures one).
const JournalistMail = `From: Lois Lane <lois@daily-planet.example>
To: support@support.example.com
Subject: Exploding printers
Message-ID: <lois-1@daily-planet.example>
Content-Type: text/plain; charset=utf-8

We are running a story tomorrow on printers catching fire. Does your
company have a comment?

Lois Lane
Daily Planet
`

// FridayMail is an ordinary customer mail without a Date field, for the
// deadline tests that send it late on a Friday.
const FridayMail = `From: Ada Lovelace <ada@customer.example>
To: support@support.example.com
Subject: Invoice wrong
Message-ID: <friday-1@customer.example>
Content-Type: text/plain; charset=utf-8

You charged me twice.
`

// dsnTemplate is a Postfix delivery status notification (RFC 3464) for
// ada@customer.example: user unknown.
const dsnTemplate = `From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>
To: <%s>
Subject: Undelivered Mail Returned to Sender
Message-ID: <%s>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain

This is the mail system at host mx.customer.example.
Your message could not be delivered to one or more recipients.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.customer.example
Arrival-Date: Sun, 22 Nov 2026 10:00:05 +0000

Final-Recipient: rfc822; ada@customer.example
Original-Recipient: rfc822;ada@customer.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <ada@customer.example>: Recipient address
    rejected: User unknown in local recipient table

--BOUNDARY--
`

// DSN is the bounce Postfix at mx.customer.example sends to the return
// path to when a mail to ada@customer.example fails for good (550 5.1.1,
// user unknown), with the Message-ID messageID.
func DSN(to, messageID string) string { return fmt.Sprintf(dsnTemplate, to, messageID) }

// Fill replaces the placeholders of a test mail: Fill(s, "OLD", "new", …).
func Fill(s string, oldNew ...string) string {
	return strings.NewReplacer(oldNew...).Replace(s)
}

// MuttReply is a staff reply as mutt 2.2 writes it (text/plain, inline
// disposition, "On …, … wrote:" attribution, signature below the quote),
// with the placeholders TOKEN (the case's staff address), PARENT (the
// Message-ID answered), CASE, BODY and GA4711 (unique in its Message-ID).
// StaffReply fills it.
const MuttReply = `Date: Sun, 22 Nov 2026 10:03:11 +0000
From: Alice Example <alice@example.com>
To: Example Support <TOKEN>
Subject: Re: [#CASE] New case: Printer on fire
Message-ID: <20261122100311.GA4711@example.com>
References: <PARENT>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii
Content-Disposition: inline
In-Reply-To: <PARENT>
User-Agent: Mutt/2.2.12 (2023-09-09)

BODY

On Sun, Nov 22, 2026 at 10:00:00AM +0000, Example Support wrote:
> New case #CASE: Printer on fire
> From:     Ada Lovelace <ada@customer.example>

-- 
Alice Example, Example Corp support
`

// StaffReply is MuttReply from the From field from, to the staff address
// token, answering parent on case caseID, with body; id makes its
// Message-ID unique.
func StaffReply(from, token, parent string, caseID int64, id, body string) string {
	return Fill(MuttReply, "Alice Example <alice@example.com>", from, "TOKEN", token, "PARENT", parent,
		"CASE", fmt.Sprint(caseID), "GA4711", id, "BODY", body)
}

// RelayedText is a staff reply's text as the customer gets it, under the
// default signature of Options' support address.
func RelayedText(caseID int64, text string) string {
	return fmt.Sprintf("%s\n\n-- \nExample Support\nCase #%d: reply to this email to add to it.\n", text, caseID)
}

// ResolvedText is a relayed reply that resolved the case: the staff text,
// then the resolution line.
func ResolvedText(caseID int64, text string) string {
	return RelayedText(caseID, text+"\n\nWe have marked your case as resolved. If something is still not right,\njust reply to this email and it opens again.")
}

// CustomerReplyAddress matches a case's reply address for the customer,
// support+<case>-<token>@support.example.com.
var CustomerReplyAddress = regexp.MustCompile(`support\+\d+-[0-9a-f]+@support\.example\.com`)

// StaffNotification matches the first line of the staff notification of
// new customer mail.
var StaffNotification = regexp.MustCompile(`(?m)^(New case|The customer wrote on case) #\d+: `)

// NotNotification is a WHERE clause for the outbox table that keeps the
// rows other than staff notifications of new customer mail:
// `SELECT count(*) FROM outbox` + NotNotification.
const NotNotification = ` WHERE position(E'\nNew case #' in convert_from(raw, 'UTF8')) = 0 AND position(E'\nThe customer wrote on case #' in convert_from(raw, 'UTF8')) = 0`

// Has fails the test (without stopping it) unless every want is in text,
// white space folded in both; what names the text in the message.
func Has(t testing.TB, what, text string, want ...string) {
	t.Helper()
	folded := strings.Join(strings.Fields(text), " ")
	for _, w := range want {
		if !strings.Contains(folded, strings.Join(strings.Fields(w), " ")) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// HasNot fails the test (without stopping it) if any of bad is in text.
func HasNot(t testing.TB, what, text string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(text, b) {
			t.Errorf("%s contains %q:\n%s", what, b, text)
		}
	}
}

// NoInternals checks mail to a customer: by default it names no rule and
// shows no UTC time.
func NoInternals(t testing.TB, what, text string) {
	t.Helper()
	HasNot(t, what, text, "first-response", "resolution due", "UTC", "due ", "a few days")
}

// BerlinTime is s ("2006-01-02 15:04") in Europe/Berlin, the office
// calendar of the escalation tests.
func BerlinTime(t testing.TB, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// OnlyCase returns the number of the case in db, for a test that opens
// one; with none the test fails.
func OnlyCase(t testing.TB, db *sqlx.DB) int64 {
	t.Helper()
	var id int64
	if err := db.Get(&id, `SELECT id FROM cases`); err != nil {
		t.Fatal(err)
	}
	return id
}
