package threads_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"casegate/internal/gatewaytest"
	"casegate/threads"
)

// Issue 16 items 8–10 and issue 15 item 7, played as a customer and staff
// would: real SMTP into the real listener, real PostgreSQL, a clock the
// test moves, and every mail each party gets read back from the outbox.

// wordsOptions: the default rules (a Berlin office calendar, first response
// in 4 business hours), staff replies from loopback count as proven, the
// follow-up after 72 h.
func wordsOptions(t *testing.T, clock *gatewaytest.Clock) gatewaytest.Options {
	o := staffOptions(escalationOptions(t, clock))
	o.Followup = threads.FollowupOptions{Delay: 72 * time.Hour}
	return o
}

// A German customer's whole story, once with Content-Language and once
// with German only in her text: acknowledgement, status reply, the staff
// reply with #resolve (relayed without the signature, and the resolution
// notice), the follow-up with its HTML part, her rating and the thanks —
// every mail to her in German, times in Berlin time with the zone named,
// no rule names; staff mail in English.
func TestGermanCustomerStory(t *testing.T) {
	for name, first := range map[string]string{
		"Content-Language": "Content-Language: de-DE\nSubject: Drucker brennt\n\nMein Drucker brennt.\n",
		"detected":         "Subject: Drucker brennt\n\nHallo, mein Drucker brennt seit heute Morgen und ich weiß nicht, was ich tun soll. Können Sie mir bitte helfen?\n\nViele Grüße\nJo\n",
	} {
		t.Run(name, func(t *testing.T) {
			clock := gatewaytest.NewClock(gatewaytest.BerlinTime(t, "2026-11-30 10:00")) // a Monday
			g := gatewaytest.Start(t, wordsOptions(t, clock))
			box := g.Outbox
			const jo = "jo@kunde.example"
			raw := "From: Jo Beispiel <jo@kunde.example>\nTo: support@support.example.com\nMessage-ID: <jo-1@kunde.example>\nDate: Mon, 30 Nov 2026 10:00:00 +0100\nContent-Type: text/plain; charset=utf-8\n" + first
			if err := g.Send(t, jo, []string{"support@support.example.com"}, raw); err != nil {
				t.Fatal(err)
			}
			var caseID int64
			var lang, zone string
			if err := g.DB.QueryRow(`SELECT id, language, timezone FROM cases`).Scan(&caseID, &lang, &zone); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(lang, "de") || zone != "Europe/Berlin" {
				t.Errorf("case language %q, zone %q; want de, Europe/Berlin", lang, zone)
			}
			opened := box.Wait(t, 2)
			ack, notification := gatewaytest.To(t, opened, jo), gatewaytest.To(t, opened, "alice@example.com,bob@example.com")
			if ack.Subject != fmt.Sprintf("Re: Drucker brennt [#%d]", caseID) {
				t.Errorf("acknowledgement subject %q", ack.Subject)
			}
			gatewaytest.Has(t, "acknowledgement", ack.Text, "Hallo Jo Beispiel,", "vielen Dank für Ihre Nachricht", fmt.Sprintf("Fall #%d", caseID), `nur mit dem Wort "status"`)
			gatewaytest.Has(t, "staff notification", notification.Text, "New case #", "Reply to this mail to answer the customer")
			customerToken := gatewaytest.CustomerReplyAddress.FindString(ack.Header.Get("Reply-To"))

			// An hour later she asks for the status.
			clock.Add(time.Hour)
			ackID, _ := ack.Header.MessageID()
			if err := g.Send(t, jo, []string{customerToken}, fmt.Sprintf("From: Jo Beispiel <jo@kunde.example>\nTo: %s\nSubject: Re: Drucker brennt [#%d]\nMessage-ID: <jo-2@kunde.example>\nIn-Reply-To: <%s>\nContent-Type: text/plain; charset=utf-8\n\nstatus\n\nVon meinem iPhone gesendet\n", customerToken, caseID, ackID)); err != nil {
				t.Fatal(err)
			}
			status := gatewaytest.To(t, box.Wait(t, 1), jo)
			if status.Subject != fmt.Sprintf("Re: Drucker brennt [#%d] Status", caseID) {
				t.Errorf("status subject %q", status.Subject)
			}
			gatewaytest.Has(t, "status reply", status.Text, "so steht es um Ihren Fall", "Ihre Nachricht liegt uns vor; geantwortet haben wir noch nicht.",
				"Eingegangen: Montag, 30. November, 10:00 Uhr MEZ (vor einer Stunde)", "Zuletzt von uns: noch nichts",
				"Zuständig: noch niemand persönlich", "Nächste Antwort: bis heute, 14:00 Uhr MEZ")
			gatewaytest.NoInternals(t, "status reply", status.Text)

			// Staff answer from their client and resolve: relayed in German,
			// signature, phone and address left inside.
			notificationID, _ := notification.Header.MessageID()
			staffToken := gatewaytest.CustomerReplyAddress.FindString(notification.Header.Get("Reply-To"))
			clock.Add(time.Hour)
			body := "#resolve\n\nHallo Jo,\n\nbitte ziehen Sie den Stecker; ein Techniker kommt morgen.\n\nMit freundlichen Grüßen\n\nAlice Example\nKundenservice\nExample GmbH, Musterstraße 1, 10115 Berlin\nTel.: +49 30 1234567"
			if err := g.Send(t, "alice@example.com", []string{staffToken}, gatewaytest.StaffReply("Alice Example <alice@example.com>", staffToken, notificationID, caseID, "DE1", body)); err != nil {
				t.Fatal(err)
			}
			// One event, one mail: the reply carries the resolution.
			relayed := gatewaytest.To(t, box.Wait(t, 1), jo)
			if want := fmt.Sprintf("Hallo Jo,\n\nbitte ziehen Sie den Stecker; ein Techniker kommt morgen.\n\nWir haben Ihren Fall als gelöst markiert. Falls noch etwas nicht stimmt,\nantworten Sie einfach auf diese E-Mail; der Fall wird dann wieder geöffnet.\n\n-- \nExample Support\nFall #%d: Antworten Sie auf diese E-Mail, um etwas zu ergänzen.\n", caseID); relayed.Text != want {
				t.Errorf("relayed text:\n%q\nwant\n%q", relayed.Text, want)
			}
			gatewaytest.HasNot(t, "relayed reply", relayed.Raw, "1234567", "Musterstra", "Alice", "alice@")

			// Three days later the follow-up, in German, with its HTML part.
			clock.Add(72 * time.Hour)
			followup := gatewaytest.To(t, box.Wait(t, 1), jo)
			if !strings.HasSuffix(followup.Subject, "Hat das geholfen?") {
				t.Errorf("follow-up subject %q", followup.Subject)
			}
			if ct, _, _ := followup.Header.ContentType(); ct != "multipart/alternative" {
				t.Errorf("follow-up is %s, want multipart/alternative", ct)
			}
			gatewaytest.Has(t, "follow-up", followup.Text, "am Montag, 30. November (vor 3 Tagen) haben wir Ihren Fall", "Hat das geholfen?")
			gatewaytest.Has(t, "follow-up HTML", followup.HTML, `<html lang="de">`, "(vor 3 Tagen)", "Hat das geholfen?")
			gatewaytest.NoInternals(t, "follow-up", followup.Text+followup.HTML)

			// She rates 2: thanked in German, the case reopens, staff hear of it in English.
			followupID, _ := followup.Header.MessageID()
			if err := g.Send(t, jo, []string{customerToken}, fmt.Sprintf("From: Jo Beispiel <jo@kunde.example>\nTo: %s\nSubject: Re: Drucker brennt [#%d]\nMessage-ID: <jo-3@kunde.example>\nIn-Reply-To: <%s>\nContent-Type: text/plain; charset=utf-8\n\n2 er geht immer noch nicht\n", customerToken, caseID, followupID)); err != nil {
				t.Fatal(err)
			}
			// The reopened case is past its resolution deadline (24 business
			// hours from Monday 10:00), so PR gets its digest at once too.
			rated := box.Wait(t, 3)
			gatewaytest.Has(t, "PR digest", gatewaytest.To(t, rated, "pr@example.com").Text, "Escalated:", `rule "resolution"`)
			thanks := gatewaytest.To(t, rated, jo)
			if !strings.HasSuffix(thanks.Subject, "vielen Dank") {
				t.Errorf("rating thanks subject %q", thanks.Subject)
			}
			gatewaytest.Has(t, "rating thanks", thanks.Text, "vielen Dank für Ihre Bewertung", "(2 von 5)", "Der Fall ist wieder offen")
			gatewaytest.Has(t, "staff notification", gatewaytest.To(t, rated, "alice@example.com,bob@example.com").Text, "The customer wrote on case")
		})
	}
}

