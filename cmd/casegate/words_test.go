package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"casegate/internal/pgtest"
)

// Issue 16 items 8–10 and issue 15 item 7, played as a customer and staff
// would: real SMTP into the real listener, real PostgreSQL, a clock the
// test moves, and every mail each party gets read back from the outbox.

// wordsConfig: the default rules (a Berlin office calendar, first response
// in 4 business hours), staff replies from loopback count as proven, the
// follow-up after 72 h.
func wordsConfig(dbURL, staffKeys string) string {
	return fmt.Sprintf(staffTestConfig, dbURL, `trusted_networks = ["127.0.0.0/8"]`+"\n"+staffKeys) + escalationConfig + `
[followup]
delay = "72h"
`
}

// sentMail is one queued mail with its parts decoded.
type sentMail struct {
	raw, subject, text, html string
	rcpts                    []string
	h                        mail.Header
}

// waitSent reads the mails queued after box.last, waiting (bounded) until
// there are n, and fails on more.
func waitSent(t *testing.T, box *outbox, n int) []sentMail {
	t.Helper()
	var got []outMail
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		got = append(got, box.next(t)...)
		if len(got) < n {
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(100 * time.Millisecond) // and nothing more arrives
	got = append(got, box.next(t)...)
	var out []sentMail
	var list []string
	for _, m := range got {
		s := sentMail{raw: m.raw, subject: m.subject, rcpts: m.rcpts, h: m.h}
		mr, err := mail.CreateReader(strings.NewReader(m.raw))
		if err != nil {
			t.Fatal(err)
		}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(p.Body)
			if h, ok := p.Header.(*mail.InlineHeader); ok {
				switch ct, _, _ := h.ContentType(); ct {
				case "text/plain":
					s.text = strings.ReplaceAll(string(b), "\r\n", "\n")
				case "text/html":
					s.html = strings.ReplaceAll(string(b), "\r\n", "\n")
				}
			}
		}
		out = append(out, s)
		list = append(list, strings.Join(m.rcpts, ",")+": "+m.subject)
	}
	if len(out) != n {
		t.Fatalf("%d mails queued, want %d:\n  %s", len(out), n, strings.Join(list, "\n  "))
	}
	return out
}

