package gatewaytest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"casegate/internal/gatewaytest"
	"casegate/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const mail = "From: Ada <ada@customer.example>\nTo: support@support.example.com\nSubject: Printer on fire\nMessage-ID: <h-1@customer.example>\n\nIt burns.\n"

// The harness itself: a mail over SMTP and one over LMTP are filed,
// queued (Outbox) and delivered (Relay); a relay failure is retried when
// the clock moves past the backoff, at once, without waiting for the
// sender's poll; a restart runs on the same data.
func TestGatewayHarness(t *testing.T) {
	clock := gatewaytest.NewClock(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	relay := gatewaytest.StartRelay(t)
	relay.FailWith(func(rcpt string) *smtp.SMTPError {
		if rcpt == "ada@customer.example" {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	})
	g := gatewaytest.Start(t, gatewaytest.Options{Clock: clock, Relay: relay, LMTP: true})
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, mail); err != nil {
		t.Fatal(err)
	}
	got := g.Outbox.Expect(t, "ada@customer.example", "alice@example.com")
	if ack := got["ada@customer.example"]; !strings.HasPrefix(ack.Subject, "Re: Printer on fire [#1000]") || !strings.Contains(ack.Text, "case #1000") {
		t.Errorf("acknowledgement %q:\n%s", ack.Subject, ack.Text)
	}
	if n := relay.WaitTo(t, "alice@example.com", 1); n[0].From == "" || n[0].Subject != "[#1000] Printer on fire" {
		t.Errorf("notification from %q, subject %q", n[0].From, n[0].Subject)
	}
	if n := g.Count(t, `SELECT count(*) FROM deliveries WHERE recipient = 'ada@customer.example' AND status = 'queued' AND attempts = 1`); n != 1 {
		t.Errorf("the refused acknowledgement is not waiting for a retry")
	}
	relay.FailWith(nil)
	moved := time.Now()
	clock.Add(2 * time.Minute) // past the first retry's backoff
	relay.WaitTo(t, "ada@customer.example", 1)
	if took := time.Since(moved); took > 4*time.Second {
		t.Errorf("the retry came %v after the clock moved: moving the clock does not wake the sender", took)
	}

	// LMTP answers per recipient; a recipient not ours is refused at RCPT.
	lmtp := strings.NewReplacer("h-1@", "h-2@", "Printer on fire", "Scanner jammed").Replace(mail)
	resp, err := gatewaytest.Client{}.SendLMTP(t, g.LMTPAddr, "ada@customer.example", []string{"support@support.example.com", "support+x@support.example.com"}, lmtp)
	if err != nil || len(resp) != 2 {
		t.Errorf("LMTP: %v %v, want one reply per recipient", resp, err)
	}
	if err := (gatewaytest.Client{LMTP: true}).Send(t, g.LMTPAddr, "ada@customer.example", []string{"postmaster@support.example.com"}, lmtp); gatewaytest.SMTPCode(err) != 550 {
		t.Errorf("LMTP to postmaster: %v, want 550", err)
	}
	if n := g.Count(t, `SELECT count(*) FROM messages WHERE source = 'lmtp'`); n != 1 {
		t.Errorf("LMTP messages = %d, want 1", n)
	}

	// A restart on the same database and relay files on the same cases.
	g.Stop(t)
	o := gatewaytest.Options{Clock: clock, Relay: relay, DatabaseURL: g.DatabaseURL}
	again := gatewaytest.Start(t, o)
	reply := strings.NewReplacer("h-1@", "h-3@", "Subject: Printer on fire", "Subject: Re: Printer on fire [#1000]").Replace(mail)
	if err := again.Send(t, "ada@customer.example", []string{"support@support.example.com"}, reply); err != nil {
		t.Fatal(err)
	}
	if n := again.Count(t, `SELECT count(*) FROM messages WHERE case_id = 1000 AND direction = 'inbound'`); n != 2 {
		t.Errorf("inbound messages on case 1000 after the restart = %d, want 2", n)
	}
	if c := again.Case(t, 1000); c.Status != "new" || c.Priority != "normal" {
		t.Errorf("case 1000 = %+v", c)
	}
}
