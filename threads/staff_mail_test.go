package threads_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"casegate/internal/gatewaytest"
)

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

var noteAddress = regexp.MustCompile(`support\+\d+-note-[0-9a-f]{12}@support\.example\.com`)

// A case worked entirely by mail: notification, relayed replies with
// commands and attachments, notes, status replies, reopening, escalation.
func TestStaffWorkByMail(t *testing.T) {
	g := gatewaytest.Start(t, staffOptions(gatewaytest.Options{TrustedNetworks: loopbackIsStaff, AddCCParticipants: true}))
	box := g.Outbox
	customerRcpts := "ada@customer.example,carol@customer.example"

	// 1. A customer writes, copying a neighbour, with a photo.
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, customerWithAttachment); err != nil {
		t.Fatal(err)
	}
	var caseID int64
	g.DB.Get(&caseID, `SELECT id FROM cases`)
	got := box.Expect(t, "ada@customer.example", "alice@example.com,bob@example.com")
	ack, notification := got["ada@customer.example"], got["alice@example.com,bob@example.com"]
	customerToken := ack.ReplyTo(t)
	staffToken := notification.ReplyTo(t)
	if staffToken == customerToken || !strings.HasPrefix(staffToken, fmt.Sprintf("support+%d-", caseID)) {
		t.Fatalf("notification Reply-To = %s (customer's is %s), want the case's staff address", staffToken, customerToken)
	}
	// Every mail to staff about the case has the same subject, so it
	// threads in any client.
	if want := fmt.Sprintf("[#%d] Printer on fire", caseID); notification.Subject != want {
		t.Errorf("notification subject = %q, want %q", notification.Subject, want)
	}
	for _, want := range []string{"My printer is on fire. Photo attached.", "Ada Lovelace <ada@customer.example>", "Category: customer", "Attached: photo.jpg", "#resolve"} {
		if !strings.Contains(notification.Text, want) {
			t.Errorf("notification lacks %q:\n%s", want, notification.Text)
		}
	}
	if photo := notification.Files["photo.jpg"]; !bytes.Equal(photo, []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01")) {
		t.Errorf("notification photo = %q", photo)
	}
	if v := notification.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("notification Auto-Submitted = %q", v)
	}
	noteAddr := noteAddress.FindString(notification.Text)
	if noteAddr == "" {
		t.Fatalf("notification names no note address:\n%s", notification.Text)
	}
	if n := g.Count(t, `SELECT count(*) FROM participants WHERE case_id = $1 AND address = 'carol@customer.example' AND role = 'cc'`, caseID); n != 1 {
		t.Errorf("the copied neighbour is not a participant")
	}

	// 2. Alice answers from mutt, with two commands on top.
	reply := gatewaytest.StaffReply("Alice Example <alice@example.com>", staffToken, notification.MessageID(t), caseID, "GA1",
		"#priority high\n#assign alice@example.com\n\nHello Ada,\n\nplease unplug the printer and keep away from it.\n\nAlice")
	if err := g.Send(t, "alice@example.com", []string{staffToken}, reply); err != nil {
		t.Fatal(err)
	}
	relayed := box.Expect(t, customerRcpts)[customerRcpts]
	// Her signing "Alice" stays inside (issue 16 item 9): names only with show_names.
	if want := gatewaytest.RelayedText(caseID, "Hello Ada,\n\nplease unplug the printer and keep away from it."); relayed.Text != want {
		t.Errorf("relayed text:\n%q\nwant\n%q", relayed.Text, want)
	}
	if want := fmt.Sprintf("Re: Printer on fire [#%d]", caseID); relayed.Subject != want {
		t.Errorf("relayed subject = %q, want %q", relayed.Subject, want)
	}
	from, _ := relayed.Header.AddressList("From")
	if len(from) != 1 || from[0].Address != "support@support.example.com" || from[0].Name != "Example Support" {
		t.Errorf("relayed From = %v", from)
	}
	to, _ := relayed.Header.AddressList("To")
	cc, _ := relayed.Header.AddressList("Cc")
	if len(to) != 1 || to[0].Address != "ada@customer.example" || len(cc) != 1 || cc[0].Address != "carol@customer.example" {
		t.Errorf("relayed To = %v, Cc = %v", to, cc)
	}
	// It threads under what Ada has: her mail and our acknowledgement.
	if irt, _ := relayed.Header.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != ack.MessageID(t) {
		t.Errorf("relayed In-Reply-To = %v, want the acknowledgement %s", irt, ack.MessageID(t))
	}
	if refs, _ := relayed.Header.MsgIDList("References"); len(refs) != 2 || refs[0] != "first-1@customer.example" || refs[1] != ack.MessageID(t) {
		t.Errorf("relayed References = %v", refs)
	}
	if relayed.ReplyTo(t) != customerToken {
		t.Errorf("relayed Reply-To is not the customer's reply address")
	}
	if relayed.Header.Get("Auto-Submitted") != "" {
		t.Errorf("a person's reply is marked Auto-Submitted")
	}
	if c := g.Case(t, caseID); c != (gatewaytest.Case{Status: "open", Priority: "high", Assignee: "alice@example.com"}) {
		t.Errorf("after the commands: %+v", c)
	}
	// Exactly once: the same reply delivered again relays and applies nothing.
	if err := g.Send(t, "alice@example.com", []string{staffToken}, reply); err != nil {
		t.Fatal(err)
	}
	box.Expect(t)
	// No loops: Alice's out-of-office answer to the notification is filed,
	// never relayed to the customer (RFC 3834).
	if err := g.Send(t, "alice@example.com", []string{staffToken}, strings.Replace(
		gatewaytest.StaffReply("Alice Example <alice@example.com>", staffToken, notification.MessageID(t), caseID, "OOO", "I am out of the office until Monday."),
		"User-Agent:", "Auto-Submitted: auto-replied\nUser-Agent:", 1)); err != nil {
		t.Fatal(err)
	}
	box.Expect(t)
	if n := g.Count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'not-relayed'`, caseID); n != 1 {
		t.Errorf("not-relayed events = %d, want 1", n)
	}

	// 3. Ada answers the relayed mail; the assignee is told.
	if err := g.Send(t, "ada@customer.example", []string{customerToken}, fmt.Sprintf(`From: Ada Lovelace <ada@customer.example>
