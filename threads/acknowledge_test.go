package threads_test

import (
	"fmt"
	"strings"
	"testing"

	"casegate/internal/gatewaytest"
)

func TestMailBecomesCaseAndIsAcknowledged(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatalf("send: %v", err)
	}

	var c struct {
		ID       int64  `db:"id"`
		Subject  string `db:"subject"`
		Status   string `db:"status"`
		Customer string `db:"customer"`
	}
	if err := g.DB.Get(&c, `SELECT id, subject, status, customer FROM cases`); err != nil {
		t.Fatal(err)
	}
	if c.Subject != "Printer on fire" || c.Status != "new" || c.Customer != "ada@customer.example" {
		t.Errorf("case = %+v", c)
	}
	var raw []byte
	g.DB.Get(&raw, `SELECT raw FROM messages WHERE direction = 'inbound'`)
	if want := strings.ReplaceAll(gatewaytest.CustomerMail, "\n", "\r\n"); string(raw) != want {
		t.Errorf("raw bytes not kept exactly:\n%q\nwant\n%q", raw, want)
	}

	acks := headerTo(t, g.Relay.Wait(t, 2), "ada@customer.example") // and the staff notification
	h := acks[0].Header
	subject, _ := h.Subject()
	if want := fmt.Sprintf("Re: Printer on fire [#%d]", c.ID); subject != want {
		t.Errorf("ack subject = %q, want %q", subject, want)
	}
	to, _ := h.AddressList("To")
	if len(to) != 1 || to[0].Address != "ada@customer.example" {
		t.Errorf("ack To = %v", to)
	}
	if irt, _ := h.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "first-1@customer.example" {
		t.Errorf("ack In-Reply-To = %v", irt)
	}
	if refs, _ := h.MsgIDList("References"); len(refs) != 1 || refs[0] != "first-1@customer.example" {
		t.Errorf("ack References = %v", refs)
	}
	if v := h.Get("Auto-Submitted"); v != "auto-replied" {
		t.Errorf("ack Auto-Submitted = %q", v)
	}
	replyTo, _ := h.AddressList("Reply-To")
	if len(replyTo) != 1 || !strings.HasPrefix(replyTo[0].Address, fmt.Sprintf("support+%d-", c.ID)) {
		t.Errorf("ack Reply-To = %v, want the case's reply address", replyTo)
	}
	text := acks[0].Text
	for _, want := range []string{fmt.Sprintf("case #%d", c.ID), "Printer on fire", `"status"`} {
		if !strings.Contains(text, want) {
			t.Errorf("ack text lacks %q:\n%s", want, text)
		}
	}
	if n := g.Count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind IN ('opened', 'acknowledged')`, c.ID); n != 2 {
		t.Errorf("events opened+acknowledged = %d, want 2", n)
	}

	// The customer answers the acknowledgement from their client: the reply
	// goes to the Reply-To address, In-Reply-To the acknowledgement.
	ackID, _ := h.MessageID()
	reply := fmt.Sprintf(`From: Ada Lovelace <ada@customer.example>
To: %s
Subject: Re: Printer on fire [#%d]
Message-ID: <second-2@customer.example>
In-Reply-To: <%s>
References: <first-1@customer.example> <%s>

It is still burning.
`, replyTo[0].Address, c.ID, ackID, ackID)
	if err := g.Send(t, "ada@customer.example", []string{replyTo[0].Address}, reply); err != nil {
		t.Fatalf("send reply: %v", err)
	}
	if n := g.Count(t, `SELECT count(*) FROM cases`); n != 1 {
		t.Errorf("cases = %d after the reply, want 1", n)
	}
	if n := g.Count(t, `SELECT count(*) FROM messages WHERE case_id = $1 AND direction = 'inbound'`, c.ID); n != 2 {
		t.Errorf("inbound messages on the case = %d, want 2", n)
	}
	if n := g.Count(t, `SELECT count(*) FROM deliveries WHERE recipient = 'ada@customer.example'`); n != 1 {
		t.Errorf("mails to the customer = %d, want 1 (no second acknowledgement)", n)
	}

	// The same message delivered again (a lost 250, a second MX) files nothing.
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatalf("resend: %v", err)
	}
	if n := g.Count(t, `SELECT count(*) FROM messages WHERE direction = 'inbound'`); n != 2 {
		t.Errorf("inbound messages = %d after a re-delivery, want 2", n)
	}
	if n := g.Count(t, `SELECT count(*) FROM deliveries WHERE recipient = 'ada@customer.example'`); n != 1 {
		t.Errorf("mails to the customer = %d after a re-delivery, want 1", n)
	}
	g.Stop(t)
	g.Relay.Wait(t, 3) // the acknowledgement, and staff told of both messages
}