// The case's zone: the office calendar's by default; a customer whose own
// mail carries another UTC offset gets her times in that offset, named.
func TestCustomerTimesInHerZone(t *testing.T) {
	clock := gatewaytest.NewClock(gatewaytest.BerlinTime(t, "2026-11-30 10:00"))
	g := gatewaytest.Start(t, wordsOptions(t, clock))
	box := g.Outbox
	for _, c := range []struct{ from, date, received, answer string }{
		{"priya@customer.example", "Mon, 30 Nov 2026 14:30:00 +0530", "Received: Monday 30 November, 14:30 UTC+05:30 (just now)", "Next answer: by 18:30 UTC+05:30 today"},
		{"ada@customer.example", "Mon, 30 Nov 2026 09:00:00 +0000", "Received: Monday 30 November, 10:00 CET (just now)", "Next answer: by 14:00 CET today"},
	} {
		if err := g.Send(t, c.from, []string{"support@support.example.com"}, fmt.Sprintf("From: <%s>\nTo: support@support.example.com\nSubject: Printer\nMessage-ID: <%s>\nDate: %s\nContent-Language: en\n\nMy printer is broken.\n", c.from, c.from, c.date)); err != nil {
			t.Fatal(err)
		}
		ack := gatewaytest.To(t, box.Wait(t, 2), c.from)
		token := gatewaytest.CustomerReplyAddress.FindString(ack.Header.Get("Reply-To"))
		if err := g.Send(t, c.from, []string{token}, fmt.Sprintf("From: <%s>\nTo: %s\nSubject: status\nMessage-ID: <status-%s>\n\nstatus\n", c.from, token, c.from)); err != nil {
			t.Fatal(err)
		}
		status := gatewaytest.To(t, box.Wait(t, 1), c.from)
		gatewaytest.Has(t, "status reply to "+c.from, status.Text, c.received, c.answer, "We have your message and have not answered it yet.")
	}
}