To: Example Support <%s>
Subject: Re: Printer on fire [#%d]
Message-ID: <second-2@customer.example>
In-Reply-To: <%s>
References: <first-1@customer.example> <%s>

Unplugged. Do I need a new one?
`, customerToken, caseID, relayed.MessageID(t), relayed.MessageID(t))); err != nil {
		t.Fatal(err)
	}
	toAlice := box.Expect(t, "alice@example.com")["alice@example.com"]
	if want := fmt.Sprintf("[#%d] Printer on fire", caseID); toAlice.Subject != want || !strings.Contains(toAlice.Text, "Unplugged. Do I need a new one?") {
		t.Errorf("customer's reply to the assignee: %q\n%s", toAlice.Subject, toAlice.Text)
	}

	// 4. Alice resolves it with an attachment, from Python's email/smtplib.
	pyReply, err := os.ReadFile("testdata/python-reply.eml")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Send(t, "alice@example.com", []string{staffToken}, gatewaytest.Fill(string(pyReply), "STAFFTOKEN", staffToken,
		"NOTIFICATIONID", toAlice.MessageID(t), "CASE", fmt.Sprint(caseID))); err != nil {
		t.Fatal(err)
	}
	// One event, one mail: the reply carries the resolution; Alice's
	// typed name (her signature) stays inside.
	relayed = box.Expect(t, customerRcpts)[customerRcpts]
	if want := gatewaytest.ResolvedText(caseID, "Hello Ada,\n\nthe manual is attached; page 3 covers fires."); relayed.Text != want {
		t.Errorf("relayed text:\n%q\nwant\n%q", relayed.Text, want)
	}
	if pdf := relayed.Files["manual.pdf"]; string(pdf) != "%PDF-1.4\n%\xe2\xe3\xcf\xd3\nfake manual\n" {
		t.Errorf("relayed attachment = %q", pdf)
	}
	if irt, _ := relayed.Header.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "second-2@customer.example" {
		t.Errorf("relayed In-Reply-To = %v, want Ada's latest", irt)
	}
	if refs, _ := relayed.Header.MsgIDList("References"); len(refs) < 3 || refs[0] != "first-1@customer.example" || refs[len(refs)-1] != "second-2@customer.example" {
		t.Errorf("relayed References = %v", refs)
	}
	if c := g.Case(t, caseID); c.Status != "resolved" {
		t.Errorf("after #resolve: %+v", c)
	}

	// 5. Ada asks for the status: an automatic reply to her alone; the case stays resolved.
	statusMail := fmt.Sprintf(`From: Ada Lovelace <ada@customer.example>
To: %s
Subject: Re: Printer on fire [#%d]
Message-ID: <status-3@customer.example>

status
`, customerToken, caseID)
	if err := g.Send(t, "ada@customer.example", []string{customerToken}, statusMail); err != nil {
		t.Fatal(err)
	}
	status := box.Expect(t, "ada@customer.example")["ada@customer.example"]
	for _, want := range []string{"We have marked it as resolved.", "Last from us: we answered you ", "Who has it:   a member of our team", fmt.Sprintf("case #%d", caseID)} {
		if !strings.Contains(status.Text, want) {
			t.Errorf("status reply lacks %q:\n%s", want, status.Text)
		}
	}
	if status.Header.Get("Auto-Submitted") != "auto-replied" {
		t.Errorf("status reply Auto-Submitted = %q", status.Header.Get("Auto-Submitted"))
	}
	if irt, _ := status.Header.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "status-3@customer.example" {
		t.Errorf("status reply In-Reply-To = %v", irt)
	}
	if c := g.Case(t, caseID); c.Status != "resolved" {
		t.Errorf("a status request changed the case: %+v", c)
	}
	// The same request as an auto-reply (RFC 3834) and from a stranger
	// threading by References: no answer, nothing about the case.
	if err := g.Send(t, "ada@customer.example", []string{customerToken}, strings.Replace(strings.Replace(statusMail, "status-3", "status-auto", 1), "\n\nstatus", "\nAuto-Submitted: auto-replied\n\nstatus", 1)); err != nil {
		t.Fatal(err)
	}
	if err := g.Send(t, "eve@elsewhere.example", []string{"support@support.example.com"}, fmt.Sprintf(`From: eve@elsewhere.example
To: support@support.example.com
Subject: status
Message-ID: <status-eve@elsewhere.example>
References: <%s>

status
`, relayed.MessageID(t))); err != nil {
		t.Fatal(err)
	}
	box.Expect(t)
	if n := g.Count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'status-refused'`, caseID); n != 1 {
		t.Errorf("status-refused events = %d, want 1", n)
	}
	if c := g.Case(t, caseID); c.Status != "resolved" {
		t.Errorf("status requests changed the case: %+v", c)
	}

	// A participant may ask by case number, outside the thread; the answer
	// threads under the question and no case is opened.
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, fmt.Sprintf(`From: Ada Lovelace <ada@customer.example>
To: support@support.example.com
Subject: status #%d
Message-ID: <status-5@customer.example>

Hello?
`, caseID)); err != nil {
		t.Fatal(err)
	}
	if status := box.Expect(t, "ada@customer.example")["ada@customer.example"]; !strings.Contains(status.Text, "We have marked it as resolved.") {
		t.Errorf("status by case number:\n%s", status.Text)
	}
	if n := g.Count(t, `SELECT count(*) FROM cases`); n != 1 {
		t.Errorf("cases = %d after a status request by number, want 1", n)
	}

	// 6. Ada writes again: the resolved case reopens and Alice is told.
	if err := g.Send(t, "ada@customer.example", []string{customerToken}, fmt.Sprintf(`From: Ada Lovelace <ada@customer.example>
To: %s
Subject: Re: Printer on fire [#%d]
Message-ID: <third-4@customer.example>
In-Reply-To: <%s>

It caught fire again.

On Sun, 22 Nov 2026 at 10:06, Example Support wrote:
> Hello Ada,
>
> the manual is attached; page 3 covers fires.
`, customerToken, caseID, relayed.MessageID(t))); err != nil {
		t.Fatal(err)
	}
	again := box.Expect(t, "alice@example.com")["alice@example.com"]
	if !strings.Contains(again.Text, "It caught fire again.") || strings.Contains(again.Text, "page 3 covers fires") {
		t.Errorf("the assignee is not shown just the new text:\n%s", again.Text)
	}
	if c := g.Case(t, caseID); c.Status != "open" {
		t.Errorf("after the customer wrote again: %+v, want open", c)
	}

	// 7. Internal notes, by the note address and by #note: stored, never sent.
	if err := g.Send(t, "alice@example.com", []string{noteAddr}, gatewaytest.StaffReply("Alice Example <alice@example.com>", noteAddr, notification.MessageID(t), caseID, "GA2", "Called Ada; the printer is a 1998 model.")); err != nil {
		t.Fatal(err)
	}
	if err := g.Send(t, "alice@example.com", []string{staffToken}, gatewaytest.StaffReply("Alice Example <alice@example.com>", staffToken, notification.MessageID(t), caseID, "GA3", "#note\nInternal: offer a replacement at cost.")); err != nil {
		t.Fatal(err)
	}
	box.Expect(t)
	var notes []string
	g.DB.Select(&notes, `SELECT detail FROM events WHERE case_id = $1 AND kind = 'note' ORDER BY id`, caseID)
	if len(notes) != 2 || notes[0] != "Called Ada; the printer is a 1998 model." || notes[1] != "Internal: offer a replacement at cost." {
		t.Errorf("notes = %q", notes)
	}

	// 8. Bad commands: the sender is told, nothing is applied or relayed.
	for i, body := range []string{"#reslove\n\nHi Ada", "#priority urgent\n#reopen\n\nHi Ada"} {
		if err := g.Send(t, "alice@example.com", []string{staffToken}, gatewaytest.StaffReply("Alice Example <alice@example.com>", staffToken, notification.MessageID(t), caseID, fmt.Sprint("GB", i), body)); err != nil {
			t.Fatal(err)
		}
		e := box.Expect(t, "alice@example.com")["alice@example.com"]
		want := []string{`unknown command #reslove`, "#reopen: not allowed while the case is open"}[i]
		if !strings.Contains(e.Text, want) || !strings.Contains(e.Text, "Commands not applied") || e.Subject != fmt.Sprintf("[#%d] Printer on fire", caseID) {
			t.Errorf("command error %d: %q\n%s\nwant %q", i, e.Subject, e.Text, want)
		}
	}
	if c := g.Case(t, caseID); c != (gatewaytest.Case{Status: "open", Priority: "high", Assignee: "alice@example.com"}) {
		t.Errorf("after rejected commands: %+v, want nothing changed", c)
	}

	// 9. #escalate: PR gets a digest and is copied on the relayed reply.
	if err := g.Send(t, "alice@example.com", []string{staffToken}, gatewaytest.StaffReply("Alice Example <alice@example.com>", staffToken, notification.MessageID(t), caseID, "GA5", "#escalate\n\nOur PR desk is looking at this too.")); err != nil {
		t.Fatal(err)
	}
	got = box.Expect(t, "pr@example.com", customerRcpts+",pr@example.com")
	if digest := got["pr@example.com"]; !strings.Contains(digest.Text, "It caught fire again.") || !strings.Contains(digest.Text, "escalated by alice@example.com") {
		t.Errorf("escalation digest:\n%s", digest.Text)
	}
	escalated := got[customerRcpts+",pr@example.com"]
	if cc, _ := escalated.Header.AddressList("Cc"); len(cc) != 2 {
		t.Errorf("relayed Cc after escalation = %v", cc)
	}

	// No mail to the customer side ever shows a staff address or a note.
	var toCustomer []string
	g.DB.Select(&toCustomer, `SELECT convert_from(o.raw, 'UTF8') FROM outbox o WHERE EXISTS (
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
	g.DB.Select(&kinds, `SELECT DISTINCT kind FROM events WHERE case_id = $1 ORDER BY kind`, caseID)
	for _, want := range []string{"assigned", "command-error-sent", "commands-rejected", "escalated", "note", "notified", "participant", "priority", "relayed", "status", "status-sent"} {
		if !strings.Contains(","+strings.Join(kinds, ",")+",", ","+want+",") {
			t.Errorf("no %q event; events: %v", want, kinds)
		}
	}
	g.Relay.Wait(t, g.Count(t, `SELECT count(*) FROM deliveries`)) // and everything was delivered
}

// With [staff] show_names the customer sees the staff member's name, still
// never their address; automatic mail opening a case tells nobody.
func TestShowNamesAndAutomaticMail(t *testing.T) {
	g := gatewaytest.Start(t, staffOptions(gatewaytest.Options{TrustedNetworks: loopbackIsStaff, ShowNames: true}))
	box := g.Outbox
	caseID, _, staffToken, notificationID := g.OpenCustomerCase(t)
	if err := g.Send(t, "alice@example.com", []string{staffToken}, gatewaytest.StaffReply("Alice Example <alice@example.com>", staffToken, notificationID, caseID, "SN1", "Hello Ada.")); err != nil {
		t.Fatal(err)
	}
	m := box.Expect(t, "ada@customer.example")["ada@customer.example"]
	from, _ := m.Header.AddressList("From")
	if len(from) != 1 || from[0].Name != "Alice Example (Example Support)" || from[0].Address != "support@support.example.com" {
		t.Errorf("From = %v", from)
	}
	if want := fmt.Sprintf("Hello Ada.\n\n-- \nAlice Example, Example Support\nCase #%d: reply to this email to add to it.\n", caseID); m.Text != want {
		t.Errorf("relayed text %q, want %q", m.Text, want)
	}
	if strings.Contains(m.Raw, "alice@example.com") {
		t.Errorf("the staff address reached the customer:\n%s", m.Raw)
	}

	// A vacation notice opens a case (nothing is lost) and staff hear of
	// it like of every new case (issue 16), but nothing answers it.
	auto := strings.Replace(strings.Replace(gatewaytest.CustomerMail, "first-1", "vacation-1", 1), "Subject: Printer on fire", "Subject: Out of office\nAuto-Submitted: auto-replied", 1)
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, auto); err != nil {
		t.Fatal(err)
	}
	box.Expect(t, "alice@example.com,bob@example.com")
	if n := g.Count(t, `SELECT count(*) FROM cases`); n != 2 {
		t.Errorf("cases = %d, want 2", n)
	}
}

// Staff authority needs all three: a staff address, proof of origin and
// the staff token. Anything less is filed as an ordinary message, relays
// nothing, applies no command, and staff are told why (one mail).
func TestForgedStaffRepliesAreNotRelayed(t *testing.T) {
	t.Run("no proof", func(t *testing.T) {
		g := gatewaytest.Start(t, staffOptions(gatewaytest.Options{})) // no trusted networks: loopback proves nothing
		box := g.Outbox
		caseID, _, staffToken, notificationID := g.OpenCustomerCase(t)
		reply := gatewaytest.StaffReply("Alice Example <alice@example.com>", staffToken, notificationID, caseID, "NP1", "#close\n\nYour refund is approved.")
		if err := g.Send(t, "alice@example.com", []string{staffToken}, reply); err != nil {
			t.Fatal(err)
		}
		notice := box.Expect(t, "alice@example.com,bob@example.com")["alice@example.com,bob@example.com"]
		if !strings.Contains(notice.Text, "nothing proves where it came from") || !strings.Contains(notice.Text, "Not accepted as staff") {
			t.Errorf("notice: %q\n%s", notice.Subject, notice.Text)
		}
		if c := g.Case(t, caseID); c.Status != "new" {
			t.Errorf("unproven #close applied: %+v", c)
		}
		if n := g.Count(t, `SELECT count(*) FROM messages WHERE case_id = $1 AND direction = 'inbound'`, caseID); n != 2 {
			t.Errorf("inbound messages = %d, want 2 (the reply is filed)", n)
		}
	})

	g := gatewaytest.Start(t, staffOptions(gatewaytest.Options{TrustedNetworks: []string{"127.0.0.1/32", "::1"}}))
	box := g.Outbox
	caseID, customerToken, staffToken, notificationID := g.OpenCustomerCase(t)
	forged := fmt.Sprintf("support+%d-000000000000@support.example.com", caseID)
	// A stranger with the staff token: staff are told, nothing applied.
	reply := gatewaytest.StaffReply("Eve <eve@elsewhere.example>", staffToken, notificationID, caseID, "stranger", "#close\n\nYour refund is approved.")
	if err := g.Send(t, "x@elsewhere.example", []string{staffToken}, reply); err != nil {
		t.Fatal(err)
	}
	notice := box.Expect(t, "alice@example.com,bob@example.com")["alice@example.com,bob@example.com"]
	if !strings.Contains(notice.Text, "not in the staff directory") {
		t.Errorf("notice does not say why:\n%s", notice.Text)
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
			reply := gatewaytest.StaffReply("Alice Example <alice@example.com>", tc.rcpt, notificationID, caseID, strings.ReplaceAll(tc.name, " ", "-"), "#close\n\nYour refund is approved.")
			if err := g.Send(t, "x@elsewhere.example", []string{tc.rcpt}, reply); err != nil {
				t.Fatal(err)
			}
			told := box.Expect(t, "alice@example.com")["alice@example.com"]
			if !strings.Contains(told.Text, "commands work only in a reply to the case's staff address") {
				t.Errorf("Alice is not told why her commands were not applied:\n%s", told.Text)
			}
			if c := g.Case(t, caseID); c.Status == "closed" {
				t.Errorf("#close without the staff token applied")
			}
		})
	}
	if n := g.Count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'staff-replied-directly'`, caseID); n != 3 {
		t.Errorf("staff-replied-directly events = %d, want 3", n)
	}
	// A robot answering with the staff token is filed; nobody is told (no loops).
	robot := strings.Replace(gatewaytest.StaffReply("Eve <eve@elsewhere.example>", staffToken, notificationID, caseID, "robot", "I am away."),
		"User-Agent:", "Auto-Submitted: auto-replied\nUser-Agent:", 1)
	if err := g.Send(t, "", []string{staffToken}, robot); err != nil {
		t.Fatal(err)
	}
	box.Expect(t)
	if n := g.Count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'not-staff'`, caseID); n != 2 {
		t.Errorf("not-staff events = %d, want 2 (the stranger, the robot)", n)
	}
	if n := g.Count(t, `SELECT count(*) FROM deliveries WHERE recipient = 'ada@customer.example'`); n != 1 {
		t.Errorf("mails to the customer = %d, want 1 (the acknowledgement only)", n)
	}
	// A genuine reply still works on the same gateway.
	if err := g.Send(t, "alice@example.com", []string{staffToken}, gatewaytest.StaffReply("Alice Example <alice@example.com>", staffToken, notificationID, caseID, "OK1", "Hello Ada, we are on it.")); err != nil {
		t.Fatal(err)
	}
	if m := box.Expect(t, "ada@customer.example")["ada@customer.example"]; m.Text != gatewaytest.RelayedText(caseID, "Hello Ada, we are on it.") {
		t.Errorf("genuine reply relayed as %q", m.Text)
	}
}

// A staff member answers with the real mutt (installed by make test),
// submitting over SMTP with an attachment, a command and her signature, as
// from a desk.
func TestStaffReplyFromMutt(t *testing.T) {
	mutt, err := exec.LookPath("mutt")
	if err != nil {
		t.Fatalf("mutt is not installed; make test installs it (scripts/install-deps.sh mutt): %v", err)
	}
	g := gatewaytest.Start(t, staffOptions(gatewaytest.Options{TrustedNetworks: []string{"127.0.0.0/8", "::1"}}))
	box := g.Outbox
	caseID, _, staffToken, notificationID := g.OpenCustomerCase(t)

	dir := t.TempDir()
	rc := filepath.Join(dir, "muttrc")
	draft := filepath.Join(dir, "draft")
	report := filepath.Join(dir, "report.txt")
	signature := filepath.Join(dir, "signature")
	files := map[string]string{
		rc: fmt.Sprintf(`set smtp_url="smtp://%s/"
