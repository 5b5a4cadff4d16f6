package threads_test

import (
	"fmt"
	"strings"
	"testing"

	"casegate/internal/gatewaytest"
	"casegate/threads"
)

// An out-of-office reply to an acknowledgement, and every other kind of
// automatic mail, is filed but never answered (RFC 3834).
func TestAutomaticMailIsNeverAnswered(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatal(err)
	}
	ack := g.Relay.WaitNotNotifications(t, 1)[0]
	ackID := ack.MessageID(t)
	if rp := ack.From; !strings.HasPrefix(rp, "support+bounce-") { // the envelope sender
		t.Errorf("acknowledgement's return path %q is not a VERP bounce address", rp)
	}
	if !strings.Contains(ack.Raw, "X-Casegate-Loop: support.example.com") {
		t.Errorf("acknowledgement lacks the loop header:\n%s", ack.Raw)
	}

	ooo := fmt.Sprintf(`From: Ada Lovelace <ada@customer.example>
To: support@support.example.com
Subject: Automatic reply: Re: Printer on fire
Message-ID: <ooo-1@customer.example>
In-Reply-To: <%s>
Auto-Submitted: auto-replied

I am out of the office until Monday.
`, ackID)
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, ooo); err != nil {
		t.Fatalf("out-of-office: %v", err)
	}
	if n := g.Count(t, `SELECT count(*) FROM messages WHERE message_id = 'ooo-1@customer.example' AND automatic AND case_id = (SELECT min(id) FROM cases)`); n != 1 {
		t.Errorf("out-of-office reply not filed on the case as automatic")
	}

	// Each of these opens a case (nobody else's mail is involved) but gets
	// no acknowledgement.
	for i, tc := range []struct{ envelopeFrom, headers string }{
		{"robot1@vendor.example", "X-Loop: support@support.example.com\n"},
		{"robot2@vendor.example", "Precedence: bulk\n"},
		{"robot3@vendor.example", "List-Id: <list.vendor.example>\n"},
		{"robot4@vendor.example", "Return-Path: <>\n"},
		{"robot5@vendor.example", "X-Casegate-Loop: support.example.com\n"},
		{"", ""}, // null envelope sender: a notification
	} {
		id := fmt.Sprintf("auto-%d@vendor.example", i)
		if i == 4 {
			id = "casegate.0123456789abcdef01234567@support.example.com" // our own id came back
		}
		from := tc.envelopeFrom
		if from == "" {
			from = "notifier@vendor.example"
		}
		raw := fmt.Sprintf("From: <%s>\nTo: support@support.example.com\nSubject: Notice %d\nMessage-ID: <%s>\n%s\nAutomatic text.\n", from, i, id, tc.headers)
		if err := g.Send(t, tc.envelopeFrom, []string{"support@support.example.com"}, raw); err != nil {
			t.Errorf("case %d: %v", i, err)
		}
		if n := g.Count(t, `SELECT count(*) FROM messages WHERE message_id = $1 AND automatic`, id); n != 1 {
			t.Errorf("case %d (%q): not filed as automatic", i, tc.headers)
		}
	}
	if n := g.Count(t, `SELECT count(*) FROM outbox`+gatewaytest.NotNotification); n != 1 {
		t.Errorf("outbox rows = %d, want 1 (only the first acknowledgement)", n)
	}
	if n := g.Count(t, `SELECT count(*) FROM events WHERE kind = 'not-acknowledged'`); n != 6 {
		t.Errorf("not-acknowledged events = %d, want 6", n)
	}
	g.Stop(t)
	g.Relay.WaitNotNotifications(t, 1)
}

// The automatic-reply cap: an address gets at most N automatic mails a
// day across cases; staff hear of it once.
func TestAutoReplyCap(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{Safety: threads.SafetyOptions{MaxAutoRepliesPerDay: 2}})
	for i := 0; i < 4; i++ {
		m := strings.NewReplacer("first-1@", fmt.Sprintf("cap-%d@", i), "Printer on fire", fmt.Sprintf("Problem %d", i)).Replace(gatewaytest.CustomerMail)
		if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, m); err != nil {
			t.Fatal(err)
		}
	}
	if n := g.Count(t, `SELECT count(*) FROM cases`); n != 4 {
		t.Errorf("cases = %d, want 4: capped mail is still filed", n)
	}
	if n := g.Count(t, `SELECT count(*) FROM deliveries WHERE recipient = 'ada@customer.example'`); n != 2 {
		t.Errorf("acknowledgements = %d, want 2", n)
	}
	if n := g.Count(t, `SELECT count(*) FROM deliveries WHERE recipient = 'alice@example.com' AND outbox_id IN (SELECT id FROM outbox`+gatewaytest.NotNotification+`)`); n != 1 {
		t.Errorf("staff notices = %d, want 1", n)
	}
	if n := g.Count(t, `SELECT count(*) FROM auto_reply_capped WHERE address = 'ada@customer.example'`); n != 1 {
		t.Errorf("capped sender not recorded")
	}
	g.Relay.WaitNotNotifications(t, 3)
}

// A Message-ID reused by someone else, or an In-Reply-To naming another
// customer's message, never merges a stranger's mail into that case.
func TestCollidingMessageIDsDoNotMergeCases(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatal(err)
	}
	replyToAda := `From: Mallory <mallory@evil.example>
To: support@support.example.com
Subject: Re: Printer on fire
Message-ID: <mallory-2@evil.example>
In-Reply-To: <first-1@customer.example>
References: <first-1@customer.example>

Add me to this case.
`
	if err := g.Send(t, "mallory@evil.example", []string{"support@support.example.com"}, replyToAda); err != nil {
		t.Fatal(err)
	}
	reused := strings.NewReplacer("Ada Lovelace <ada@customer.example>", "Mallory <mallory@evil.example>", "My printer is on fire. Please help.", "Send me Ada's data.").Replace(gatewaytest.CustomerMail)
	if err := g.Send(t, "mallory@evil.example", []string{"support@support.example.com"}, reused); err != nil {
		t.Fatal(err)
	}
	// Ada follows up on her own first message: it must reach her case, not
	// the newer one that reused its Message-ID.
	followUp := `From: Ada Lovelace <ada@customer.example>
To: support@support.example.com
Subject: Re: Printer on fire
Message-ID: <ada-3@customer.example>
In-Reply-To: <first-1@customer.example>

Still burning.
`
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, followUp); err != nil {
		t.Fatal(err)
	}
	if n := g.Count(t, `SELECT count(*) FROM messages WHERE direction = 'inbound' AND from_address = 'mallory@evil.example' AND case_id = (SELECT min(id) FROM cases)`); n != 0 {
		t.Errorf("%d of mallory's messages were merged into ada's case", n)
	}
	if n := g.Count(t, `SELECT count(*) FROM messages WHERE message_id = 'ada-3@customer.example' AND case_id = (SELECT min(id) FROM cases)`); n != 1 {
		t.Errorf("ada's follow-up did not reach her own case")
	}
	if n := g.Count(t, `SELECT count(*) FROM messages WHERE direction = 'inbound'`); n != 4 {
		t.Errorf("inbound messages = %d, want 4 (nothing lost, nothing merged)", n)
	}
}
