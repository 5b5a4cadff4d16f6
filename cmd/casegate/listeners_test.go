package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"casegate/internal/pgtest"
)

// startEdgeGateway runs a gateway on staffTestConfig with the [staff] keys
// given and extra TOML, in a short temporary directory (unix socket paths
// are limited to 108 bytes), on clock when not nil. It returns the
// directory too.
func startEdgeGateway(t *testing.T, staffKeys, extra string, clock *movableClock) (*gateway, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "cg-edge-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	dbURL := pgtest.URL(t)
	var now func() time.Time
	if clock != nil {
		now = clock.Now
	}
	g, _ := runGateway(t, dir, dbURL, fmt.Sprintf(staffTestConfig, dbURL, staffKeys)+extra, now)
	return g, dir
}

// deliver hands raw to a listener as a client at the loopback address src
// would: over SMTP, or (via "lmtp") over LMTP to a host:port or, when addr
// is a path, a unix socket. It returns the server's verdict, nil for 250.
func deliver(t *testing.T, via, addr, src, from string, rcpts []string, raw string) error {
	t.Helper()
	var conn net.Conn
	var err error
	if strings.HasPrefix(addr, "/") {
		conn, err = net.DialTimeout("unix", addr, 10*time.Second)
	} else {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
		conn, err = d.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClient(conn)
	if via == kindLMTP {
		c = smtp.NewClientLMTP(conn)
	}
	defer c.Close()
	return c.SendMail(from, rcpts, strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")))
}

// openCaseFor files a first mail from customer through the SMTP listener
// and returns the case with the staff reply address and the notification's
// Message-ID.
func openCaseFor(t *testing.T, g *gateway, box *outbox, customer string) (caseID int64, staffToken, notificationID string) {
	t.Helper()
	raw := strings.NewReplacer("Ada Lovelace <ada@customer.example>", customer, "first-1@", customer+"-1@").Replace(customerMail)
	if err := send(t, g.addr, customer, []string{"support@support.example.com"}, raw); err != nil {
		t.Fatal(err)
	}
	g.db.Get(&caseID, `SELECT id FROM cases WHERE customer = $1`, customer)
	got := box.expect(t, customer, "alice@example.com,bob@example.com")
	n := got["alice@example.com,bob@example.com"]
	return caseID, replyTo(t, n), msgID(t, n)
}

// The top of a message as a trusted relay (Postfix with DKIM/DMARC milters,
// authserv-id mx.example.com) hands it over: its own verdicts above its own
// Received field. relayFail is what it says of a forged staff mail.
const (
	relayPass = "Authentication-Results: mx.example.com;\n\tdkim=pass (2048-bit key; unprotected) header.d=example.com header.i=@example.com;\n\tdkim-atps=neutral\n" +
		"Authentication-Results: mx.example.com; dmarc=pass (p=reject dis=none) header.from=example.com\n" +
		"Received: from mail.example.com (mail.example.com [192.0.2.7])\n\tby mx.example.com (Postfix) with ESMTPS id 4XyZ1\n\tfor <support@support.example.com>; Mon, 30 Nov 2026 10:00:01 +0000 (UTC)\n"
	relayFail = "Authentication-Results: mx.example.com; dkim=none; dmarc=fail (p=reject dis=none) header.from=example.com\n" +
		"Received: from attacker.example (attacker.example [203.0.113.9])\n\tby mx.example.com (Postfix) with ESMTP id 4XyZ2\n\tfor <support@support.example.com>; Mon, 30 Nov 2026 10:00:02 +0000 (UTC)\n"
	forgedPass = "Authentication-Results: mx.example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com\n"
)

// Issue 15, item 1 (RFC 8601 §5): a forged Authentication-Results header
// with our authserv-id never grants staff authority, whichever listener it
// comes through and however it is written. Each attack is a staff reply
// with commands and text for the customer, to the case's staff address,
// from a staff (or the PR) address, proved by nothing but the forged
// header. Each asserts: nothing applied (status, priority, assignee),
// nothing relayed to the customer, the attempt on the case's timeline and
// in the message's problems. The same mail from a trusted source is obeyed,
// so the attacks fail for the right reason.
func TestForgedAuthenticationResultsAreNeverObeyed(t *testing.T) {
	variants := []struct{ name, from, head string }{
		{"plain", "Alice Example <alice@example.com>", forgedPass},
		{"other letter case", "Alice Example <alice@example.com>", strings.Replace(forgedPass, "mx.example.com", "MX.Example.COM.", 1)},
		{"comments and folding", "Alice Example <alice@example.com>",
			"Authentication-Results: (verified) mx.example.com (our MX) 1\n\t;\n\tdkim=pass (2048-bit key) header.d=example.com;\n\tdmarc=pass (p=reject) header.from=example.com\n"},
		{"several, around a Received", "Alice Example <alice@example.com>",
			forgedPass + forgedPass + "Received: from a by b; Mon, 30 Nov 2026 09:59:00 +0000\n" + forgedPass},
		{"posing as the relay, above a fake Received", "Alice Example <alice@example.com>", relayPass},
		{"from the PR address", "PR Desk <pr@example.com>", forgedPass},
	}
	for _, listener := range []struct {
		name, via, lmtp string
		// relayTop is what the trusted relay in front put above the
		// attacker's header; the attacker delivers from 127.0.0.2.
		relayTop string
	}{
		{"smtp from an untrusted client", kindSMTP, "", ""},
		{"lmtp from an untrusted tcp client", kindLMTP, "127.0.0.1:0", ""},
		{"lmtp socket, forged below the trusted relay's own", kindLMTP, "./lmtp.sock", relayFail},
	} {
		t.Run(listener.name, func(t *testing.T) {
			extra := ""
			if listener.lmtp != "" {
				extra = fmt.Sprintf("[lmtp]\nlisten = %q\n", listener.lmtp)
			}
			g, dir := startEdgeGateway(t, "authserv_id = \"mx.example.com\"\ntrusted_networks = [\"127.0.0.1/32\"]", extra, nil)
			addr := g.addr
			switch {
			case listener.lmtp == "./lmtp.sock":
				addr = filepath.Join(dir, "lmtp.sock")
			case listener.lmtp != "":
				addr = g.addrs[1].String()
			}
			box := &outbox{db: g.db}
			attack := func(caseID int64, token, parent, from, head, id string) string {
				return head + staffReply(from, token, parent, caseID, id,
					"#priority urgent\n#assign bob@example.com\n\nYour refund is approved: http://refund.evil.example/")
			}
			for i, v := range variants {
				t.Run(v.name, func(t *testing.T) {
					customer := fmt.Sprintf("cust%d@customer.example", i)
					caseID, token, parent := openCaseFor(t, g, box, customer)
					if err := deliver(t, listener.via, addr, "127.0.0.2", "alice@example.com", []string{token}, attack(caseID, token, parent, v.from, listener.relayTop+v.head, fmt.Sprint("ATT", i))); err != nil {
						t.Fatalf("the attack was not accepted for filing: %v", err)
					}
					if c := getCase(t, g.db, caseID); c != (caseRow{"new", "normal", ""}) {
						t.Errorf("forged authority obeyed: case is %+v", c)
					}
					for _, m := range box.next(t) {
						if strings.Contains(strings.Join(m.rcpts, ","), customer) || strings.Contains(m.text, "refund.evil") && !strings.Contains(m.subject, "Not accepted as staff") {
							t.Errorf("mail sent on the forged authority: to %v, %q", m.rcpts, m.subject)
						}
					}
					if n := count(t, g.db, `SELECT count(*) FROM deliveries WHERE recipient = $1`, customer); n != 1 {
						t.Errorf("mails to the customer = %d, want 1 (the acknowledgement)", n)
					}
					if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'forged-authentication-results' AND detail LIKE '%mx.example.com%not added by a trusted relay%'`, caseID); n != 1 {
						t.Errorf("forged-authentication-results events = %d, want 1", n)
					}
					if n := count(t, g.db, `SELECT count(*) FROM messages WHERE case_id = $1 AND direction = 'inbound' AND array_to_string(problems, ' ') LIKE '%Authentication-Results%not added by a trusted relay%'`, caseID); n != 1 {
						t.Errorf("the attack is not among the message's problems")
					}
				})
			}
			// Control: the same reply from a trusted source is obeyed: over
			// TCP a client in trusted_networks, on the socket the relay
			// saying pass itself.
			t.Run("control: the same reply from a trusted source", func(t *testing.T) {
				customer := "control@customer.example"
				caseID, token, parent := openCaseFor(t, g, box, customer)
				head := forgedPass
				if listener.relayTop != "" {
					head = relayPass
				}
				raw := attack(caseID, token, parent, "Alice Example <alice@example.com>", head, "CTL")
				if err := deliver(t, listener.via, addr, "127.0.0.1", "alice@example.com", []string{token}, raw); err != nil {
					t.Fatal(err)
				}
				if c := getCase(t, g.db, caseID); c != (caseRow{"open", "urgent", "bob@example.com"}) {
					t.Errorf("trusted reply: case is %+v", c)
				}
				if n := count(t, g.db, `SELECT count(*) FROM deliveries WHERE recipient = $1`, customer); n != 2 {
					t.Errorf("mails to the customer = %d, want 2 (acknowledgement, relayed reply)", n)
				}
			})
		})
	}
}

// scenarioConfig is the default rules plus an automatic-reply cap of two,
// Authentication-Results from mx.example.com, and loopback's 127.0.0.1 as
// the organisation's relay.
const scenarioConfig = escalationConfig + `
[safety]
max_auto_replies_per_day = 2
`

// Issue 15, item 10: SMTP and LMTP file exactly alike, because both are
// built from one configuration path. One scenario suite over both:
// classification (a journalist reaches PR at once), escalation on a
// business-hours deadline (the listener's and the sweeper's clock),
// staff authority with proof, forged authority, and the automatic-reply
// cap.
func TestScenariosOverSMTPAndLMTP(t *testing.T) {
	for _, via := range []string{kindSMTP, kindLMTP} {
		t.Run(via, func(t *testing.T) {
			clock := &movableClock{now: berlinTime(t, "2026-11-30 09:00")} // a Monday morning
			g, _ := startEdgeGateway(t, "authserv_id = \"mx.example.com\"\ntrusted_networks = [\"127.0.0.1/32\"]",
				scenarioConfig+"[lmtp]\nlisten = \"127.0.0.1:0\"\n", clock)
			addr := g.addr
			if via == kindLMTP {
				addr = g.addrs[1].String()
			}
			box := &outbox{db: g.db}
			in := func(src, from string, rcpts []string, raw string) {
				t.Helper()
				if err := deliver(t, via, addr, src, from, rcpts, raw); err != nil {
					t.Fatalf("%s: %v", via, err)
				}
			}
			newCase := func(customer, subject, text string) (caseID int64, staffToken, notificationID string) {
				t.Helper()
				raw := fmt.Sprintf("From: %s\nTo: support@support.example.com\nSubject: %s\nMessage-ID: <%s-%s>\n\n%s\n",
					customer, subject, strings.ReplaceAll(subject, " ", "-"), customer, text)
				in("127.0.0.3", customer, []string{"support@support.example.com"}, raw)
				g.db.Get(&caseID, `SELECT max(id) FROM cases WHERE customer = $1`, customer)
				for _, m := range box.next(t) {
					if strings.Contains(m.subject, "New case") && strings.HasPrefix(replyToOr(m), fmt.Sprintf("support+%d-", caseID)) {
						staffToken, notificationID = replyTo(t, m), msgID(t, m)
					}
				}
				return caseID, staffToken, notificationID
			}

			t.Run("classification: a journalist reaches PR at once", func(t *testing.T) {
				in("127.0.0.3", "lois@daily-planet.example", []string{"support@support.example.com"}, journalistMail)
				var c struct {
					ID       int64  `db:"id"`
					Category string `db:"category"`
				}
				g.db.Get(&c, `SELECT id, category FROM cases WHERE customer = 'lois@daily-planet.example'`)
				if c.Category != "journalist" {
					t.Errorf("category = %q, want journalist", c.Category)
				}
				digest := false
				for _, m := range box.next(t) {
					digest = digest || m.subject == fmt.Sprintf("[#%d] Escalated (press): Exploding printers", c.ID) && strings.Join(m.rcpts, ",") == "pr@example.com"
				}
				if !digest {
					t.Errorf("no digest to PR with the filing")
				}
				if n := count(t, g.db, `SELECT count(*) FROM messages WHERE case_id = $1 AND source = $2`, c.ID, via); n != 1 {
					t.Errorf("messages from %s = %d", via, n)
				}
			})

			t.Run("staff authority with proof", func(t *testing.T) {
				caseID, token, parent := newCase("ada@customer.example", "Printer on fire", "It burns.")
				in("127.0.0.1", "alice@example.com", []string{token}, staffReply("Alice Example <alice@example.com>", token, parent, caseID, "PROOF",
					"#priority urgent\n\nHello Ada, unplug it."))
				if c := getCase(t, g.db, caseID); c.Priority != "urgent" || c.Status != "open" {
					t.Errorf("proven staff reply not applied: %+v", c)
				}
				relayed := box.expect(t, "ada@customer.example")["ada@customer.example"]
				if relayed.text != relayedText(caseID, "Hello Ada, unplug it.") {
					t.Errorf("relayed %q", relayed.text)
				}
			})

			t.Run("forged authority", func(t *testing.T) {
				caseID, token, parent := newCase("bea@customer.example", "Scanner jammed", "It jams.")
				in("127.0.0.2", "alice@example.com", []string{token}, forgedPass+staffReply("Alice Example <alice@example.com>", token, parent, caseID, "FORGED",
					"#priority urgent\n\nRefund approved."))
				if c := getCase(t, g.db, caseID); c != (caseRow{"new", "normal", ""}) {
					t.Errorf("forged staff reply applied: %+v", c)
				}
				box.expect(t, "alice@example.com,bob@example.com") // "Not accepted as staff", nothing to the customer
				if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'forged-authentication-results'`, caseID); n != 1 {
					t.Errorf("the forgery is not on the timeline")
				}
			})

			t.Run("automatic-reply cap", func(t *testing.T) {
				for i := 1; i <= 3; i++ {
					newCase("cap@customer.example", fmt.Sprintf("Question %d", i), "Hello?")
				}
				if n := count(t, g.db, `SELECT count(*) FROM deliveries WHERE recipient = 'cap@customer.example'`); n != 2 {
					t.Errorf("acknowledgements = %d, want 2 (the cap)", n)
				}
				if n := count(t, g.db, `SELECT count(*) FROM events e JOIN cases c ON c.id = e.case_id WHERE c.customer = 'cap@customer.example' AND e.kind = 'not-acknowledged' AND e.detail LIKE '%cap 2%'`); n != 1 {
					t.Errorf("capped acknowledgement events = %d, want 1", n)
				}
			})

			t.Run("escalation on a business-hours deadline", func(t *testing.T) {
				caseID, _, _ := newCase("carl@customer.example", "Invoice wrong", "You charged me twice.")
				clock.Add(4*time.Hour + time.Minute) // Monday 13:01: 4 business hours without a staff reply
				deadline := time.Now().Add(20 * time.Second)
				want := fmt.Sprintf("[#%d] Escalated (first-response): Invoice wrong", caseID)
				for found := false; !found; {
					for _, m := range box.next(t) {
						found = found || m.subject == want
					}
					if !found && time.Now().After(deadline) {
						t.Fatalf("no %q", want)
					}
					time.Sleep(50 * time.Millisecond)
				}
			})
		})
	}
}

// replyToOr is m's Reply-To address, or "".
func replyToOr(m outMail) string {
	list, err := m.h.AddressList("Reply-To")
	if err != nil || len(list) != 1 {
		return ""
	}
	return list[0].Address
}
