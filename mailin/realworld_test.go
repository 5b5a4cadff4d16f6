package mailin

import (
	"casegate/vocab"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

// The second round of real-world mail (issue 19): each class on mail we
// construct and on real samples of the corpus.

func hasProblem(problems []string, part string) bool {
	for _, p := range problems {
		if strings.Contains(p, part) {
			return true
		}
	}
	return false
}

// A line of white space before the header (some MUAs, gateways and
// archives write one) must not turn the whole message into body.
func TestWhiteSpaceLineBeforeHeader(t *testing.T) {
	for _, lead := range []string{" \r\n", "\t\r\n", "   \n", " \r\n\t\r\n"} {
		raw := lead + "From: Ada <ada@customer.example>\r\nSubject: Printer on fire\r\nMessage-ID: <ws@customer.example>\r\n\r\nIt burns.\r\n"
		in := Parse([]byte(raw))
		if in.From.Address != "ada@customer.example" || in.Subject != "Printer on fire" || strings.TrimSpace(in.Text) != "It burns." {
			t.Errorf("lead %q: from %q, subject %q, text %q", lead, in.From.Address, in.Subject, in.Text)
		}
		if !hasProblem(in.Problems, "white-space line before the header") {
			t.Errorf("lead %q: repair not recorded: %v", lead, in.Problems)
		}
	}
	// An empty first line is an empty header (RFC 5322), and white space
	// before something that is no header field changes nothing.
	if in := Parse([]byte("\r\nFrom: a@b.example\r\n\r\nx")); in.From.Address != "" {
		t.Errorf("empty first line: header read as %q", in.From.Address)
	}
	if in := Parse([]byte(" \r\nnot a header\r\n")); in.From.Address != "" || hasProblem(in.Problems, "white-space line") {
		t.Errorf("white space before text: %+v %v", in.From, in.Problems)
	}
}

// Raw 8-bit display names are decoded as subjects are: UTF-8 when valid,
// else the charset the message declares, else a detected one; To and Cc
// too; an encoded-word in quotes is decoded as other mailers do.
func TestRawEightBitNames(t *testing.T) {
	latin1 := func(s string) string { b, _ := charmap.ISO8859_1.NewEncoder().String(s); return b }
	koi8 := func(s string) string { b, _ := charmap.KOI8R.NewEncoder().String(s); return b }
	sjis := func(s string) string { b, _ := japanese.ShiftJIS.NewEncoder().String(s); return b }
	tests := []struct {
		name, from, cc, subject, contentType, body string
		wantName, wantCc, wantSubject              string
	}{
		{"UTF-8", "Jürgen Weiß <j@x.example>", "Åsa <a@x.example>", "Drucker kaputt", "text/plain; charset=utf-8", "x", "Jürgen Weiß", "Åsa", "Drucker kaputt"},
		{"Latin-1, declared", latin1(`"Jürgen Weiß"`) + " <j@x.example>", latin1("Élodie Garçon") + " <e@x.example>", latin1("Rückruf erbeten"), "text/plain; charset=iso-8859-1", latin1("Grüße"), "Jürgen Weiß", "Élodie Garçon", "Rückruf erbeten"},
		{"KOI8-R, declared", koi8("Иван Петров") + " <i@x.example>", koi8("Ольга") + " <o@x.example>", koi8("Не работает принтер"), "text/plain; charset=koi8-r", koi8("Здравствуйте"), "Иван Петров", "Ольга", "Не работает принтер"},
		{"KOI8-R, undeclared", koi8("Иван Петров") + " <i@x.example>", koi8("Ольга Смирнова") + " <o@x.example>", koi8("Не работает принтер в бухгалтерии"), "text/plain", koi8("Здравствуйте, у нас опять не печатает принтер на втором этаже, пришлите мастера."), "Иван Петров", "Ольга Смирнова", "Не работает принтер в бухгалтерии"},
		{"Shift_JIS, declared", sjis("山田太郎") + " <y@x.example>", sjis("鈴木") + " <s@x.example>", sjis("プリンターが動きません"), "text/plain; charset=shift_jis", sjis("よろしくお願いします"), "山田太郎", "鈴木", "プリンターが動きません"},
		{"encoded-word in quotes", `"=?Windows-1252?B?Rm9ybWHn428=?=" <f@x.example>`, "c@x.example", "=?utf-8?q?Caf=C3=A9?=", "text/plain", "x", "Formação", "", "Café"},
	}
	for _, tt := range tests {
		raw := "From: " + tt.from + "\r\nCc: " + tt.cc + "\r\nTo: support@support.example.com\r\nSubject: " + tt.subject +
			"\r\nMessage-ID: <n@x.example>\r\nMIME-Version: 1.0\r\nContent-Type: " + tt.contentType + "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + tt.body + "\r\n"
		in := Parse([]byte(raw))
		if in.From.Name != tt.wantName || in.Subject != tt.wantSubject {
			t.Errorf("%s: name %q, subject %q; want %q, %q (problems %v)", tt.name, in.From.Name, in.Subject, tt.wantName, tt.wantSubject, in.Problems)
		}
		if len(in.Cc) != 1 || in.Cc[0].Name != tt.wantCc || len(in.To) != 1 || in.To[0].Address != "support@support.example.com" {
			t.Errorf("%s: Cc %+v, To %+v; want name %q", tt.name, in.Cc, in.To, tt.wantCc)
		}
	}
}

// A UTF-8 part with a few bad bytes keeps its UTF-8 and has only those
// bytes replaced; an undeclared Cyrillic part is detected; raw 8-bit file
// names are decoded like the rest of the message.
func TestCharsetGuesses(t *testing.T) {
	raw := "From: a@x.example\r\nSubject: s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße aus Köln \xff und Привет\r\n"
	if in := Parse([]byte(raw)); in.Text != "Grüße aus Köln \uFFFD und Привет\r\n" || !hasProblem(in.Problems, "invalid bytes replaced") {
		t.Errorf("UTF-8 with a bad byte: %q %v", in.Text, in.Problems)
	}
	koi8, _ := charmap.KOI8R.NewEncoder().String("Здравствуйте, у нас опять не печатает принтер на втором этаже, пришлите мастера.")
	raw = "From: a@x.example\r\nSubject: s\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + koi8 + "\r\n"
	if in := Parse([]byte(raw)); !strings.Contains(in.Text, "пришлите мастера") || !hasProblem(in.Problems, "koi8-r") {
		t.Errorf("undeclared KOI8-R: %q %v", in.Text, in.Problems)
	}
	latin1, _ := charmap.ISO8859_1.NewEncoder().String("Störung.txt")
	raw = "From: a@x.example\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nAnbei.\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"" + latin1 + "\"\r\n\r\nx\r\n--b--\r\n"
	if in := Parse([]byte(raw)); len(in.Attachments) != 1 || in.Attachments[0].Filename != "Störung.txt" {
		t.Errorf("raw Latin-1 file name: %+v", in.Attachments)
	}
}

// A multipart whose body delimits with another boundary than the declared
// one is read with the one it uses; one with no delimiter at all keeps its
// body as text. Either way the repair is recorded.
func TestDeclaredBoundaryNotUsed(t *testing.T) {
	raw := "From: MAILER-DAEMON@mx.example\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"declared-1\"\r\n\r\n" +
		"--used-2\r\nContent-Type: text/plain\r\n\r\nI could not deliver your mail to ada@customer.example.\r\n" +
		"--used-2\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; ada@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"--used-2--\r\n"
	in := Parse([]byte(raw))
	if !strings.Contains(in.Text, "could not deliver") || !hasProblem(in.Problems, `delimits with boundary "used-2"`) {
		t.Errorf("other boundary: text %q, problems %v", in.Text, in.Problems)
	}
	if in.DSN == nil || in.DSN.Recipients[0].Recipient != "ada@customer.example" || in.DSN.Recipients[0].Status != "5.1.1" {
		t.Errorf("other boundary: DSN %+v", in.DSN)
	}
	raw = "From: MAILER-DAEMON@mx.example\r\nSubject: Returned mail\r\nContent-Type: multipart/report; boundary=\"gone\"\r\n\r\nThe mail to bob@customer.example failed: 550 5.1.1 user unknown\r\n"
	in = Parse([]byte(raw))
	if !strings.Contains(in.Text, "bob@customer.example failed") || !hasProblem(in.Problems, "without any delimiter") {
		t.Errorf("no delimiter: text %q, problems %v", in.Text, in.Problems)
	}
}

// Real samples of each class from the corpus (see its READMEs for
// provenance and licences).
func TestSecondRoundRealSamples(t *testing.T) {
	dir := corpusDir(t)
	read := func(rel string) *vocab.Inbound {
		raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return Parse(raw)
	}
	// An encoded-word in a quoted display name and a raw windows-1252
	// subject (mikel/mail).
	in := read("mikel-mail/spec/fixtures/emails/error_emails/invalid_subject_characters.eml")
	if in.From.Name != "Formação Frenetikpolis" || !strings.HasPrefix(in.Subject, "Formação FrenetikPolis") {
		t.Errorf("invalid_subject_characters: %q / %q", in.From.Name, in.Subject)
	}
	// Raw UTF-8 names in From and To (RFC 6532, mikel/mail).
	in = read("mikel-mail/spec/fixtures/emails/rfc6532/utf8_headers.eml")
	if in.From.Name == "" || !decodedWell(in.From.Name) || len(in.To) == 0 {
		t.Errorf("utf8_headers: from %+v, to %+v", in.From, in.To)
	}
	// Raw 8-bit file names (mikel/mail, enmime).
	in = read("mikel-mail/spec/fixtures/emails/attachment_emails/attachment_nonascii_filename.eml")
	if len(in.Attachments) != 1 || in.Attachments[0].Filename != "ciële.txt" {
		t.Errorf("attachment_nonascii_filename: %+v", in.Attachments)
	}
	in = read("enmime/testdata/mail/mime-bad-8bit-filename.raw")
	if len(in.Attachments) != 1 || !decodedWell(in.Attachments[0].Filename) {
		t.Errorf("mime-bad-8bit-filename: %+v", in.Attachments)
	}
	// Bounces declaring a boundary their body does not use (sisimai).
	for _, rel := range []string{"sisimai-set-of-emails/maildir/bsd/lhost-messagingserver-03.eml", "sisimai-set-of-emails/maildir/bsd/rfc3464-04.eml", "sisimai-set-of-emails/maildir/bsd/rfc3464-06.eml"} {
		in = read(rel)
		if strings.TrimSpace(in.Text) == "" || !hasProblem(in.Problems, "without any delimiter") || in.DSN == nil {
			t.Errorf("%s: text %d bytes, DSN %+v, problems %v", rel, len(in.Text), in.DSN, in.Problems)
		}
	}
	// What a bounce handler must not get wrong (sisimai): a delay notice
	// fails nothing, nor does an abuse complaint; an Amazon SES bounce
	// in JSON names its recipient and status.
	in = read("sisimai-set-of-emails/maildir/bsd/lhost-gmail-08.eml")
	if in.DSN == nil || in.DSN.Recipients[0].Action != "delayed" || in.DSN.Recipients[0].Failed() {
		t.Errorf("lhost-gmail-08 (a delay notice): DSN %+v", in.DSN)
	}
	in = read("sisimai-set-of-emails/maildir/bsd/arf-01.eml")
	if in.DSN == nil || !strings.Contains(in.DSN.Recipients[0].Recipient, "@") || in.DSN.Recipients[0].Failed() {
		t.Errorf("arf-01 (a complaint): DSN %+v", in.DSN)
	}
	in = read("sisimai-set-of-emails/maildir/bsd/lhost-amazonses-09.eml")
	if in.DSN == nil || !in.DSN.Recipients[0].Failed() || in.DSN.Recipients[0].Status == "" {
		t.Errorf("lhost-amazonses-09 (SES JSON): DSN %+v", in.DSN)
	}
	// A bounce that lost its MIME header but kept the delimiters and the
	// delivery-status fields (sisimai).
	in = read("sisimai-set-of-emails/maildir/bsd/lhost-sendmail-54.eml")
	if in.DSN == nil || in.DSN.Recipients[0].Recipient != "kijitora@neko.example.jp" || in.DSN.Recipients[0].Status != "4.4.7" {
		t.Errorf("lhost-sendmail-54: DSN %+v", in.DSN)
	}
}
