package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate/internal/pgtest"
)

// staffTestConfig is testConfig with two staff members, a PR mailbox and the
// [staff] keys of a test (%s).
const staffTestConfig = `
[database]
url = %q
[smtp]
listen = ["127.0.0.1:0"]
domains = ["support.example.com"]
[addresses]
support = "Example Support <support@support.example.com>"
pr = "PR Desk <pr@example.com>"
staff = ["Alice Example <alice@example.com>", "bob@example.com"]
[staff]
secret = "test-secret-0123456789"
%s
[outbound]
maildir = "maildir"
`

// startStaffGateway is startGateway with staffTestConfig.
func startStaffGateway(t *testing.T, staffKeys string) *gateway {
	t.Helper()
	dbURL := pgtest.URL(t)
	g, _ := runGateway(t, "", dbURL, fmt.Sprintf(staffTestConfig, dbURL, staffKeys), nil)
	return g
}

// outMail is one mail casegate queued, as its recipients will get it.
type outMail struct {
	raw     string
	rcpts   []string // envelope recipients
	h       mail.Header
	subject string
	text    string // the text part, LF line endings
	files   map[string][]byte
}

// outbox reads the mail casegate queued since the last call. Filing commits
// an intent for each mail before the SMTP 250; the composer renders it into
// the outbox right after, which next waits for.
type outbox struct {
	db   *sqlx.DB
	last int64
}

func (o *outbox) next(t *testing.T) []outMail {
	t.Helper()
	rendered(t, o.db)
	var rows []struct {
		ID  int64  `db:"id"`
		Raw []byte `db:"raw"`
	}
	if err := o.db.Select(&rows, `SELECT id, raw FROM outbox WHERE id > $1 ORDER BY id`, o.last); err != nil {
		t.Fatal(err)
	}
	var out []outMail
	for _, r := range rows {
		o.last = r.ID
		m := outMail{raw: string(r.Raw), files: map[string][]byte{}}
		if err := o.db.Select(&m.rcpts, `SELECT recipient FROM deliveries WHERE outbox_id = $1 ORDER BY recipient`, r.ID); err != nil {
			t.Fatal(err)
		}
		mr, err := mail.CreateReader(bytes.NewReader(r.Raw))
		if err != nil {
			t.Fatalf("queued mail does not parse: %v\n%s", err, r.Raw)
		}
		m.h = mr.Header
		m.subject, _ = m.h.Subject()
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(p.Body)
			switch h := p.Header.(type) {
			case *mail.InlineHeader:
				m.text = strings.ReplaceAll(string(b), "\r\n", "\n")
			case *mail.AttachmentHeader:
				name, _ := h.Filename()
				m.files[name] = b
			}
		}
		out = append(out, m)
	}
	return out
}

// expect reads the next mails and checks they go to the given envelope
// recipients (sorted, comma-separated), one mail each, in any order.
func (o *outbox) expect(t *testing.T, rcpts ...string) map[string]outMail {
	t.Helper()
	mails := o.next(t)
	got := map[string]outMail{}
	var list []string
	for _, m := range mails {
		key := strings.Join(m.rcpts, ",")
		got[key] = m
		list = append(list, key+": "+m.subject)
	}
	ok := len(mails) == len(rcpts)
	for _, r := range rcpts {
		_, found := got[r]
		ok = ok && found
	}
	if !ok {
		t.Fatalf("queued mail:\n  %s\nwant one each to %q", strings.Join(list, "\n  "), rcpts)
	}
	return got
}

func msgID(t *testing.T, m outMail) string {
	t.Helper()
	id, err := m.h.MessageID()
	if err != nil || id == "" {
		t.Fatalf("no Message-ID: %v", err)
	}
	return id
}

func replyTo(t *testing.T, m outMail) string {
	t.Helper()
	list, err := m.h.AddressList("Reply-To")
	if err != nil || len(list) != 1 {
		t.Fatalf("Reply-To = %v, %v", list, err)
	}
	return list[0].Address
}

type caseRow struct {
	Status   string `db:"status"`
	Priority string `db:"priority"`
	Assignee string `db:"assignee"`
}