// Issue 15 item 7, by the attack: a display name or subject carrying a
// line break (RFC 2047 Q and B, a lone CR, NEL, U+2028, a folded header)
// through the real listener. No line of the acknowledgement, the staff
// notification or the PR digest (its "Who:" line) — headers, text or
// HTML — may start with the injected text.
func TestHeaderLineBreaksNeverStartALine(t *testing.T) {
	clock := gatewaytest.NewClock(gatewaytest.BerlinTime(t, "2026-11-30 10:00"))
	g := gatewaytest.Start(t, wordsOptions(t, clock))
	box := g.Outbox
	b64 := func(s string) string { return "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?=" }
	for i, from := range []string{
		"=?utf-8?q?Ada=0D=0AFrom:_CEO?= <a1@customer.example>",
		b64("Ada\r\nFrom: CEO") + " <a2@customer.example>",
		"=?utf-8?q?Ada=0DFrom:_CEO?= <a3@customer.example>",
		"=?utf-8?q?Ada=0AFrom:_CEO?= <a4@customer.example>",
		"=?utf-8?q?Ada=E2=80=A8From:_CEO?= <a5@customer.example>",
		"=?utf-8?q?Ada=C2=85From:_CEO=E2=80=A9Wire_the_money?= <a6@customer.example>",
		"\"Ada\n From: CEO\" <a7@customer.example>",
	} {
		addr := fmt.Sprintf("a%d@customer.example", i+1)
		// "lawyer" makes the risk high: the public-risk rule sends PR its
		// digest at once.
		raw := fmt.Sprintf("From: %s\nTo: support@support.example.com\nSubject: =?utf-8?q?Help=0D=0AFrom:_CEO?=\nMessage-ID: <inject-%d@customer.example>\n\nMy lawyer will hear of this.\n", from, i)
		if err := g.Send(t, addr, []string{"support@support.example.com"}, raw); err != nil {
			t.Fatal(err)
		}
		mails := box.Wait(t, 3) // acknowledgement (PR in copy), notification, digest
		digest := gatewaytest.To(t, mails, "pr@example.com")
		gatewaytest.Has(t, "digest", digest.Text, "Who:")
		gatewaytest.To(t, mails, "alice@example.com,bob@example.com")
		for _, m := range mails {
			for part, text := range map[string]string{"raw": m.Raw, "text": m.Text, "html": m.HTML} {
				for _, line := range regexp.MustCompile("\r\n|\n|\r|\u2028|\u2029|\u0085").Split(text, -1) {
					line = strings.TrimLeft(line, " \t>")
					if strings.HasPrefix(line, "From: CEO") || strings.HasPrefix(line, "Wire the money") {
						t.Errorf("sender %d: the %s of %q has the line %q", i+1, part, m.Subject, line)
					}
				}
			}
		}
	}
}

