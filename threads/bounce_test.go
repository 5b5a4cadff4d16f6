package threads_test

import (
	"fmt"
	"strings"
	"testing"

	"casegate/internal/gatewaytest"
)

// A bounce of an acknowledgement marks its delivery failed, opens no case,
// answers nothing, tells staff, and stops automatic mail to the address.
func TestBounceOfAcknowledgement(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatal(err)
	}
	ack := g.Relay.WaitNotNotifications(t, 1)[0]
	verp := ack.From // the envelope sender
	var delivery int64
	if err := g.DB.Get(&delivery, `SELECT id FROM deliveries WHERE recipient = 'ada@customer.example'`); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("support+bounce-%d-", delivery); !strings.HasPrefix(verp, want) {
		t.Fatalf("return path %q, want %s<mac>@…", verp, want)
	}

	// A bounce to a forged bounce address changes nothing.
	forged := fmt.Sprintf("support+bounce-%d-000000000000@support.example.com", delivery)
	if err := g.Send(t, "", []string{forged}, gatewaytest.DSN(forged, "dsn-forged@mx.customer.example")); err != nil {
		t.Fatalf("forged bounce: %v", err)
	}
	if n := g.Count(t, `SELECT count(*) FROM deliveries WHERE status = 'failed'`); n != 0 {
		t.Fatalf("a bounce to a forged address failed the delivery")
	}
	cases := g.Count(t, `SELECT count(*) FROM cases`)
	if cases != 1 {
		t.Errorf("cases = %d after a forged bounce, want 1", cases)
	}

	if err := g.Send(t, "", []string{verp}, gatewaytest.DSN(verp, "dsn-1@mx.customer.example")); err != nil {
		t.Fatalf("bounce: %v", err)
	}
	var d struct {
		Status       string `db:"status"`
		BounceStatus string `db:"bounce_status"`
		LastError    string `db:"last_error"`
	}
	if err := g.DB.Get(&d, `SELECT status, bounce_status, last_error FROM deliveries WHERE id = $1`, delivery); err != nil {
		t.Fatal(err)
	}
	if d.Status != "failed" || d.BounceStatus != "5.1.1" || !strings.Contains(d.LastError, "User unknown") {
		t.Errorf("delivery after bounce = %+v", d)
	}
	if n := g.Count(t, `SELECT count(*) FROM cases`); n != cases {
		t.Errorf("the bounce opened a case")
	}
	if n := g.Count(t, `SELECT count(*) FROM events WHERE kind = 'bounced' AND case_id = (SELECT min(id) FROM cases)`); n != 1 {
		t.Errorf("bounced events on the case = %d, want 1", n)
	}
	// Staff are told; the bouncing side gets nothing.
	mails := g.Relay.WaitNotNotifications(t, 2)
	var notice gatewaytest.Mail
	for _, m := range mails {
		if m.Raw != ack.Raw {
			notice = m
		}
	}
	if strings.Join(notice.Rcpts, ",") != "alice@example.com" || !strings.Contains(notice.Raw, "bounced") || !strings.Contains(notice.Raw, "Auto-Submitted: auto-generated") {
		t.Errorf("staff notice to %v:\n%s", notice.Rcpts, notice.Raw)
	}
	if n := g.Count(t, `SELECT count(*) FROM deliveries WHERE recipient ILIKE '%mailer-daemon%'`); n != 0 {
		t.Errorf("something was sent to the mailer-daemon")
	}
	// A bounce of mail we never sent (backscatter) opens no case either.
	backscatter := strings.Replace(gatewaytest.DSN("support@support.example.com", "dsn-2@mx.customer.example"), "ada@customer.example", "someone@customer.example", -1)
	if err := g.Send(t, "", []string{"support@support.example.com"}, backscatter); err != nil {
		t.Fatalf("backscatter: %v", err)
	}
	if n := g.Count(t, `SELECT count(*) FROM cases`); n != cases {
		t.Errorf("backscatter opened a case")
	}
	if n := g.Count(t, `SELECT count(*) FROM quarantine WHERE reason LIKE '%backscatter%'`); n != 2 {
		t.Errorf("backscatter quarantined = %d, want 2 (the forged bounce and this one)", n)
	}
	// The same bounce again changes nothing and tells nobody twice.
	g.Send(t, "", []string{verp}, gatewaytest.DSN(verp, "dsn-1@mx.customer.example"))
	if n := g.Count(t, `SELECT count(*) FROM outbox`+gatewaytest.NotNotification); n != 2 {
		t.Errorf("outbox rows = %d, want 2 (acknowledgement, staff notice)", n)
	}

	// The hard-bounced address gets no automatic mail for a while.
	next := strings.NewReplacer("first-1@", "later-1@", "Printer on fire", "Scanner on fire").Replace(gatewaytest.CustomerMail)
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, next); err != nil {
		t.Fatal(err)
	}
	if n := g.Count(t, `SELECT count(*) FROM events WHERE kind = 'not-acknowledged' AND detail LIKE '%hard-bounced%'`); n != 1 {
		t.Errorf("new case from a hard-bounced address was acknowledged")
	}
	if n := g.Count(t, `SELECT count(*) FROM outbox`+gatewaytest.NotNotification); n != 2 {
		t.Errorf("outbox rows = %d, want 2", n)
	}
}

// A DSN that reaches the plain support address (a relay rewrote the return
// path) is still matched, by the Message-ID of the mail we sent.
func TestBounceMatchedByReturnedMessageID(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatal(err)
	}
	ackID := g.Relay.WaitNotNotifications(t, 1)[0].MessageID(t)
	dsn := strings.Replace(gatewaytest.DSN("support@support.example.com", "dsn-3@mx.customer.example"), "--BOUNDARY--\n",
		"--BOUNDARY\nContent-Type: text/rfc822-headers\n\nFrom: Example Support <support@support.example.com>\nMessage-ID: <"+ackID+">\nSubject: Re: Printer on fire\n\n--BOUNDARY--\n", 1)
	if err := g.Send(t, "", []string{"support@support.example.com"}, dsn); err != nil {
		t.Fatal(err)
	}
	if n := g.Count(t, `SELECT count(*) FROM deliveries WHERE status = 'failed' AND bounce_status = '5.1.1' AND recipient = 'ada@customer.example'`); n != 1 {
		t.Errorf("the acknowledgement's delivery was not marked failed")
	}
	if n := g.Count(t, `SELECT count(*) FROM cases`); n != 1 {
		t.Errorf("cases = %d, want 1", n)
	}
}