func getCase(t *testing.T, db *sqlx.DB, id int64) caseRow {
	t.Helper()
	var c caseRow
	if err := db.Get(&c, `SELECT status, priority, assignee FROM cases WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return c
}

// fill replaces the placeholders of a test mail.
func fill(s string, kv ...string) string {
	return strings.NewReplacer(kv...).Replace(s)
}

const customerWithAttachment = `From: Ada Lovelace <ada@customer.example>
To: support@support.example.com
Cc: Carol Neighbour <carol@customer.example>
Subject: Printer on fire
Message-ID: <first-1@customer.example>
Date: Sun, 22 Nov 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="------------b0UND4RY"
User-Agent: Mozilla Thunderbird

This is a multi-part message in MIME format.
--------------b0UND4RY
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 7bit

My printer is on fire. Photo attached.

--------------b0UND4RY
Content-Type: image/jpeg; name="photo.jpg"
Content-Disposition: attachment; filename="photo.jpg"
Content-Transfer-Encoding: base64

/9j/4AAQSkZJRgABAQ==

--------------b0UND4RY--
`

// muttReply is a reply as mutt 2.2 writes it (text/plain, inline
// disposition, "On …, … wrote:" attribution, signature below the quote).
const muttReply = `Date: Sun, 22 Nov 2026 10:03:11 +0000
From: Alice Example <alice@example.com>
To: Example Support <TOKEN>
Subject: Re: [#CASE] New case: Printer on fire
Message-ID: <20261122100311.GA4711@example.com>
References: <PARENT>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii
Content-Disposition: inline
In-Reply-To: <PARENT>
User-Agent: Mutt/2.2.12 (2023-09-09)

BODY

On Sun, Nov 22, 2026 at 10:00:00AM +0000, Example Support wrote:
> New case #CASE: Printer on fire
> From:     Ada Lovelace <ada@customer.example>

-- 
Alice Example, Example Corp support
`

// staffReply fills muttReply; id makes its Message-ID unique.
func staffReply(from, token, parent string, caseID int64, id, body string) string {
	return fill(muttReply, "Alice Example <alice@example.com>", from, "TOKEN", token, "PARENT", parent,
		"CASE", fmt.Sprint(caseID), "GA4711", id, "BODY", body)
}

func relayedText(caseID int64, text string) string {
	return fmt.Sprintf("%s\n\n-- \nExample Support\nCase #%d: reply to this email to add to it.\n", text, caseID)
}

// resolvedText is a relayed reply that resolved the case: the staff text,
// then the resolution line.
func resolvedText(caseID int64, text string) string {
	return fmt.Sprintf("%s\n\nWe have marked your case as resolved. If something is still not right,\njust reply to this email and it opens again.\n\n-- \nExample Support\nCase #%d: reply to this email to add to it.\n", text, caseID)
}

var noteAddress = regexp.MustCompile(`support\+\d+-note-[0-9a-f]{12}@support\.example\.com`)

// A case worked entirely by mail: notification, relayed replies with
// commands and attachments, notes, status replies, reopening, escalation.
func TestStaffWorkByMail(t *testing.T) {
	g := startStaffGateway(t, `trusted_networks = ["127.0.0.0/8"]
add_cc_participants = true`)
	box := &outbox{db: g.db}
	customerRcpts := "ada@customer.example,carol@customer.example"

	// 1. A customer writes, copying a neighbour, with a photo.
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, customerWithAttachment); err != nil {
		t.Fatal(err)
	}
	var caseID int64
	g.db.Get(&caseID, `SELECT id FROM cases`)
	got := box.expect(t, "ada@customer.example", "alice@example.com,bob@example.com")
	ack, notification := got["ada@customer.example"], got["alice@example.com,bob@example.com"]
	customerToken := replyTo(t, ack)
	staffToken := replyTo(t, notification)
	if staffToken == customerToken || !strings.HasPrefix(staffToken, fmt.Sprintf("support+%d-", caseID)) {
		t.Fatalf("notification Reply-To = %s (customer's is %s), want the case's staff address", staffToken, customerToken)
	}
	// Every mail to staff about the case has the same subject, so it
	// threads in any client.
	if want := fmt.Sprintf("[#%d] Printer on fire", caseID); notification.subject != want {
		t.Errorf("notification subject = %q, want %q", notification.subject, want)
	}
	for _, want := range []string{"My printer is on fire. Photo attached.", "Ada Lovelace <ada@customer.example>", "Category: customer", "Attached: photo.jpg", "#resolve"} {
		if !strings.Contains(notification.text, want) {
			t.Errorf("notification lacks %q:\n%s", want, notification.text)
		}
	}
	if photo := notification.files["photo.jpg"]; !bytes.Equal(photo, []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01")) {
		t.Errorf("notification photo = %q", photo)
	}
	if v := notification.h.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("notification Auto-Submitted = %q", v)
	}
	noteAddr := noteAddress.FindString(notification.text)
	if noteAddr == "" {
		t.Fatalf("notification names no note address:\n%s", notification.text)
	}
	if n := count(t, g.db, `SELECT count(*) FROM participants WHERE case_id = $1 AND address = 'carol@customer.example' AND role = 'cc'`, caseID); n != 1 {
		t.Errorf("the copied neighbour is not a participant")
	}

	// 2. Alice answers from mutt, with two commands on top.
	reply := staffReply("Alice Example <alice@example.com>", staffToken, msgID(t, notification), caseID, "GA1",
		"#priority high\n#assign alice@example.com\n\nHello Ada,\n\nplease unplug the printer and keep away from it.\n\nAlice")
	if err := send(t, g.addr, "alice@example.com", []string{staffToken}, reply); err != nil {
		t.Fatal(err)
	}
	relayed := box.expect(t, customerRcpts)[customerRcpts]
	// Her signing "Alice" stays inside (issue 16 item 9): names only with show_names.
	if want := relayedText(caseID, "Hello Ada,\n\nplease unplug the printer and keep away from it."); relayed.text != want {
		t.Errorf("relayed text:\n%q\nwant\n%q", relayed.text, want)
	}
	if want := fmt.Sprintf("Re: Printer on fire [#%d]", caseID); relayed.subject != want {
		t.Errorf("relayed subject = %q, want %q", relayed.subject, want)
	}
	from, _ := relayed.h.AddressList("From")
	if len(from) != 1 || from[0].Address != "support@support.example.com" || from[0].Name != "Example Support" {
		t.Errorf("relayed From = %v", from)
	}
	to, _ := relayed.h.AddressList("To")
	cc, _ := relayed.h.AddressList("Cc")
	if len(to) != 1 || to[0].Address != "ada@customer.example" || len(cc) != 1 || cc[0].Address != "carol@customer.example" {
		t.Errorf("relayed To = %v, Cc = %v", to, cc)
	}
	// It threads under what Ada has: her mail and our acknowledgement.
	if irt, _ := relayed.h.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != msgID(t, ack) {
		t.Errorf("relayed In-Reply-To = %v, want the acknowledgement %s", irt, msgID(t, ack))
	}
	if refs, _ := relayed.h.MsgIDList("References"); len(refs) != 2 || refs[0] != "first-1@customer.example" || refs[1] != msgID(t, ack) {
		t.Errorf("relayed References = %v", refs)
	}
	if replyTo(t, relayed) != customerToken {
		t.Errorf("relayed Reply-To is not the customer's reply address")
	}
	if relayed.h.Get("Auto-Submitted") != "" {
		t.Errorf("a person's reply is marked Auto-Submitted")
	}
	if c := getCase(t, g.db, caseID); c != (caseRow{"open", "high", "alice@example.com"}) {
		t.Errorf("after the commands: %+v", c)
	}
	// Exactly once: the same reply delivered again relays and applies nothing.
	if err := send(t, g.addr, "alice@example.com", []string{staffToken}, reply); err != nil {
		t.Fatal(err)
	}
	box.expect(t)
	// No loops: Alice's out-of-office answer to the notification is filed,
	// never relayed to the customer (RFC 3834).
	if err := send(t, g.addr, "alice@example.com", []string{staffToken}, strings.Replace(
		staffReply("Alice Example <alice@example.com>", staffToken, msgID(t, notification), caseID, "OOO", "I am out of the office until Monday."),
		"User-Agent:", "Auto-Submitted: auto-replied\nUser-Agent:", 1)); err != nil {
		t.Fatal(err)
	}
	box.expect(t)
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'not-relayed'`, caseID); n != 1 {
		t.Errorf("not-relayed events = %d, want 1", n)
	}

	// 3. Ada answers the relayed mail; the assignee is told.
	if err := send(t, g.addr, "ada@customer.example", []string{customerToken}, fmt.Sprintf(`From: Ada Lovelace <ada@customer.example>
To: Example Support <%s>
Subject: Re: Printer on fire [#%d]
Message-ID: <second-2@customer.example>
In-Reply-To: <%s>
References: <first-1@customer.example> <%s>

Unplugged. Do I need a new one?
`, customerToken, caseID, msgID(t, relayed), msgID(t, relayed))); err != nil {
		t.Fatal(err)
	}
	toAlice := box.expect(t, "alice@example.com")["alice@example.com"]
	if want := fmt.Sprintf("[#%d] Printer on fire", caseID); toAlice.subject != want || !strings.Contains(toAlice.text, "Unplugged. Do I need a new one?") {
		t.Errorf("customer's reply to the assignee: %q\n%s", toAlice.subject, toAlice.text)
	}

	// 4. Alice resolves it with an attachment, from Python's email/smtplib.
	pyReply, err := os.ReadFile("testdata/python-reply.eml")
	if err != nil {
		t.Fatal(err)
	}
	if err := send(t, g.addr, "alice@example.com", []string{staffToken}, fill(string(pyReply), "STAFFTOKEN", staffToken,
		"NOTIFICATIONID", msgID(t, toAlice), "CASE", fmt.Sprint(caseID))); err != nil {
		t.Fatal(err)
	}
	// One event, one mail: the reply carries the resolution; Alice's
	// typed name (her signature) stays inside.
	relayed = box.expect(t, customerRcpts)[customerRcpts]
	if want := resolvedText(caseID, "Hello Ada,\n\nthe manual is attached; page 3 covers fires."); relayed.text != want {
		t.Errorf("relayed text:\n%q\nwant\n%q", relayed.text, want)
	}
	if pdf := relayed.files["manual.pdf"]; string(pdf) != "%PDF-1.4\n%\xe2\xe3\xcf\xd3\nfake manual\n" {
		t.Errorf("relayed attachment = %q", pdf)
	}
	if irt, _ := relayed.h.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "second-2@customer.example" {
		t.Errorf("relayed In-Reply-To = %v, want Ada's latest", irt)
	}
	if refs, _ := relayed.h.MsgIDList("References"); len(refs) < 3 || refs[0] != "first-1@customer.example" || refs[len(refs)-1] != "second-2@customer.example" {
		t.Errorf("relayed References = %v", refs)
	}
	if c := getCase(t, g.db, caseID); c.Status != "resolved" {
		t.Errorf("after #resolve: %+v", c)
	}

	// 5. Ada asks for the status: an automatic reply to her alone; the case stays resolved.
	statusMail := fmt.Sprintf(`From: Ada Lovelace <ada@customer.example>
To: %s
Subject: Re: Printer on fire [#%d]
Message-ID: <status-3@customer.example>

status
`, customerToken, caseID)
	if err := send(t, g.addr, "ada@customer.example", []string{customerToken}, statusMail); err != nil {
		t.Fatal(err)
	}
	status := box.expect(t, "ada@customer.example")["ada@customer.example"]
	for _, want := range []string{"We have marked it as resolved.", "Last from us: we answered you ", "Who has it:   a member of our team", fmt.Sprintf("case #%d", caseID)} {
		if !strings.Contains(status.text, want) {
			t.Errorf("status reply lacks %q:\n%s", want, status.text)
		}
	}
	if status.h.Get("Auto-Submitted") != "auto-replied" {
		t.Errorf("status reply Auto-Submitted = %q", status.h.Get("Auto-Submitted"))
	}
	if irt, _ := status.h.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "status-3@customer.example" {
		t.Errorf("status reply In-Reply-To = %v", irt)
	}
	if c := getCase(t, g.db, caseID); c.Status != "resolved" {
		t.Errorf("a status request changed the case: %+v", c)
	}
	// The same request as an auto-reply (RFC 3834) and from a stranger
	// threading by References: no answer, nothing about the case.
	if err := send(t, g.addr, "ada@customer.example", []string{customerToken}, strings.Replace(strings.Replace(statusMail, "status-3", "status-auto", 1), "\n\nstatus", "\nAuto-Submitted: auto-replied\n\nstatus", 1)); err != nil {
		t.Fatal(err)
	}
	if err := send(t, g.addr, "eve@elsewhere.example", []string{"support@support.example.com"}, fmt.Sprintf(`From: eve@elsewhere.example
To: support@support.example.com
Subject: status
Message-ID: <status-eve@elsewhere.example>
References: <%s>

status
`, msgID(t, relayed))); err != nil {
		t.Fatal(err)
	}
	box.expect(t)
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'status-refused'`, caseID); n != 1 {
		t.Errorf("status-refused events = %d, want 1", n)
	}
	if c := getCase(t, g.db, caseID); c.Status != "resolved" {
		t.Errorf("status requests changed the case: %+v", c)
	}

	// A participant may ask by case number, outside the thread; the answer
	// threads under the question and no case is opened.
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, fmt.Sprintf(`From: Ada Lovelace <ada@customer.example>
To: support@support.example.com
Subject: status #%d
Message-ID: <status-5@customer.example>

Hello?
`, caseID)); err != nil {
		t.Fatal(err)
	}
	if status := box.expect(t, "ada@customer.example")["ada@customer.example"]; !strings.Contains(status.text, "We have marked it as resolved.") {
		t.Errorf("status by case number:\n%s", status.text)
	}
	if n := count(t, g.db, `SELECT count(*) FROM cases`); n != 1 {
		t.Errorf("cases = %d after a status request by number, want 1", n)
	}

	// 6. Ada writes again: the resolved case reopens and Alice is told.
	if err := send(t, g.addr, "ada@customer.example", []string{customerToken}, fmt.Sprintf(`From: Ada Lovelace <ada@customer.example>
To: %s
Subject: Re: Printer on fire [#%d]
Message-ID: <third-4@customer.example>
In-Reply-To: <%s>

It caught fire again.

On Sun, 22 Nov 2026 at 10:06, Example Support wrote:
> Hello Ada,
>
> the manual is attached; page 3 covers fires.
`, customerToken, caseID, msgID(t, relayed))); err != nil {
		t.Fatal(err)
	}
	again := box.expect(t, "alice@example.com")["alice@example.com"]
	if !strings.Contains(again.text, "It caught fire again.") || strings.Contains(again.text, "page 3 covers fires") {
		t.Errorf("the assignee is not shown just the new text:\n%s", again.text)
	}
	if c := getCase(t, g.db, caseID); c.Status != "open" {
		t.Errorf("after the customer wrote again: %+v, want open", c)
	}

	// 7. Internal notes, by the note address and by #note: stored, never sent.
	if err := send(t, g.addr, "alice@example.com", []string{noteAddr}, staffReply("Alice Example <alice@example.com>", noteAddr, msgID(t, notification), caseID, "GA2", "Called Ada; the printer is a 1998 model.")); err != nil {
		t.Fatal(err)
	}
	if err := send(t, g.addr, "alice@example.com", []string{staffToken}, staffReply("Alice Example <alice@example.com>", staffToken, msgID(t, notification), caseID, "GA3", "#note\nInternal: offer a replacement at cost.")); err != nil {
		t.Fatal(err)
	}
	box.expect(t)
	var notes []string
	g.db.Select(&notes, `SELECT detail FROM events WHERE case_id = $1 AND kind = 'note' ORDER BY id`, caseID)
	if len(notes) != 2 || notes[0] != "Called Ada; the printer is a 1998 model." || notes[1] != "Internal: offer a replacement at cost." {
		t.Errorf("notes = %q", notes)
	}

	// 8. Bad commands: the sender is told, nothing is applied or relayed.
	for i, body := range []string{"#reslove\n\nHi Ada", "#priority urgent\n#reopen\n\nHi Ada"} {
		if err := send(t, g.addr, "alice@example.com", []string{staffToken}, staffReply("Alice Example <alice@example.com>", staffToken, msgID(t, notification), caseID, fmt.Sprint("GB", i), body)); err != nil {
			t.Fatal(err)
		}
		e := box.expect(t, "alice@example.com")["alice@example.com"]
		want := []string{`unknown command #reslove`, "#reopen: not allowed while the case is open"}[i]
		if !strings.Contains(e.text, want) || !strings.Contains(e.text, "Commands not applied") || e.subject != fmt.Sprintf("[#%d] Printer on fire", caseID) {
			t.Errorf("command error %d: %q\n%s\nwant %q", i, e.subject, e.text, want)
		}
	}
	if c := getCase(t, g.db, caseID); c != (caseRow{"open", "high", "alice@example.com"}) {
		t.Errorf("after rejected commands: %+v, want nothing changed", c)
	}

	// 9. #escalate: PR gets a digest and is copied on the relayed reply.
	if err := send(t, g.addr, "alice@example.com", []string{staffToken}, staffReply("Alice Example <alice@example.com>", staffToken, msgID(t, notification), caseID, "GA5", "#escalate\n\nOur PR desk is looking at this too.")); err != nil {
		t.Fatal(err)
	}
	got = box.expect(t, "pr@example.com", customerRcpts+",pr@example.com")
	if digest := got["pr@example.com"]; !strings.Contains(digest.text, "It caught fire again.") || !strings.Contains(digest.text, "escalated by alice@example.com") {
		t.Errorf("escalation digest:\n%s", digest.text)
	}
	escalated := got[customerRcpts+",pr@example.com"]
	if cc, _ := escalated.h.AddressList("Cc"); len(cc) != 2 {
		t.Errorf("relayed Cc after escalation = %v", cc)
	}

	// No mail to the customer side ever shows a staff address or a note.
	var toCustomer []string
	g.db.Select(&toCustomer, `SELECT convert_from(o.raw, 'UTF8') FROM outbox o WHERE EXISTS (
		SELECT 1 FROM deliveries d WHERE d.outbox_id = o.id AND d.recipient IN ('ada@customer.example', 'carol@customer.example'))`)
	if len(toCustomer) != 6 {
		t.Errorf("mails to the customer side = %d, want 6 (ack, 3 replies, one of them resolving, 2 status replies)", len(toCustomer))
	}
	for _, raw := range toCustomer {
		for _, secret := range []string{"alice@example.com", "bob@example.com", "1998 model", "replacement at cost", "#priority", staffToken, noteAddr} {
			if strings.Contains(raw, secret) {
				t.Errorf("mail to the customer contains %q:\n%s", secret, raw)
			}
		}
	}
	var kinds []string
	g.db.Select(&kinds, `SELECT DISTINCT kind FROM events WHERE case_id = $1 ORDER BY kind`, caseID)
	for _, want := range []string{"assigned", "command-error-sent", "commands-rejected", "escalated", "note", "notified", "participant", "priority", "relayed", "status", "status-sent"} {
		if !strings.Contains(","+strings.Join(kinds, ",")+",", ","+want+",") {
			t.Errorf("no %q event; events: %v", want, kinds)
		}
	}
	waitMaildir(t, g.maildir, count(t, g.db, `SELECT count(*) FROM deliveries`)) // and everything was delivered
}

// mailTo keeps the mails addressed (To) to addr.
func mailTo(t *testing.T, mails []*mail.Reader, addr string) []*mail.Reader {
	t.Helper()
	var out []*mail.Reader
	for _, m := range mails {
		to, _ := m.Header.AddressList("To")
		if len(to) == 1 && to[0].Address == addr {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no mail to %s", addr)
	}
	return out
}

// With [staff] show_names the customer sees the staff member's name, still
// never their address; automatic mail opening a case tells nobody.
func TestShowNamesAndAutomaticMail(t *testing.T) {
	g := startStaffGateway(t, `trusted_networks = ["127.0.0.0/8"]
show_names = true`)
	box := &outbox{db: g.db}
	caseID, _, staffToken, notificationID := openCase(t, g, box)
	if err := send(t, g.addr, "alice@example.com", []string{staffToken}, staffReply("Alice Example <alice@example.com>", staffToken, notificationID, caseID, "SN1", "Hello Ada.")); err != nil {
		t.Fatal(err)
	}
	m := box.expect(t, "ada@customer.example")["ada@customer.example"]
	from, _ := m.h.AddressList("From")
	if len(from) != 1 || from[0].Name != "Alice Example (Example Support)" || from[0].Address != "support@support.example.com" {
		t.Errorf("From = %v", from)
	}
	if want := fmt.Sprintf("Hello Ada.\n\n-- \nAlice Example, Example Support\nCase #%d: reply to this email to add to it.\n", caseID); m.text != want {
		t.Errorf("relayed text %q, want %q", m.text, want)
	}
	if strings.Contains(m.raw, "alice@example.com") {
		t.Errorf("the staff address reached the customer:\n%s", m.raw)
	}

	// A vacation notice opens a case (nothing is lost) and staff hear of
	// it like of every new case (issue 16), but nothing answers it.
	auto := strings.Replace(strings.Replace(customerMail, "first-1", "vacation-1", 1), "Subject: Printer on fire", "Subject: Out of office\nAuto-Submitted: auto-replied", 1)
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, auto); err != nil {
		t.Fatal(err)
	}
	box.expect(t, "alice@example.com,bob@example.com")
	if n := count(t, g.db, `SELECT count(*) FROM cases`); n != 2 {
		t.Errorf("cases = %d, want 2", n)
	}
}
