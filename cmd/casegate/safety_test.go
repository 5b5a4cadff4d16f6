package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"casegate/internal/pgtest"
)

// maildirRaw waits until dir/new holds n mails besides the staff
// notifications of new customer mail (staff work by mail, tested in
// staff_test.go) and returns their bytes.
func maildirRaw(t *testing.T, dir string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
		var out []string
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !staffNotification.Match(b) {
				out = append(out, string(b))
			}
		}
		if len(out) == n {
			return out
		}
		if len(out) > n || time.Now().After(deadline) {
			t.Fatalf("maildir has %d mails besides staff notifications, want %d", len(out), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// staffNotification matches the first line of notifyStaff's mails.
var staffNotification = regexp.MustCompile(`(?m)^(New case|The customer wrote on case) #\d+: `)

// notNotification keeps outbox rows other than staff notifications.
const notNotification = ` WHERE position(E'\nNew case #' in convert_from(raw, 'UTF8')) = 0 AND position(E'\nThe customer wrote on case #' in convert_from(raw, 'UTF8')) = 0`

var (
	returnPathField = regexp.MustCompile(`(?m)^Return-Path: <([^>]*)>`)
	messageIDField  = regexp.MustCompile(`(?mi)^Message-Id: <([^>]*)>`)
)

func field(t *testing.T, re *regexp.Regexp, raw string) string {
	t.Helper()
	m := re.FindStringSubmatch(raw)
	if m == nil {
		t.Fatalf("no %s in:\n%s", re, raw)
	}
	return m[1]
}

// An out-of-office reply to an acknowledgement, and every other kind of
// automatic mail, is filed but never answered (RFC 3834).
func TestAutomaticMailIsNeverAnswered(t *testing.T) {
	g := startGateway(t, pgtest.URL(t))
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, customerMail); err != nil {
		t.Fatal(err)
	}
	ack := maildirRaw(t, g.maildir, 1)[0]
	ackID := field(t, messageIDField, ack)
	if rp := field(t, returnPathField, ack); !strings.HasPrefix(rp, "support+bounce-") {
		t.Errorf("acknowledgement's return path %q is not a VERP bounce address", rp)
	}
	if !strings.Contains(ack, "X-Casegate-Loop: support.example.com") {
		t.Errorf("acknowledgement lacks the loop header:\n%s", ack)
	}

	ooo := fmt.Sprintf(`From: Ada Lovelace <ada@customer.example>
To: support@support.example.com
Subject: Automatic reply: Re: Printer on fire
Message-ID: <ooo-1@customer.example>
In-Reply-To: <%s>
Auto-Submitted: auto-replied

I am out of the office until Monday.
`, ackID)
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, ooo); err != nil {
		t.Fatalf("out-of-office: %v", err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE message_id = 'ooo-1@customer.example' AND automatic AND case_id = (SELECT min(id) FROM cases)`); n != 1 {
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
		if err := send(t, g.addr, tc.envelopeFrom, []string{"support@support.example.com"}, raw); err != nil {
			t.Errorf("case %d: %v", i, err)
		}
		if n := count(t, g.db, `SELECT count(*) FROM messages WHERE message_id = $1 AND automatic`, id); n != 1 {
			t.Errorf("case %d (%q): not filed as automatic", i, tc.headers)
		}
	}
	if n := count(t, g.db, `SELECT count(*) FROM outbox`+notNotification); n != 1 {
		t.Errorf("outbox rows = %d, want 1 (only the first acknowledgement)", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE kind = 'not-acknowledged'`); n != 6 {
		t.Errorf("not-acknowledged events = %d, want 6", n)
	}
	g.stop()
	maildirRaw(t, g.maildir, 1)
}

// A message that went round too often is quarantined as a loop, once.
func TestMailLoopIsQuarantined(t *testing.T) {
	g := startGateway(t, pgtest.URL(t))
	loop := strings.Repeat("Received: from relay.example by relay.example; Sun, 22 Nov 2026 10:00:00 +0000\n", 60) + customerMail
	for i := 0; i < 2; i++ { // a re-delivery adds nothing
		if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, loop); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	var reason string
	if err := g.db.Get(&reason, `SELECT reason FROM quarantine`); err != nil {
		t.Fatalf("quarantine: %v", err)
	}
	if !strings.Contains(reason, "mail loop: 60 Received") {
		t.Errorf("reason = %q", reason)
	}
	if n := count(t, g.db, `SELECT count(*) FROM cases`) + count(t, g.db, `SELECT count(*) FROM outbox`+notNotification); n != 0 {
		t.Errorf("a looping message opened a case or queued mail")
	}
}

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

// A bounce of an acknowledgement marks its delivery failed, opens no case,
// answers nothing, tells staff, and stops automatic mail to the address.
func TestBounceOfAcknowledgement(t *testing.T) {
	g := startGateway(t, pgtest.URL(t))
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, customerMail); err != nil {
		t.Fatal(err)
	}
	ack := maildirRaw(t, g.maildir, 1)[0]
	verp := field(t, returnPathField, ack)
	var delivery int64
	if err := g.db.Get(&delivery, `SELECT id FROM deliveries WHERE recipient = 'ada@customer.example'`); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("support+bounce-%d-", delivery); !strings.HasPrefix(verp, want) {
		t.Fatalf("return path %q, want %s<mac>@…", verp, want)
	}

	// A bounce to a forged bounce address changes nothing.
	forged := fmt.Sprintf("support+bounce-%d-000000000000@support.example.com", delivery)
	if err := send(t, g.addr, "", []string{forged}, fmt.Sprintf(dsnTemplate, forged, "dsn-forged@mx.customer.example")); err != nil {
		t.Fatalf("forged bounce: %v", err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM deliveries WHERE status = 'failed'`); n != 0 {
		t.Fatalf("a bounce to a forged address failed the delivery")
	}
	cases := count(t, g.db, `SELECT count(*) FROM cases`)
	if cases != 1 {
		t.Errorf("cases = %d after a forged bounce, want 1", cases)
	}

	if err := send(t, g.addr, "", []string{verp}, fmt.Sprintf(dsnTemplate, verp, "dsn-1@mx.customer.example")); err != nil {
		t.Fatalf("bounce: %v", err)
	}
	var d struct {
		Status       string `db:"status"`
		BounceStatus string `db:"bounce_status"`
		LastError    string `db:"last_error"`
	}
	if err := g.db.Get(&d, `SELECT status, bounce_status, last_error FROM deliveries WHERE id = $1`, delivery); err != nil {
		t.Fatal(err)
	}
	if d.Status != "failed" || d.BounceStatus != "5.1.1" || !strings.Contains(d.LastError, "User unknown") {
		t.Errorf("delivery after bounce = %+v", d)
	}
	if n := count(t, g.db, `SELECT count(*) FROM cases`); n != cases {
		t.Errorf("the bounce opened a case")
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE kind = 'bounced' AND case_id = (SELECT min(id) FROM cases)`); n != 1 {
		t.Errorf("bounced events on the case = %d, want 1", n)
	}
	// Staff are told; the bouncing side gets nothing.
	mails := maildirRaw(t, g.maildir, 2)
	var notice string
	for _, m := range mails {
		if m != ack {
			notice = m
		}
	}
	if !strings.Contains(notice, "Delivered-To: alice@example.com") || !strings.Contains(notice, "bounced") || !strings.Contains(notice, "Auto-Submitted: auto-generated") {
		t.Errorf("staff notice:\n%s", notice)
	}
	if n := count(t, g.db, `SELECT count(*) FROM deliveries WHERE recipient ILIKE '%mailer-daemon%'`); n != 0 {
		t.Errorf("something was sent to the mailer-daemon")
	}
	// A bounce of mail we never sent (backscatter) opens no case either.
	backscatter := strings.Replace(fmt.Sprintf(dsnTemplate, "support@support.example.com", "dsn-2@mx.customer.example"), "ada@customer.example", "someone@customer.example", -1)
	if err := send(t, g.addr, "", []string{"support@support.example.com"}, backscatter); err != nil {
		t.Fatalf("backscatter: %v", err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM cases`); n != cases {
		t.Errorf("backscatter opened a case")
	}
	if n := count(t, g.db, `SELECT count(*) FROM quarantine WHERE reason LIKE '%backscatter%'`); n != 2 {
		t.Errorf("backscatter quarantined = %d, want 2 (the forged bounce and this one)", n)
	}
	// The same bounce again changes nothing and tells nobody twice.
	send(t, g.addr, "", []string{verp}, fmt.Sprintf(dsnTemplate, verp, "dsn-1@mx.customer.example"))
	if n := count(t, g.db, `SELECT count(*) FROM outbox`+notNotification); n != 2 {
		t.Errorf("outbox rows = %d, want 2 (acknowledgement, staff notice)", n)
	}

	// The hard-bounced address gets no automatic mail for a while.
	next := strings.NewReplacer("first-1@", "later-1@", "Printer on fire", "Scanner on fire").Replace(customerMail)
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, next); err != nil {
		t.Fatal(err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE kind = 'not-acknowledged' AND detail LIKE '%hard-bounced%'`); n != 1 {
		t.Errorf("new case from a hard-bounced address was acknowledged")
	}
	if n := count(t, g.db, `SELECT count(*) FROM outbox`+notNotification); n != 2 {
		t.Errorf("outbox rows = %d, want 2", n)
	}
}

// Mail claiming a staff address without proof gets no authority: its
// verdicts are stored, staff are told, and nothing automatic goes to the
// claimed address. A trusted upstream's verdict is believed.
func TestForgedStaffMailGetsNoAuthority(t *testing.T) {
	g := startGatewayWith(t, pgtest.URL(t), "[safety]\ndns_timeout = \"2s\"\n")

	forged := `From: Alice <alice@example.com>
To: support@support.example.com
Subject: refund everything
Message-ID: <forged-1@evil.example>
Authentication-Results: mx.example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com

#resolve
`
	if err := send(t, g.addr, "alice@example.com", []string{"support@support.example.com"}, forged); err != nil {
		t.Fatal(err)
	}
	var summary string
	g.db.Get(&summary, `SELECT auth_summary FROM messages WHERE message_id = 'forged-1@evil.example'`)
	if !strings.Contains(summary, "ignored 1 untrusted Authentication-Results") || !strings.Contains(summary, "dkim=none") {
		t.Errorf("auth summary = %q", summary)
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE kind = 'unauthenticated-staff'`); n != 1 {
		t.Errorf("unauthenticated-staff events = %d, want 1", n)
	}
	mails := maildirRaw(t, g.maildir, 1)
	if !strings.Contains(mails[0], "Unauthenticated staff mail from alice@example.com") {
		t.Errorf("staff notice:\n%s", mails[0])
	}
	if n := count(t, g.db, `SELECT count(*) FROM outbox`+notNotification); n != 1 {
		t.Errorf("outbox rows = %d, want 1 (the staff notice; no acknowledgement to the claimed address)", n)
	}

	two := strings.NewReplacer("From: Alice <alice@example.com>", "From: alice@example.com, eve@evil.example", "forged-1", "forged-2").Replace(forged)
	send(t, g.addr, "eve@evil.example", []string{"support@support.example.com"}, two)
	g.db.Get(&summary, `SELECT auth_summary FROM messages WHERE message_id = 'forged-2@evil.example'`)
	if !strings.Contains(summary, "no single From") {
		t.Errorf("two From addresses: auth summary = %q", summary)
	}
}

// The automatic-reply cap: an address gets at most N automatic mails a
// day across cases; staff hear of it once.
func TestAutoReplyCap(t *testing.T) {
	g := startGatewayWith(t, pgtest.URL(t), "[safety]\nmax_auto_replies_per_day = 2\n")
	for i := 0; i < 4; i++ {
		m := strings.NewReplacer("first-1@", fmt.Sprintf("cap-%d@", i), "Printer on fire", fmt.Sprintf("Problem %d", i)).Replace(customerMail)
		if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, m); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, g.db, `SELECT count(*) FROM cases`); n != 4 {
		t.Errorf("cases = %d, want 4: capped mail is still filed", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM deliveries WHERE recipient = 'ada@customer.example'`); n != 2 {
		t.Errorf("acknowledgements = %d, want 2", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM deliveries WHERE recipient = 'alice@example.com' AND outbox_id IN (SELECT id FROM outbox`+notNotification+`)`); n != 1 {
		t.Errorf("staff notices = %d, want 1", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM auto_reply_capped WHERE address = 'ada@customer.example'`); n != 1 {
		t.Errorf("capped sender not recorded")
	}
	maildirRaw(t, g.maildir, 3)
}

// A Message-ID reused by someone else, or an In-Reply-To naming another
// customer's message, never merges a stranger's mail into that case.
func TestCollidingMessageIDsDoNotMergeCases(t *testing.T) {
	g := startGateway(t, pgtest.URL(t))
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, customerMail); err != nil {
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
	if err := send(t, g.addr, "mallory@evil.example", []string{"support@support.example.com"}, replyToAda); err != nil {
		t.Fatal(err)
	}
	reused := strings.NewReplacer("Ada Lovelace <ada@customer.example>", "Mallory <mallory@evil.example>", "My printer is on fire. Please help.", "Send me Ada's data.").Replace(customerMail)
	if err := send(t, g.addr, "mallory@evil.example", []string{"support@support.example.com"}, reused); err != nil {
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
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, followUp); err != nil {
		t.Fatal(err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE direction = 'inbound' AND from_address = 'mallory@evil.example' AND case_id = (SELECT min(id) FROM cases)`); n != 0 {
		t.Errorf("%d of mallory's messages were merged into ada's case", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE message_id = 'ada-3@customer.example' AND case_id = (SELECT min(id) FROM cases)`); n != 1 {
		t.Errorf("ada's follow-up did not reach her own case")
	}
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE direction = 'inbound'`); n != 4 {
		t.Errorf("inbound messages = %d, want 4 (nothing lost, nothing merged)", n)
	}
}

// HTML is stored only as inert text.
func TestHTMLIsStoredAsText(t *testing.T) {
	g := startGateway(t, pgtest.URL(t))
	html := `From: ada@customer.example
To: support@support.example.com
Subject: html
Message-ID: <html-1@customer.example>
Content-Type: text/html; charset=utf-8

<html><head><style>p{}</style><script>alert(1)</script></head><body><p onclick="steal()">Printer <b>on fire</b></p><img src="http://track.example/x.gif"></body></html>
`
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, html); err != nil {
		t.Fatal(err)
	}
	var text string
	g.db.Get(&text, `SELECT text_body FROM messages WHERE message_id = 'html-1@customer.example'`)
	if text != "Printer on fire" {
		t.Errorf("stored text = %q, want the words without markup", text)
	}
}

// With a key configured, outgoing mail is DKIM-signed as the support domain
// and verifies against the published key.
func TestOutboundMailIsDKIMSigned(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	// testConfig ends in [outbound], so these keys land there.
	g := startGatewayWith(t, pgtest.URL(t), fmt.Sprintf("dkim_key_file = %q\ndkim_selector = \"s1\"\n", keyFile))
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, customerMail); err != nil {
		t.Fatal(err)
	}
	ack := maildirRaw(t, g.maildir, 1)[0]
	record := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	verifs, err := dkim.VerifyWithOptions(strings.NewReader(ack), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
		if name == "s1._domainkey.support.example.com" {
			return []string{record}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}})
	if err != nil || len(verifs) != 1 || verifs[0].Err != nil || verifs[0].Domain != "support.example.com" {
		t.Fatalf("verify: %v %+v", err, verifs)
	}
	signed := strings.ToLower(strings.Join(verifs[0].HeaderKeys, ":"))
	for _, h := range []string{"from", "subject", "auto-submitted", "x-casegate-loop"} {
		if !slices.Contains(strings.Split(signed, ":"), h) {
			t.Errorf("%s is not signed (h=%s)", h, signed)
		}
	}
}

// Bad mail-safety settings are configuration errors that name the key.
func TestSafetyConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ extra, key string }{
		{"dkim_key_file = \"missing.pem\"\ndkim_selector = \"s1\"\n", "outbound.dkim_key_file"},
		{"dkim_selector = \"s1\"\n", "outbound.dkim_key_file"},
		{"[safety]\nmax_auto_replies_per_day = -1\n", "safety.max_auto_replies_per_day"},
		{"[safety]\ndns_timeout = \"1h\"\n", "safety.dns_timeout"},
		{"[safety]\nbogus = 1\n", "safety.bogus"},
	} {
		path := filepath.Join(dir, "casegate.toml")
		os.WriteFile(path, []byte(fmt.Sprintf(testConfig, "postgres://x/y")+tc.extra), 0o600)
		_, err := loadConfig(path, func(string) string { return "" })
		var ce *configError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%q: err = %v, want a configuration error naming %s", tc.extra, err, tc.key)
		}
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

// A DSN that reaches the plain support address (a relay rewrote the return
// path) is still matched, by the Message-ID of the mail we sent.
func TestBounceMatchedByReturnedMessageID(t *testing.T) {
	g := startGateway(t, pgtest.URL(t))
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, customerMail); err != nil {
		t.Fatal(err)
	}
	ackID := field(t, messageIDField, maildirRaw(t, g.maildir, 1)[0])
	dsn := strings.Replace(fmt.Sprintf(dsnTemplate, "support@support.example.com", "dsn-3@mx.customer.example"), "--BOUNDARY--\n",
		"--BOUNDARY\nContent-Type: text/rfc822-headers\n\nFrom: Example Support <support@support.example.com>\nMessage-ID: <"+ackID+">\nSubject: Re: Printer on fire\n\n--BOUNDARY--\n", 1)
	if err := send(t, g.addr, "", []string{"support@support.example.com"}, dsn); err != nil {
		t.Fatal(err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM deliveries WHERE status = 'failed' AND bounce_status = '5.1.1' AND recipient = 'ada@customer.example'`); n != 1 {
		t.Errorf("the acknowledgement's delivery was not marked failed")
	}
	if n := count(t, g.db, `SELECT count(*) FROM cases`); n != 1 {
		t.Errorf("cases = %d, want 1", n)
	}
}
