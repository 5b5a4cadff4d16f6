package gatewaytest

import (
	"fmt"
	"testing"
	"time"
)

// What customers do in the behaviour tests, over SMTP into the gateway,
// and the waits that follow.

// OpenCase sends a first mail from the customer addr (Message-ID
// <tag-1@customer.example>, subject "Printer tag"), waits for its
// acknowledgement at the relay and returns its case.
func (g *Gateway) OpenCase(t testing.TB, addr, tag string) int64 {
	t.Helper()
	raw := fmt.Sprintf("From: Customer <%s>\nTo: support@support.example.com\nSubject: Printer %s\nMessage-ID: <%s-1@customer.example>\nContent-Type: text/plain; charset=utf-8\n\nMy printer is on fire.\n", addr, tag, tag)
	if err := g.Send(t, addr, []string{"support@support.example.com"}, raw); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := g.DB.Get(&id, `SELECT id FROM cases WHERE customer = $1`, addr); err != nil {
		t.Fatal(err)
	}
	g.Relay.WaitTo(t, addr, 1) // the acknowledgement
	return id
}

// Reply sends the customer addr's answer text to the mail m, threaded by
// In-Reply-To, with Message-ID <tag@customer.example> and a quote of
// earlier text below (as a rating reply has it).
func (g *Gateway) Reply(t testing.TB, addr, tag string, m Mail, text string) {
	t.Helper()
	id := m.MessageID(t)
	raw := fmt.Sprintf("From: Customer <%s>\nTo: support@support.example.com\nSubject: Re: your case\nMessage-ID: <%s@customer.example>\nIn-Reply-To: <%s>\nReferences: <%s>\nContent-Type: text/plain; charset=utf-8\n\n%s\n\n> quoted 1 of 5 earlier text\n", addr, tag, id, id, text)
	if err := g.Send(t, addr, []string{"support@support.example.com"}, raw); err != nil {
		t.Fatal(err)
	}
}

// WaitStatus waits (up to 20 s) until case id has the status want.
func (g *Gateway) WaitStatus(t testing.TB, id int64, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for g.Case(t, id).Status != want {
		if time.Now().After(deadline) {
			t.Fatalf("case %d is %s, want %s", id, g.Case(t, id).Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// OpenCustomerCase files CustomerMail on a gateway whose staff are
// alice@example.com and bob@example.com, checks that exactly the
// acknowledgement and the staff notification were queued, and returns the
// case, the customer's and staff's reply addresses and the notification's
// Message-ID.
func (g *Gateway) OpenCustomerCase(t testing.TB) (caseID int64, customerToken, staffToken, notificationID string) {
	t.Helper()
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, CustomerMail); err != nil {
		t.Fatal(err)
	}
	g.DB.Get(&caseID, `SELECT max(id) FROM cases`)
	got := g.Outbox.Expect(t, "ada@customer.example", "alice@example.com,bob@example.com")
	n := got["alice@example.com,bob@example.com"]
	return caseID, got["ada@customer.example"].ReplyTo(t), n.ReplyTo(t), n.MessageID(t)
}

// WaitNotNotifications waits (up to 10 s) until the relay holds n mails
// besides the staff notifications of new customer mail
// (StaffNotification) and returns them; more fails the test.
func (r *Relay) WaitNotNotifications(t testing.TB, n int) []Mail {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out []Mail
		for _, m := range r.Mails(t) {
			if !StaffNotification.MatchString(m.Raw) {
				out = append(out, m)
			}
		}
		if len(out) == n {
			return out
		}
		if len(out) > n || time.Now().After(deadline) {
			t.Fatalf("the relay has %d mails besides staff notifications, want %d", len(out), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