// to returns the one mail among ms addressed to rcpts (comma-separated).
func to(t *testing.T, ms []sentMail, rcpts string) sentMail {
	t.Helper()
	var found []sentMail
	for _, m := range ms {
		if strings.Join(m.rcpts, ",") == rcpts {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d mails to %s, want 1", len(found), rcpts)
	}
	return found[0]
}

// has fails unless every want is in text (white space folded).
func has(t *testing.T, what, text string, want ...string) {
	t.Helper()
	folded := strings.Join(strings.Fields(text), " ")
	for _, w := range want {
		if !strings.Contains(folded, strings.Join(strings.Fields(w), " ")) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// hasNot fails if any of bad is in text.
func hasNot(t *testing.T, what, text string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(text, b) {
			t.Errorf("%s contains %q:\n%s", what, b, text)
		}
	}
}

// noInternals: customer mail names no rule and shows no UTC time by default.
func noInternals(t *testing.T, what, text string) {
	t.Helper()
	hasNot(t, what, text, "first-response", "resolution due", "UTC", "due ", "a few days")
}

var customerReplyAddress = regexp.MustCompile(`support\+\d+-[0-9a-f]+@support\.example\.com`)

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
			clock := &movableClock{now: berlinTime(t, "2026-11-30 10:00")} // a Monday
			dbURL := pgtest.URL(t)
			g, _ := runGateway(t, "", dbURL, wordsConfig(dbURL, ""), clock.Now)
			box := &outbox{db: g.db}
			const jo = "jo@kunde.example"
			raw := "From: Jo Beispiel <jo@kunde.example>\nTo: support@support.example.com\nMessage-ID: <jo-1@kunde.example>\nDate: Mon, 30 Nov 2026 10:00:00 +0100\nContent-Type: text/plain; charset=utf-8\n" + first
			if err := send(t, g.addr, jo, []string{"support@support.example.com"}, raw); err != nil {
				t.Fatal(err)
			}
			var caseID int64
			var lang, zone string
			if err := g.db.QueryRow(`SELECT id, language, timezone FROM cases`).Scan(&caseID, &lang, &zone); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(lang, "de") || zone != "Europe/Berlin" {
				t.Errorf("case language %q, zone %q; want de, Europe/Berlin", lang, zone)
			}
			opened := waitSent(t, box, 2)
			ack, notification := to(t, opened, jo), to(t, opened, "alice@example.com,bob@example.com")
			if ack.subject != fmt.Sprintf("Re: Drucker brennt [#%d]", caseID) {
				t.Errorf("acknowledgement subject %q", ack.subject)
			}
			has(t, "acknowledgement", ack.text, "Hallo Jo Beispiel,", "vielen Dank für Ihre Nachricht", fmt.Sprintf("Fall #%d", caseID), `nur mit dem Wort "status"`)
			has(t, "staff notification", notification.text, "New case #", "Reply to this mail to answer the customer")
			customerToken := customerReplyAddress.FindString(ack.h.Get("Reply-To"))

			// An hour later she asks for the status.
			clock.Add(time.Hour)
			ackID, _ := ack.h.MessageID()
			if err := send(t, g.addr, jo, []string{customerToken}, fmt.Sprintf("From: Jo Beispiel <jo@kunde.example>\nTo: %s\nSubject: Re: Drucker brennt [#%d]\nMessage-ID: <jo-2@kunde.example>\nIn-Reply-To: <%s>\nContent-Type: text/plain; charset=utf-8\n\nstatus\n\nVon meinem iPhone gesendet\n", customerToken, caseID, ackID)); err != nil {
				t.Fatal(err)
			}
			status := to(t, waitSent(t, box, 1), jo)
			if status.subject != fmt.Sprintf("Re: Drucker brennt [#%d] Status", caseID) {
				t.Errorf("status subject %q", status.subject)
			}
			has(t, "status reply", status.text, "so steht es um Ihren Fall", "Ihre Nachricht liegt uns vor; geantwortet haben wir noch nicht.",
				"Eingegangen: Montag, 30. November, 10:00 Uhr MEZ (vor einer Stunde)", "Zuletzt von uns: noch nichts",
				"Zuständig: noch niemand persönlich", "Nächste Antwort: bis heute, 14:00 Uhr MEZ")
			noInternals(t, "status reply", status.text)

			// Staff answer from their client and resolve: relayed in German,
			// signature, phone and address left inside.
			notificationID, _ := notification.h.MessageID()
			staffToken := customerReplyAddress.FindString(notification.h.Get("Reply-To"))
			clock.Add(time.Hour)
			body := "#resolve\n\nHallo Jo,\n\nbitte ziehen Sie den Stecker; ein Techniker kommt morgen.\n\nMit freundlichen Grüßen\n\nAlice Example\nKundenservice\nExample GmbH, Musterstraße 1, 10115 Berlin\nTel.: +49 30 1234567"
			if err := send(t, g.addr, "alice@example.com", []string{staffToken}, staffReply("Alice Example <alice@example.com>", staffToken, notificationID, caseID, "DE1", body)); err != nil {
				t.Fatal(err)
			}
			// One event, one mail: the reply carries the resolution.
			relayed := to(t, waitSent(t, box, 1), jo)
			if want := fmt.Sprintf("Hallo Jo,\n\nbitte ziehen Sie den Stecker; ein Techniker kommt morgen.\n\nWir haben Ihren Fall als gelöst markiert. Falls noch etwas nicht stimmt,\nantworten Sie einfach auf diese E-Mail; der Fall wird dann wieder geöffnet.\n\n-- \nExample Support\nFall #%d: Antworten Sie auf diese E-Mail, um etwas zu ergänzen.\n", caseID); relayed.text != want {
				t.Errorf("relayed text:\n%q\nwant\n%q", relayed.text, want)
			}
			hasNot(t, "relayed reply", relayed.raw, "1234567", "Musterstra", "Alice", "alice@")

			// Three days later the follow-up, in German, with its HTML part.
			clock.Add(72 * time.Hour)
			followup := to(t, waitSent(t, box, 1), jo)
			if !strings.HasSuffix(followup.subject, "Hat das geholfen?") {
				t.Errorf("follow-up subject %q", followup.subject)
			}
			if ct, _, _ := followup.h.ContentType(); ct != "multipart/alternative" {
				t.Errorf("follow-up is %s, want multipart/alternative", ct)
			}
			has(t, "follow-up", followup.text, "am Montag, 30. November (vor 3 Tagen) haben wir Ihren Fall", "Hat das geholfen?")
			has(t, "follow-up HTML", followup.html, `<html lang="de">`, "(vor 3 Tagen)", "Hat das geholfen?")
			noInternals(t, "follow-up", followup.text+followup.html)

			// She rates 2: thanked in German, the case reopens, staff hear of it in English.
			followupID, _ := followup.h.MessageID()
			if err := send(t, g.addr, jo, []string{customerToken}, fmt.Sprintf("From: Jo Beispiel <jo@kunde.example>\nTo: %s\nSubject: Re: Drucker brennt [#%d]\nMessage-ID: <jo-3@kunde.example>\nIn-Reply-To: <%s>\nContent-Type: text/plain; charset=utf-8\n\n2 er geht immer noch nicht\n", customerToken, caseID, followupID)); err != nil {
				t.Fatal(err)
			}
			// The reopened case is past its resolution deadline (24 business
			// hours from Monday 10:00), so PR gets its digest at once too.
			rated := waitSent(t, box, 3)
			has(t, "PR digest", to(t, rated, "pr@example.com").text, "Escalated:", `rule "resolution"`)
			thanks := to(t, rated, jo)
			if !strings.HasSuffix(thanks.subject, "vielen Dank") {
				t.Errorf("rating thanks subject %q", thanks.subject)
			}
			has(t, "rating thanks", thanks.text, "vielen Dank für Ihre Bewertung", "(2 von 5)", "Der Fall ist wieder offen")
			has(t, "staff notification", to(t, rated, "alice@example.com,bob@example.com").text, "The customer wrote on case")
		})
	}
}