set ssl_starttls=no
set ssl_force_tls=no
set from="Alice Example <alice@example.com>"
set use_from=yes
set use_envelope_from=yes
set hostname=example.com
set record=""
set charset=utf-8
set send_charset="us-ascii:utf-8"
set signature="%s"
`, g.Addr, signature),
		// Her own signature (mutt appends it with "-- ") and the block she
		// types herself: neither reaches the customer (issue 16 item 9).
		signature: "Alice Example\nExample Corp support\n+49 30 1234567\nMusterstrasse 1, 10115 Berlin\n",
		draft: fmt.Sprintf(`To: Example Support <%s>
Subject: Re: [#%d] New case: Printer on fire
In-Reply-To: <%s>
References: <%s>

#pending

Hello Ada,

is it still burning? The log of our call is attached.

Best regards,
Alice Example
Example Corp | +49 30 1234567

On Sun, Nov 22, 2026 at 10:00:00AM +0000, Example Support wrote:
> New case #%d: Printer on fire
`, staffToken, caseID, notificationID, notificationID, caseID),
		report: "10:02 customer called\n10:05 advised to unplug\n",
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mutt, "-n", "-F", rc, "-H", draft, "-a", report)
	cmd.Env = append(os.Environ(), "HOME="+dir, "TMPDIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mutt: %v\n%s", err, out)
	}

	m := box.Expect(t, "ada@customer.example")["ada@customer.example"]
	if want := gatewaytest.RelayedText(caseID, "Hello Ada,\n\nis it still burning? The log of our call is attached."); m.Text != want {
		t.Errorf("relayed text %q, want %q", m.Text, want)
	}
	for _, private := range []string{"1234567", "Musterstrasse", "Alice"} {
		if strings.Contains(m.Raw, private) {
			t.Errorf("the relayed reply holds %q from Alice's signature:\n%s", private, m.Raw)
		}
	}
	if got := strings.ReplaceAll(string(m.Files["report.txt"]), "\r\n", "\n"); got != files[report] {
		t.Errorf("relayed attachment = %q", got)
	}
	if c := g.Case(t, caseID); c.Status != "pending" {
		t.Errorf("after #pending from mutt: %+v", c)
	}
}
