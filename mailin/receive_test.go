package mailin_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"casegate/internal/gatewaytest"
	"casegate/internal/pgtest"
)

func TestRecipientsAndSizeChecked(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{MaxMessageBytes: 200000})
	for _, tc := range []struct {
		rcpt string
		code int
	}{
		{"someone@elsewhere.example", 550},             // not our domain: never an open relay
		{"postmaster@support.example.com", 550},        // our domain, no such mailbox
		{"support+1000-forged@support.example.com", 0}, // accepted; the forged token is ignored when threading
	} {
		err := g.Send(t, "x@customer.example", []string{tc.rcpt}, gatewaytest.CustomerMail)
		if gatewaytest.SMTPCode(err) != tc.code {
			t.Errorf("RCPT %s: err = %v, want code %d", tc.rcpt, err, tc.code)
		}
	}
	big := gatewaytest.CustomerMail + strings.Repeat("x", 78) + "\n"
	big = strings.Replace(big, "first-1", "big-1", 1) + strings.Repeat(strings.Repeat("y", 78)+"\n", 3000)
	if err := g.Send(t, "x@customer.example", []string{"support@support.example.com"}, big); gatewaytest.SMTPCode(err) != 552 {
		t.Errorf("oversize message: err = %v, want 552", err)
	}
	// The connection is still usable after a 552 and nothing was filed.
	if n := g.Count(t, `SELECT count(*) FROM messages WHERE message_id = 'big-1@customer.example'`); n != 0 {
		t.Errorf("oversize message was filed")
	}
}

// With the database down the listener must answer 4xx, never 250 or 5xx;
// the sender's retry after it is back is filed exactly once.
func TestDatabaseDownGivesTemporaryFailure(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	url := cluster.CreateDatabase(t, "casegate")
	g := gatewaytest.Start(t, gatewaytest.Options{DatabaseURL: url})

	// PostgreSQL stops while the message is being uploaded, so it is gone
	// exactly when DATA ends and filing begins.
	err := sendStoppingAtDataEnd(t, g.Addr, gatewaytest.CustomerMail, func() { cluster.Stop(t) })
	if code := gatewaytest.SMTPCode(err); code != 451 {
		t.Fatalf("with PostgreSQL down: err = %v, want a 4xx reply", err)
	}
	cluster.Start(t)
	// The client retries, possibly more than once.
	var lastErr error
	for i := 0; i < 50; i++ {
		if lastErr = g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); lastErr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("after PostgreSQL is back: %v", lastErr)
	}
	g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail)
	if n := g.Count(t, `SELECT count(*) FROM messages WHERE direction = 'inbound'`); n != 1 {
		t.Errorf("inbound messages = %d, want exactly 1", n)
	}
	g.Relay.Wait(t, 2) // the acknowledgement and the staff notification
}

// A message that went round too often is quarantined as a loop, once.
func TestMailLoopIsQuarantined(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	loop := strings.Repeat("Received: from relay.example by relay.example; Sun, 22 Nov 2026 10:00:00 +0000\n", 60) + gatewaytest.CustomerMail
	for i := 0; i < 2; i++ { // a re-delivery adds nothing
		if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, loop); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	var reason string
	if err := g.DB.Get(&reason, `SELECT reason FROM quarantine`); err != nil {
		t.Fatalf("quarantine: %v", err)
	}
	if !strings.Contains(reason, "mail loop: 60 Received") {
		t.Errorf("reason = %q", reason)
	}
	if n := g.Count(t, `SELECT count(*) FROM cases`) + g.Count(t, `SELECT count(*) FROM outbox`+gatewaytest.NotNotification); n != 0 {
		t.Errorf("a looping message opened a case or queued mail")
	}
}

// HTML is stored only as inert text.
func TestHTMLIsStoredAsText(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	html := `From: ada@customer.example
To: support@support.example.com
Subject: html
Message-ID: <html-1@customer.example>
Content-Type: text/html; charset=utf-8

<html><head><style>p{}</style><script>alert(1)</script></head><body><p onclick="steal()">Printer <b>on fire</b></p><img src="http://track.example/x.gif"></body></html>
`
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, html); err != nil {
		t.Fatal(err)
	}
	var text string
	g.DB.Get(&text, `SELECT text_body FROM messages WHERE message_id = 'html-1@customer.example'`)
	if text != "Printer on fire" {
		t.Errorf("stored text = %q, want the words without markup", text)
	}
}