// The case's zone: the office calendar's by default; a customer whose own
// mail carries another UTC offset gets her times in that offset, named.
func TestCustomerTimesInHerZone(t *testing.T) {
	clock := &movableClock{now: berlinTime(t, "2026-11-30 10:00")}
	dbURL := pgtest.URL(t)
	g, _ := runGateway(t, "", dbURL, wordsConfig(dbURL, ""), clock.Now)
	box := &outbox{db: g.db}
	for _, c := range []struct{ from, date, received, answer string }{
		{"priya@customer.example", "Mon, 30 Nov 2026 14:30:00 +0530", "Received: Monday 30 November, 14:30 UTC+05:30 (just now)", "Next answer: by 18:30 UTC+05:30 today"},
		{"ada@customer.example", "Mon, 30 Nov 2026 09:00:00 +0000", "Received: Monday 30 November, 10:00 CET (just now)", "Next answer: by 14:00 CET today"},
	} {
		if err := send(t, g.addr, c.from, []string{"support@support.example.com"}, fmt.Sprintf("From: <%s>\nTo: support@support.example.com\nSubject: Printer\nMessage-ID: <%s>\nDate: %s\nContent-Language: en\n\nMy printer is broken.\n", c.from, c.from, c.date)); err != nil {
			t.Fatal(err)
		}
		ack := to(t, waitSent(t, box, 2), c.from)
		token := customerReplyAddress.FindString(ack.h.Get("Reply-To"))
		if err := send(t, g.addr, c.from, []string{token}, fmt.Sprintf("From: <%s>\nTo: %s\nSubject: status\nMessage-ID: <status-%s>\n\nstatus\n", c.from, token, c.from)); err != nil {
			t.Fatal(err)
		}
		status := to(t, waitSent(t, box, 1), c.from)
		has(t, "status reply to "+c.from, status.text, c.received, c.answer, "We have your message and have not answered it yet.")
	}
}

