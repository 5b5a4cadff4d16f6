package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openCase files customerMail and returns the case, the customer's and
// staff's reply addresses and the notification's Message-ID.
func openCase(t *testing.T, g *gateway, box *outbox) (caseID int64, customerToken, staffToken, notificationID string) {
	t.Helper()
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, customerMail); err != nil {
		t.Fatal(err)
	}
	g.db.Get(&caseID, `SELECT max(id) FROM cases`)
	got := box.expect(t, "ada@customer.example", "alice@example.com,bob@example.com")
	n := got["alice@example.com,bob@example.com"]
	return caseID, replyTo(t, got["ada@customer.example"]), replyTo(t, n), msgID(t, n)
}

// Staff authority needs all three: a staff address, proof of origin and
// the staff token. Anything less is filed as an ordinary message, relays
// nothing, applies no command, and staff are told why (one mail).
func TestForgedStaffRepliesAreNotRelayed(t *testing.T) {
	t.Run("no proof", func(t *testing.T) {
		g := startStaffGateway(t, "") // no trusted networks: loopback proves nothing
		box := &outbox{db: g.db}
		caseID, _, staffToken, notificationID := openCase(t, g, box)
		reply := staffReply("Alice Example <alice@example.com>", staffToken, notificationID, caseID, "NP1", "#close\n\nYour refund is approved.")
		if err := send(t, g.addr, "alice@example.com", []string{staffToken}, reply); err != nil {
			t.Fatal(err)
		}
		notice := box.expect(t, "alice@example.com,bob@example.com")["alice@example.com,bob@example.com"]
		if !strings.Contains(notice.text, "nothing proves where it came from") || !strings.Contains(notice.text, "Not accepted as staff") {
			t.Errorf("notice: %q\n%s", notice.subject, notice.text)
		}
		if c := getCase(t, g.db, caseID); c.Status != "new" {
			t.Errorf("unproven #close applied: %+v", c)
		}
		if n := count(t, g.db, `SELECT count(*) FROM messages WHERE case_id = $1 AND direction = 'inbound'`, caseID); n != 2 {
			t.Errorf("inbound messages = %d, want 2 (the reply is filed)", n)
		}
	})

	g := startStaffGateway(t, `trusted_networks = ["127.0.0.1/32", "::1"]`)
	box := &outbox{db: g.db}
	caseID, customerToken, staffToken, notificationID := openCase(t, g, box)
	forged := fmt.Sprintf("support+%d-000000000000@support.example.com", caseID)
	// A stranger with the staff token: staff are told, nothing applied.
	reply := staffReply("Eve <eve@elsewhere.example>", staffToken, notificationID, caseID, "stranger", "#close\n\nYour refund is approved.")
	if err := send(t, g.addr, "x@elsewhere.example", []string{staffToken}, reply); err != nil {
		t.Fatal(err)
	}
	notice := box.expect(t, "alice@example.com,bob@example.com")["alice@example.com,bob@example.com"]
	if !strings.Contains(notice.text, "not in the staff directory") {
		t.Errorf("notice does not say why:\n%s", notice.text)
	}
	// A proven staff member without the staff token (to the support
	// address, a forged token, the customer's token): her mail is the
	// staff response on the case (issue 16: a reply sent outside
	// casegate counts), but no command applies and nothing is relayed;
	// she is told the commands need the staff address.
	for _, tc := range []struct{ name, rcpt string }{
		{"staff address without a token", "support@support.example.com"},
		{"staff address with a forged token", forged},
		{"staff address with the customer token", customerToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reply := staffReply("Alice Example <alice@example.com>", tc.rcpt, notificationID, caseID, strings.ReplaceAll(tc.name, " ", "-"), "#close\n\nYour refund is approved.")
			if err := send(t, g.addr, "x@elsewhere.example", []string{tc.rcpt}, reply); err != nil {
				t.Fatal(err)
			}
			told := box.expect(t, "alice@example.com")["alice@example.com"]
			if !strings.Contains(told.text, "commands work only in a reply to the case's staff address") {
				t.Errorf("Alice is not told why her commands were not applied:\n%s", told.text)
			}
			if c := getCase(t, g.db, caseID); c.Status == "closed" {
				t.Errorf("#close without the staff token applied")
			}
		})
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'staff-replied-directly'`, caseID); n != 3 {
		t.Errorf("staff-replied-directly events = %d, want 3", n)
	}
	// A robot answering with the staff token is filed; nobody is told (no loops).
	robot := strings.Replace(staffReply("Eve <eve@elsewhere.example>", staffToken, notificationID, caseID, "robot", "I am away."),
		"User-Agent:", "Auto-Submitted: auto-replied\nUser-Agent:", 1)
	if err := send(t, g.addr, "", []string{staffToken}, robot); err != nil {
		t.Fatal(err)
	}
	box.expect(t)
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'not-staff'`, caseID); n != 2 {
		t.Errorf("not-staff events = %d, want 2 (the stranger, the robot)", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM deliveries WHERE recipient = 'ada@customer.example'`); n != 1 {
		t.Errorf("mails to the customer = %d, want 1 (the acknowledgement only)", n)
	}
	// A genuine reply still works on the same gateway.
	if err := send(t, g.addr, "alice@example.com", []string{staffToken}, staffReply("Alice Example <alice@example.com>", staffToken, notificationID, caseID, "OK1", "Hello Ada, we are on it.")); err != nil {
		t.Fatal(err)
	}
	if m := box.expect(t, "ada@customer.example")["ada@customer.example"]; m.text != relayedText(caseID, "Hello Ada, we are on it.") {
		t.Errorf("genuine reply relayed as %q", m.text)
	}
}

// Replies as Gmail, Outlook, Apple Mail and Thunderbird write them (real
// mails from mailgun/talon's tests, see testdata/talon/README.md): only the
// new text reaches the customer. Thunderbird's answers below the quote, so
// there is no new text above it and the sender is told instead.
func TestStaffRepliesFromMailClients(t *testing.T) {
	g := startStaffGateway(t, `trusted_networks = ["127.0.0.0/8"]`)
	box := &outbox{db: g.db}
	caseID, _, staffToken, notificationID := openCase(t, g, box)
	for _, client := range []string{"gmail", "outlook", "apple_mail", "thunderbird"} {
		b, err := os.ReadFile(filepath.Join("testdata", "talon", client+".eml"))
		if err != nil {
			t.Fatal(err)
		}
		raw := withHeaders(string(b), fmt.Sprintf(`From: Alice Example <alice@example.com>
To: %s
Subject: Re: [#%d] New case: Printer on fire
Message-ID: <%s-reply@example.com>
In-Reply-To: <%s>
Date: Sun, 22 Nov 2026 11:00:00 +0000
`, staffToken, caseID, client, notificationID))
		if err := send(t, g.addr, "alice@example.com", []string{staffToken}, raw); err != nil {
			t.Fatalf("%s: %v", client, err)
		}
		// Thunderbird answers below the quote (bottom-posting): the new
		// text is found there too (mailin.SplitReply).
		m := box.expect(t, "ada@customer.example")["ada@customer.example"]
		if m.text != relayedText(caseID, "Hello") {
			t.Errorf("%s: relayed %q, want %q", client, m.text, relayedText(caseID, "Hello"))
		}
	}
}

// withHeaders replaces a mail's addressing fields with head, keeping its
// MIME fields and body exactly as the client wrote them.
func withHeaders(raw, head string) string {
	raw = strings.ReplaceAll(raw, "\r\n", "\n")
	header, body, _ := strings.Cut(raw, "\n\n")
	drop := map[string]bool{"from": true, "to": true, "subject": true, "message-id": true, "date": true, "sender": true, "in-reply-to": true, "references": true}
	var kept []string
	skipping := false
	for _, line := range strings.Split(header, "\n") {
		if line != "" && (line[0] == ' ' || line[0] == '\t') {
			if !skipping {
				kept = append(kept, line)
			}
			continue
		}
		name, _, _ := strings.Cut(line, ":")
		skipping = drop[strings.ToLower(strings.TrimSpace(name))]
		if !skipping {
			kept = append(kept, line)
		}
	}
	return head + strings.Join(kept, "\n") + "\n\n" + body
}