// Mail claiming a staff address without proof gets no authority: its
// verdicts are stored, staff are told, and nothing automatic goes to the
// claimed address. A trusted upstream's verdict is believed.
func TestForgedStaffMailGetsNoAuthority(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{DNSTimeout: 2 * time.Second})

	forged := `From: Alice <alice@example.com>
To: support@support.example.com
Subject: refund everything
Message-ID: <forged-1@evil.example>
Authentication-Results: mx.example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com

#resolve
`
	if err := g.Send(t, "alice@example.com", []string{"support@support.example.com"}, forged); err != nil {
		t.Fatal(err)
	}
	var summary string
	g.DB.Get(&summary, `SELECT auth_summary FROM messages WHERE message_id = 'forged-1@evil.example'`)
	if !strings.Contains(summary, "ignored 1 untrusted Authentication-Results") || !strings.Contains(summary, "dkim=none") {
		t.Errorf("auth summary = %q", summary)
	}
	if n := g.Count(t, `SELECT count(*) FROM events WHERE kind = 'unauthenticated-staff'`); n != 1 {
		t.Errorf("unauthenticated-staff events = %d, want 1", n)
	}
	mails := g.Relay.WaitNotNotifications(t, 1)
	if !strings.Contains(mails[0].Raw, "Unauthenticated staff mail from alice@example.com") {
		t.Errorf("staff notice:\n%s", mails[0].Raw)
	}
	if n := g.Count(t, `SELECT count(*) FROM outbox`+gatewaytest.NotNotification); n != 1 {
		t.Errorf("outbox rows = %d, want 1 (the staff notice; no acknowledgement to the claimed address)", n)
	}

	two := strings.NewReplacer("From: Alice <alice@example.com>", "From: alice@example.com, eve@evil.example", "forged-1", "forged-2").Replace(forged)
	g.Send(t, "eve@evil.example", []string{"support@support.example.com"}, two)
	g.DB.Get(&summary, `SELECT auth_summary FROM messages WHERE message_id = 'forged-2@evil.example'`)
	if !strings.Contains(summary, "no single From") {
		t.Errorf("two From addresses: auth summary = %q", summary)
	}
}

// sendStoppingAtDataEnd sends raw and calls stop after the whole message
// is written, just before the final dot: the fault hits at DATA end.
func sendStoppingAtDataEnd(t *testing.T, addr, raw string, stop func()) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("ada@customer.example", nil); err != nil {
		return err
	}
	if err := c.Rcpt("support@support.example.com", nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, strings.ReplaceAll(raw, "\n", "\r\n")); err != nil {
		return err
	}
	stop()
	return w.Close()
}

// Replies as Gmail, Outlook, Apple Mail and Thunderbird write them (real
// mails from mailgun/talon's tests, see
// testdata/corpus/mailgun-talon/README.md): only the new text reaches the
// customer, from above the client's quote or, as Thunderbird writes it,
// below.
func TestStaffRepliesFromMailClients(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{Staff: []string{"Alice Example <alice@example.com>", "bob@example.com"},
		PR: "PR Desk <pr@example.com>", TrustedNetworks: []string{"127.0.0.0/8"}})
	box := g.Outbox
	caseID, _, staffToken, notificationID := g.OpenCustomerCase(t)
	for _, client := range []string{"gmail", "outlook", "apple_mail", "thunderbird"} {
		b, err := os.ReadFile(filepath.Join("testdata", "corpus", "mailgun-talon", "tests", "fixtures", "standard_replies", client+".eml"))
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
		if err := g.Send(t, "alice@example.com", []string{staffToken}, raw); err != nil {
			t.Fatalf("%s: %v", client, err)
		}
		// Thunderbird answers below the quote (bottom-posting): the new
		// text is found there too (mailin.SplitReply).
		m := box.Expect(t, "ada@customer.example")["ada@customer.example"]
		if m.Text != gatewaytest.RelayedText(caseID, "Hello") {
			t.Errorf("%s: relayed %q, want %q", client, m.Text, gatewaytest.RelayedText(caseID, "Hello"))
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