// Issue 15 item 7, by the attack: a display name or subject carrying a
// line break (RFC 2047 Q and B, a lone CR, NEL, U+2028, a folded header)
// through the real listener. No line of the acknowledgement, the staff
// notification or the PR digest (its "Who:" line) — headers, text or
// HTML — may start with the injected text.
func TestHeaderLineBreaksNeverStartALine(t *testing.T) {
	clock := &movableClock{now: berlinTime(t, "2026-11-30 10:00")}
	dbURL := pgtest.URL(t)
	g, _ := runGateway(t, "", dbURL, wordsConfig(dbURL, ""), clock.Now)
	box := &outbox{db: g.db}
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
		if err := send(t, g.addr, addr, []string{"support@support.example.com"}, raw); err != nil {
			t.Fatal(err)
		}
		mails := waitSent(t, box, 3) // acknowledgement (PR in copy), notification, digest
		digest := to(t, mails, "pr@example.com")
		has(t, "digest", digest.text, "Who:")
		to(t, mails, "alice@example.com,bob@example.com")
		for _, m := range mails {
			for part, text := range map[string]string{"raw": m.raw, "text": m.text, "html": m.html} {
				for _, line := range regexp.MustCompile("\r\n|\n|\r|\u2028|\u2029|\u0085").Split(text, -1) {
					line = strings.TrimLeft(line, " \t>")
					if strings.HasPrefix(line, "From: CEO") || strings.HasPrefix(line, "Wire the money") {
						t.Errorf("sender %d: the %s of %q has the line %q", i+1, part, m.subject, line)
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
		g := startStaffGateway(t, fmt.Sprintf("trusted_networks = [\"127.0.0.0/8\"]\nshow_names = %v", showNames))
		box := &outbox{db: g.db}
		caseID, _, staffToken, notificationID := openCase(t, g, box)
		i := 0
		for name, body := range replies {
			i++
			if err := send(t, g.addr, "alice@example.com", []string{staffToken}, staffReply("Alice Example <alice@example.com>", staffToken, notificationID, caseID, fmt.Sprintf("SIG%d%v", i, showNames), body)); err != nil {
				t.Fatal(err)
			}
			relayed := box.expect(t, "ada@customer.example")["ada@customer.example"]
			signOff := "Example Support"
			if showNames {
				signOff = "Alice Example, Example Support"
			}
			if want := fmt.Sprintf("Hello Ada,\n\nthe technician comes tomorrow at nine.\n\n-- \n%s\nCase #%d: reply to this email to add to it.\n", signOff, caseID); relayed.text != want {
				t.Errorf("%s (show_names %v): relayed text\n%q\nwant\n%q", name, showNames, relayed.text, want)
			}
			hasNot(t, name+" relayed", relayed.raw, "7946", "1234567", "Baker Street", "Musterstra", "iPhone", "confidential", "alice@example.com", "Senior Support")
			from, _ := relayed.h.AddressList("From")
			if len(from) != 1 || (from[0].Name == "Alice Example (Example Support)") != showNames {
				t.Errorf("%s (show_names %v): From %v", name, showNames, from)
			}
		}
	}
}

// The signature found in what a staff member wrote is kept with the stored
// message (nothing is lost), only not relayed.
func TestStaffSignatureIsKeptOnTheCase(t *testing.T) {
	g := startStaffGateway(t, `trusted_networks = ["127.0.0.0/8"]`)
	box := &outbox{db: g.db}
	caseID, _, staffToken, notificationID := openCase(t, g, box)
	body := "Done.\n\nBest,\nAlice Example\n+44 20 7946 0958"
	if err := send(t, g.addr, "alice@example.com", []string{staffToken}, staffReply("Alice Example <alice@example.com>", staffToken, notificationID, caseID, "KEEP", body)); err != nil {
		t.Fatal(err)
	}
	box.expect(t, "ada@customer.example")
	var raw []byte
	if err := g.db.Get(&raw, `SELECT raw FROM messages WHERE message_id = '20261122100311.KEEP@example.com'`); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("+44 20 7946 0958")) {
		t.Error("the stored staff reply lost its signature")
	}
}
