package main

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casegate/internal/gatewaytest"
	"casegate/internal/pgtest"
)

// startEdgeGateway runs a gateway on staffTestConfig with the [staff] keys
// given and extra TOML, in a short temporary directory (unix socket paths
// are limited to 108 bytes), on clock when not nil. It returns the
// directory too.
func startEdgeGateway(t *testing.T, staffKeys, extra string, clock *movableClock) (*gateway, string) {
	t.Helper()
	dir := shortTempDir(t, "cg-edge-")
	dbURL := pgtest.URL(t)
	g, _ := runGateway(t, dir, dbURL, fmt.Sprintf(staffTestConfig, dbURL, staffKeys)+extra, clock.nowFunc())
	return g, dir
}

// deliver hands raw to a listener as a client at the loopback address src
// would: over SMTP, or (via "lmtp") over LMTP to a host:port or, when addr
// is a path, a unix socket. It returns the server's verdict, nil for 250.
func deliver(t *testing.T, via, addr, src, from string, rcpts []string, raw string) error {
	t.Helper()
	return gatewaytest.Client{LMTP: via == kindLMTP, Source: src}.Send(t, addr, from, rcpts, raw)
}

// openCaseFor files a first mail from customer through the SMTP listener
// and returns the case with the staff reply address and the notification's
// Message-ID.
func openCaseFor(t *testing.T, g *gateway, box *gatewaytest.Outbox, customer string) (caseID int64, staffToken, notificationID string) {
	t.Helper()
	raw := strings.NewReplacer("Ada Lovelace <ada@customer.example>", customer, "first-1@", customer+"-1@").Replace(gatewaytest.CustomerMail)
	if err := send(t, g.addr, customer, []string{"support@support.example.com"}, raw); err != nil {
		t.Fatal(err)
	}
	g.db.Get(&caseID, `SELECT id FROM cases WHERE customer = $1`, customer)
	got := box.Expect(t, customer, "alice@example.com,bob@example.com")
	n := got["alice@example.com,bob@example.com"]
	return caseID, n.ReplyTo(t), n.MessageID(t)
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
			box := gatewaytest.NewOutbox(g.db)
			attack := func(caseID int64, token, parent, from, head, id string) string {
				return head + gatewaytest.StaffReply(from, token, parent, caseID, id,
					"#priority urgent\n#assign bob@example.com\n\nYour refund is approved: http://refund.evil.example/")
			}
			for i, v := range variants {
				t.Run(v.name, func(t *testing.T) {
					customer := fmt.Sprintf("cust%d@customer.example", i)
					caseID, token, parent := openCaseFor(t, g, box, customer)
					if err := deliver(t, listener.via, addr, "127.0.0.2", "alice@example.com", []string{token}, attack(caseID, token, parent, v.from, listener.relayTop+v.head, fmt.Sprint("ATT", i))); err != nil {
						t.Fatalf("the attack was not accepted for filing: %v", err)
					}
					if c := gatewaytest.GetCase(t, g.db, caseID); c != (gatewaytest.Case{Status: "new", Priority: "normal"}) {
						t.Errorf("forged authority obeyed: case is %+v", c)
					}
					for _, m := range box.Next(t) {
						if strings.Contains(strings.Join(m.Rcpts, ","), customer) || strings.Contains(m.Text, "refund.evil") && !strings.Contains(m.Text, "Not accepted as staff") {
							t.Errorf("mail sent on the forged authority: to %v, %q", m.Rcpts, m.Subject)
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
				if c := gatewaytest.GetCase(t, g.db, caseID); c != (gatewaytest.Case{Status: "open", Priority: "urgent", Assignee: "bob@example.com"}) {
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
			clock := &movableClock{now: gatewaytest.BerlinTime(t, "2026-11-30 09:00")} // a Monday morning
			g, _ := startEdgeGateway(t, "authserv_id = \"mx.example.com\"\ntrusted_networks = [\"127.0.0.1/32\"]",
				scenarioConfig+"[lmtp]\nlisten = \"127.0.0.1:0\"\n", clock)
			addr := g.addr
			if via == kindLMTP {
				addr = g.addrs[1].String()
			}
			box := gatewaytest.NewOutbox(g.db)
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
				for _, m := range box.Next(t) {
					if strings.Contains(m.Text, "New case #") && strings.HasPrefix(replyToOr(m), fmt.Sprintf("support+%d-", caseID)) {
						staffToken, notificationID = m.ReplyTo(t), m.MessageID(t)
					}
				}
				return caseID, staffToken, notificationID
			}

			t.Run("classification: a journalist reaches PR at once", func(t *testing.T) {
				in("127.0.0.3", "lois@daily-planet.example", []string{"support@support.example.com"}, gatewaytest.JournalistMail)
				var c struct {
					ID       int64  `db:"id"`
					Category string `db:"category"`
				}
				g.db.Get(&c, `SELECT id, category FROM cases WHERE customer = 'lois@daily-planet.example'`)
				if c.Category != "journalist" {
					t.Errorf("category = %q, want journalist", c.Category)
				}
				digest := false
				for _, m := range box.Next(t) {
					digest = digest || m.Subject == fmt.Sprintf("[#%d] Exploding printers", c.ID) && strings.Contains(m.Text, `Escalated: case #`) &&
						strings.Contains(m.Text, `rule "press"`) && strings.Join(m.Rcpts, ",") == "pr@example.com"
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
				in("127.0.0.1", "alice@example.com", []string{token}, gatewaytest.StaffReply("Alice Example <alice@example.com>", token, parent, caseID, "PROOF",
					"#priority urgent\n\nHello Ada, unplug it."))
				if c := gatewaytest.GetCase(t, g.db, caseID); c.Priority != "urgent" || c.Status != "open" {
					t.Errorf("proven staff reply not applied: %+v", c)
				}
				relayed := box.Expect(t, "ada@customer.example")["ada@customer.example"]
				if relayed.Text != gatewaytest.RelayedText(caseID, "Hello Ada, unplug it.") {
					t.Errorf("relayed %q", relayed.Text)
				}
			})

			t.Run("forged authority", func(t *testing.T) {
				caseID, token, parent := newCase("bea@customer.example", "Scanner jammed", "It jams.")
				in("127.0.0.2", "alice@example.com", []string{token}, forgedPass+gatewaytest.StaffReply("Alice Example <alice@example.com>", token, parent, caseID, "FORGED",
					"#priority urgent\n\nRefund approved."))
				if c := gatewaytest.GetCase(t, g.db, caseID); c != (gatewaytest.Case{Status: "new", Priority: "normal"}) {
					t.Errorf("forged staff reply applied: %+v", c)
				}
				box.Expect(t, "alice@example.com,bob@example.com") // "Not accepted as staff", nothing to the customer
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
				want := fmt.Sprintf(`[#%d] Invoice wrong, rule "first-response"`, caseID)
				for found := false; !found; {
					for _, m := range box.Next(t) {
						found = found || m.Subject == fmt.Sprintf("[#%d] Invoice wrong", caseID) && strings.Contains(m.Text, `by the rule "first-response"`)
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
func replyToOr(m gatewaytest.Mail) string {
	list, err := m.Header.AddressList("Reply-To")
	if err != nil || len(list) != 1 {
		return ""
	}
	return list[0].Address
}

// startServiceConf runs a gateway with the configuration conf(dbURL) in a
// short temporary directory, on clock when not nil.
func startServiceConf(t *testing.T, conf func(dbURL string) string, clock *movableClock) *serviceGateway {
	t.Helper()
	dbURL := pgtest.URL(t)
	return startServiceOn(t, dbURL, conf(dbURL), clock)
}

// withSMTPKeys adds keys to testConfig's [smtp] table.
func withSMTPKeys(conf, keys string) string {
	return strings.Replace(conf, "max_message_bytes = 200000\n", "max_message_bytes = 200000\n"+keys, 1)
}

// waitReady polls /readyz until its status is code, and returns the body.
func (g *serviceGateway) waitReady(t *testing.T, code int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, body := g.get(t, "/readyz")
		if got == code {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %q, want %d", got, body, code)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Issue 15, item 11: one owner per LMTP socket. A stale socket file (a
// crash) is taken over; a second serve on a live socket refuses to start
// with a clear error and leaves the first serving; if the file is replaced
// anyway, /readyz says so; and casegate removes only the socket file it
// made, never one another process put there.
func TestLMTPSocketHasOneOwner(t *testing.T) {
	sockDir := shortTempDir(t, "cg-sock-")
	sock := filepath.Join(sockDir, "lmtp.sock")
	conf := func(dbURL string) string {
		return fmt.Sprintf(testConfig, dbURL) + fmt.Sprintf("[lmtp]\nlisten = %q\n[http]\nlisten = \"127.0.0.1:0\"\n", sock)
	}
	lmtpMail := func(id string) string {
		return strings.NewReplacer("first-1", id, "Printer on fire", "Scanner "+id).Replace(gatewaytest.CustomerMail)
	}

	// A stale socket, as a crash leaves it: taken over.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	first := startServiceConf(t, conf, nil)
	if err := deliver(t, kindLMTP, sock, "", "ada@customer.example", []string{"support@support.example.com"}, lmtpMail("one")); err != nil {
		t.Fatalf("LMTP to the first instance: %v", err)
	}

	// A second serve with the same socket path refuses to start.
	dir := t.TempDir()
	path := filepath.Join(dir, "casegate.toml")
	os.WriteFile(path, []byte(conf(pgtest.URL(t))), 0o600)
	c, err := loadConfig(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(t.Context(), c, slog.New(slog.NewTextHandler(testWriter{t}, nil)), nil) }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the second instance started on a live socket")
	}
	if err == nil || !strings.Contains(err.Error(), "lmtp.listen: "+sock+" is in use by a running process") {
		t.Errorf("second serve: %v, want a clear error naming the socket", err)
	}
	var ce *configError
	if errors.As(err, &ce) {
		t.Errorf("a socket in use is not a configuration error (exit 2 would stop systemd retrying)")
	}
	// The first instance is untouched.
	if err := deliver(t, kindLMTP, sock, "", "ada@customer.example", []string{"support@support.example.com"}, lmtpMail("two")); err != nil {
		t.Errorf("LMTP to the first instance after the second gave up: %v", err)
	}
	if body := first.waitReady(t, 200); strings.TrimSpace(body) != "ready" {
		t.Errorf("/readyz = %q", body)
	}
	if n := count(t, first.db, `SELECT count(*) FROM messages WHERE source = 'lmtp'`); n != 2 {
		t.Errorf("LMTP messages filed = %d, want 2", n)
	}

	// Someone replaces the socket file anyway: /readyz names it.
	os.Remove(sock)
	impostor, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer impostor.Close()
	impostor.(*net.UnixListener).SetUnlinkOnClose(false)
	body := first.waitReady(t, 503)
	if !strings.Contains(body, "lmtp "+sock+": the socket file was removed or replaced") {
		t.Errorf("/readyz with the socket replaced = %q", body)
	}
	// Stopping, the first instance leaves the other's socket alone.
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("the other process's socket was removed: %v", err)
	}
	impostor.Close()
	os.Remove(sock)

	// Its own socket it removes when it stops.
	third := startServiceConf(t, conf, nil)
	if err := third.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("own socket left behind after stopping: %v", err)
	}
}

// /readyz reports outgoing delivery that has failed, every attempt, for
// longer than [outbound] failing_unready_after, and is ready again once a
// delivery goes through.
func TestReadyzReportsFailingDelivery(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	relayAddr := l.Addr().String()
	l.Close() // nothing listens there yet: the relay is unreachable
	clock := &movableClock{now: time.Now()}
	g := startServiceConf(t, func(dbURL string) string {
		return strings.Replace(fmt.Sprintf(testConfig, dbURL), `maildir = "maildir"`,
			fmt.Sprintf("smarthost = %q\nstarttls = false\nfailing_unready_after = \"10m\"", relayAddr), 1) + "[http]\nlisten = \"127.0.0.1:0\"\n"
	}, clock)
	if err := send(t, g.smtp(), "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatal(err)
	}
	g.waitMetric(t, `casegate_delivery_attempts_total{result="deferred"}`, 2) // acknowledgement, staff notification
	if code, body := g.get(t, "/readyz"); code != 200 {
		t.Errorf("/readyz after the first failures = %d %q, want 200 until failing_unready_after", code, body)
	}
	clock.Add(11 * time.Minute)
	if body := g.waitReady(t, 503); !strings.Contains(body, "outbound: every delivery attempt since") || !strings.Contains(body, "(2 attempts") {
		t.Errorf("/readyz with the relay unreachable = %q", body)
	}

	relay := gatewaytest.StartRelayAt(t, relayAddr) // fails the test if the port was taken meanwhile
	clock.Add(2 * time.Minute)                      // past the first retry's backoff
	g.waitReady(t, 200)
	if len(relay.To(t, "ada@customer.example")) != 1 {
		t.Errorf("the acknowledgement did not reach the relay")
	}
}

// /readyz names an [[imap]] mailbox that has had no working session for
// its failing_unready_after (here: the server is not there at all).
func TestReadyzReportsFailingIMAPMailbox(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	imapAddr := l.Addr().String()
	l.Close() // nothing listens there
	g := startServiceConf(t, func(dbURL string) string {
		return fmt.Sprintf(testConfig, dbURL) + "[http]\nlisten = \"127.0.0.1:0\"\n" +
			fmt.Sprintf("[[imap]]\nname = \"shop\"\naddress = %q\ntls = \"none\"\nusername = \"u\"\npassword = \"p\"\nfailing_unready_after = \"2s\"\n", imapAddr)
	}, nil)
	body := g.waitReady(t, 503)
	if !strings.Contains(body, "imap shop/INBOX: no working session since") || !strings.Contains(body, "connection refused") {
		t.Errorf("/readyz with the IMAP server unreachable = %q", body)
	}
}

// Issue 15, item 9, through the gateway: the [smtp] session limits apply
// to SMTP and LMTP alike. Hogs beyond the per-IP cap get 421 4.7.0, a drip
// feed is cut off with 421 4.4.2 on either listener, meanwhile normal mail
// from others goes through, concurrently, and the gateway stays ready.
func TestBoundedSessionsKeepTheGatewayServing(t *testing.T) {
	g := startServiceConf(t, func(dbURL string) string {
		return withSMTPKeys(fmt.Sprintf(testConfig, dbURL), "read_timeout = \"1s\"\nmax_connections_per_ip = 2\nmax_connections = 6\nmax_session_time = \"4s\"\nmin_data_rate = 200000\n") +
			"[lmtp]\nlisten = \"127.0.0.1:0\"\n[http]\nlisten = \"127.0.0.1:0\"\n"
	}, nil)
	smtpAddr, lmtpAddr := g.addrs[0].String(), g.addrs[1].String()
	dial := func(src, addr string) (net.Conn, *bufio.Reader, string) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		r := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		greeting, _ := r.ReadString('\n')
		return c, r, strings.TrimSpace(greeting)
	}
	// Two hogs from one address; a third from it is refused.
	for i := 0; i < 2; i++ {
		if _, _, s := dial("127.0.0.2", smtpAddr); !strings.HasPrefix(s, "220") {
			t.Fatalf("hog %d: %q", i, s)
		}
	}
	if _, _, s := dial("127.0.0.2", smtpAddr); s != "421 4.7.0 Too many connections from your address; try again later" {
		t.Errorf("third session from one address: %q", s)
	}

	// Drip feeds into DATA on both listeners, while others send mail.
	drip := func(addr, hello string) (string, time.Duration) {
		c, r, _ := dial("127.0.0.3", addr)
		fmt.Fprintf(c, "%s drip\r\nMAIL FROM:<ada@customer.example>\r\nRCPT TO:<support@support.example.com>\r\nDATA\r\n", hello)
		for {
			s, err := r.ReadString('\n')
			if err != nil || strings.HasPrefix(s, "354") {
				break
			}
		}
		start := time.Now()
		go func() {
			for i := 0; i < 100; i++ {
				time.Sleep(200 * time.Millisecond)
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}()
		s, _ := r.ReadString('\n')
		return strings.TrimSpace(s), time.Since(start)
	}
	type result struct {
		reply string
		took  time.Duration
	}
	drips := make(chan result, 2)
	go func() { s, d := drip(smtpAddr, "EHLO"); drips <- result{s, d} }()
	go func() { s, d := drip(lmtpAddr, "LHLO"); drips <- result{s, d} }()
	for i := 0; i < 6; i++ {
		raw := strings.NewReplacer("first-1", fmt.Sprint("normal-", i), "Printer on fire", fmt.Sprint("Question ", i)).Replace(gatewaytest.CustomerMail)
		if err := deliver(t, kindSMTP, smtpAddr, "127.0.0.1", "ada@customer.example", []string{"support@support.example.com"}, raw); err != nil {
			t.Errorf("normal mail %d beside the hogs and drips: %v", i, err)
		}
		if code, body := g.get(t, "/readyz"); code != 200 {
			t.Errorf("/readyz with hogs and drips = %d %q", code, body)
		}
	}
	for i := 0; i < 2; i++ {
		r := <-drips
		if !strings.HasPrefix(r.reply, "421 4.4.2 ") || !strings.Contains(r.reply, "Message transfer too slow") || r.took > 4*time.Second {
			t.Errorf("drip feed: %q after %v, want 421 4.4.2 after about 2 s (read_timeout + max_message_bytes/min_data_rate)", r.reply, r.took)
		}
	}
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE message_id LIKE 'normal-%'`); n != 6 {
		t.Errorf("normal mails filed = %d, want 6", n)
	}
	g.waitMetric(t, `casegate_messages_received_total{result="failed",source="lmtp"}`, 1)
}

// Bad listener settings are configuration errors that name the key.
func TestListenerConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	writeTestCert(t, dir)
	os.WriteFile(filepath.Join(dir, "users"), []byte("alice@example.com:not-a-hash\n"), 0o600)
	for _, tc := range []struct{ smtp, extra, key, says string }{
		{"max_session_time = \"10m\"\n", "", "smtp.max_session_time", "shorter than one DATA phase may take"},
		{"min_data_rate = -5\n", "", "smtp.min_data_rate", "must be positive"},
		{"max_connections = -2\n", "", "smtp.max_connections", "-1 for no limit"},
		{"", "failing_unready_after = \"-1m\"\n", "outbound.failing_unready_after", "negative"},
		{"", "[submission]\nlisten = [\"127.0.0.1:0\"]\nusers_file = \"users\"\n", "submission.listen", "tls_cert"},
		{"tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n", "[submission]\nlisten = [\"127.0.0.1:0\"]\n", "submission.users_file", "required"},
		{"tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n", "[submission]\nlisten = [\"127.0.0.1:0\"]\nusers_file = \"users\"\n", "submission.users_file", "users:1: alice@example.com: not a bcrypt hash"},
		{"", "[submission]\nlisten = [\"nowhere\"]\n", "submission.listen", "missing port"},
		{"", "[lmtp]\ntrust_authentication_results = \"yes\"\n", "trust_authentication_results", ""},
	} {
		path := filepath.Join(dir, "casegate.toml")
		os.WriteFile(path, []byte(withSMTPKeys(fmt.Sprintf(testConfig, "postgres://x/y"), tc.smtp)+tc.extra), 0o600)
		_, err := loadConfig(path, func(string) string { return "" })
		var ce *configError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%q %q: err = %v, want a configuration error naming %s and saying %q", tc.smtp, tc.extra, err, tc.key, tc.says)
		}
	}
}