// Issue 16 item 9: a staff reply's signature, phone number and address
// never reach the customer, whichever client wrote it; the name shows only
// with show_names, and then only as the From name and sign-off casegate
// writes.
func TestStaffSignatureStaysInside(t *testing.T) {
	replies := map[string]string{
		"closing and block": "Hello Ada,\n\nthe technician comes tomorrow at nine.\n\nKind regards\n\nAlice Example\nSenior Support Engineer\nExample Ltd. | 221B Baker Street | London NW1 6XE\nT +44 20 7946 0958\n\nThis e-mail is confidential and intended solely for the addressee.",
		"delimiter":         "Hello Ada,\n\nthe technician comes tomorrow at nine.\n\n-- \nAlice Example | Example Ltd.\n+44 20 7946 0958 | 221B Baker Street, London",
		"mobile":            "Hello Ada,\n\nthe technician comes tomorrow at nine.\n\nAlice\n\nSent from my iPhone",
		"german":            "Hello Ada,\n\nthe technician comes tomorrow at nine.\n\nViele Grüße\nAlice Example\nExample GmbH · Musterstraße 1 · 10115 Berlin\nTel. +49 30 1234567",
	}
	for _, showNames := range []bool{false, true} {
		g := gatewaytest.Start(t, staffOptions(gatewaytest.Options{TrustedNetworks: loopbackIsStaff, ShowNames: showNames}))
		box := g.Outbox
		caseID, _, staffToken, notificationID := g.OpenCustomerCase(t)
		i := 0
		for name, body := range replies {
			i++
			if err := g.Send(t, "alice@example.com", []string{staffToken}, gatewaytest.StaffReply("Alice Example <alice@example.com>", staffToken, notificationID, caseID, fmt.Sprintf("SIG%d%v", i, showNames), body)); err != nil {
				t.Fatal(err)
			}
			relayed := box.Expect(t, "ada@customer.example")["ada@customer.example"]
			signOff := "Example Support"
			if showNames {
				signOff = "Alice Example, Example Support"
			}
			if want := fmt.Sprintf("Hello Ada,\n\nthe technician comes tomorrow at nine.\n\n-- \n%s\nCase #%d: reply to this email to add to it.\n", signOff, caseID); relayed.Text != want {
				t.Errorf("%s (show_names %v): relayed text\n%q\nwant\n%q", name, showNames, relayed.Text, want)
			}
			gatewaytest.HasNot(t, name+" relayed", relayed.Raw, "7946", "1234567", "Baker Street", "Musterstra", "iPhone", "confidential", "alice@example.com", "Senior Support")
			from, _ := relayed.Header.AddressList("From")
			if len(from) != 1 || (from[0].Name == "Alice Example (Example Support)") != showNames {
				t.Errorf("%s (show_names %v): From %v", name, showNames, from)
			}
		}
	}
}

// The signature found in what a staff member wrote is kept with the stored
// message (nothing is lost), only not relayed.
func TestStaffSignatureIsKeptOnTheCase(t *testing.T) {
	g := gatewaytest.Start(t, staffOptions(gatewaytest.Options{TrustedNetworks: loopbackIsStaff}))
	box := g.Outbox
	caseID, _, staffToken, notificationID := g.OpenCustomerCase(t)
	body := "Done.\n\nBest,\nAlice Example\n+44 20 7946 0958"
	if err := g.Send(t, "alice@example.com", []string{staffToken}, gatewaytest.StaffReply("Alice Example <alice@example.com>", staffToken, notificationID, caseID, "KEEP", body)); err != nil {
		t.Fatal(err)
	}
	box.Expect(t, "ada@customer.example")
	var raw []byte
	if err := g.DB.Get(&raw, `SELECT raw FROM messages WHERE message_id = '20261122100311.KEEP@example.com'`); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("+44 20 7946 0958")) {
		t.Error("the stored staff reply lost its signature")
	}
}
