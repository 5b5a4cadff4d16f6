package mailin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseBasics(t *testing.T) {
	raw := "From: =?utf-8?q?Ad=C3=A1?= <ada@customer.example>\r\n" +
		"Subject: =?iso-8859-1?q?Caf=E9?= broken\r\n" +
		"Message-ID: <m1@customer.example>\r\n" +
		"In-Reply-To: <p1@x>\r\n" +
		"References: <p0@x> <p1@x>\r\n" +
		"Content-Type: text/plain; charset=windows-1252\r\n\r\n" +
		"Price: 10\x80\r\n"
	in := Parse([]byte(raw))
	if in.From.Address != "ada@customer.example" || in.From.Name != "Adá" {
		t.Errorf("From = %+v", in.From)
	}
	if in.Subject != "Café broken" || in.MessageID != "m1@customer.example" {
		t.Errorf("Subject %q, Message-ID %q", in.Subject, in.MessageID)
	}
	if strings.Join(in.InReplyTo, ",") != "p1@x" || strings.Join(in.References, ",") != "p0@x,p1@x" {
		t.Errorf("threading = %v / %v", in.InReplyTo, in.References)
	}
	if !strings.Contains(in.Text, "10€") {
		t.Errorf("windows-1252 text not decoded: %q", in.Text)
	}
	if in.Automatic || len(in.Problems) != 0 {
		t.Errorf("automatic=%v problems=%v", in.Automatic, in.Problems)
	}
}

func TestParseNeverFails(t *testing.T) {
	for name, raw := range map[string]string{
		"empty":            "",
		"no header end":    "Subject: x",
		"garbage":          "\x00\xff\xfe not a mail at all",
		"unknown charset":  "From: a@b\r\nContent-Type: text/plain; charset=x-no-such\r\n\r\nhi \xff\x00 there\r\n",
		"unknown encoding": "From: a@b\r\nContent-Transfer-Encoding: x-weird\r\n\r\nhi\r\n",
		"no boundary":      "From: a@b\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\n\r\nhi\r\n",
	} {
		in := Parse([]byte(raw))
		if in.MessageID == "" || len(in.BodySHA256) != 32 {
			t.Errorf("%s: no Message-ID or body hash", name)
		}
		for _, s := range []string{in.Subject, in.Text, in.From.Name, in.MessageID} {
			if !utf8.ValidString(s) || strings.Contains(s, "\x00") {
				t.Errorf("%s: invalid text %q", name, s)
			}
		}
	}
	// A message without Message-ID gets the same synthetic id each time it
	// is delivered, so exactly-once filing still holds.
	a, b := Parse([]byte("From: a@b\r\n\r\nhi\r\n")), Parse([]byte("From: a@b\r\n\r\nhi\r\n"))
	if a.MessageID != b.MessageID || !strings.HasSuffix(a.MessageID, "@casegate.invalid") {
		t.Errorf("synthetic ids %q, %q", a.MessageID, b.MessageID)
	}
}

func TestClassifyAutomatic(t *testing.T) {
	for _, h := range []string{
		"Auto-Submitted: auto-replied",
		"Precedence: bulk",
		"List-Id: <users.lists.example>",
		"X-Auto-Response-Suppress: OOF",
		"X-Casegate-Loop: support.example.com",
		"Content-Type: multipart/report; report-type=delivery-status; boundary=x",
	} {
		if in := Parse([]byte("From: a@b\r\n" + h + "\r\n\r\nhi\r\n")); !in.Automatic || in.Why == "" {
			t.Errorf("%s: not automatic", h)
		}
	}
	if in := Parse([]byte("From: MAILER-DAEMON@mx.example\r\n\r\nhi\r\n")); !in.Automatic {
		t.Error("mailer-daemon not automatic")
	}
	if in := Parse([]byte("From: a@b\r\nAuto-Submitted: no\r\n\r\nhi\r\n")); in.Automatic {
		t.Error("Auto-Submitted: no is a person")
	}
}

// Real vacation auto-replies from the corpus are never acknowledged.
func TestCorpusAutoReplies(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpusDir(t), "sisimai-set-of-emails", "maildir", "bsd", "rfc3834-*.eml"))
	if len(files) == 0 {
		t.Fatal("corpus: no sisimai rfc3834-*.eml samples")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if in := Parse(raw); !in.Automatic {
			t.Errorf("%s: auto-reply not recognised", filepath.Base(f))
		}
	}
}

func TestSafeFilename(t *testing.T) {
	for in, want := range map[string]string{
		"../../etc/passwd":       "passwd",
		`C:\Users\x\report.pdf`:  "report.pdf",
		"a\x00b\r\nc.txt":        "abc.txt",
		"":                       "attachment",
		"..":                     "attachment",
		strings.Repeat("é", 300): strings.Repeat("é", 100),
	} {
		if got := SafeFilename(in); got != want {
			t.Errorf("SafeFilename(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitReplyBasics(t *testing.T) {
	text := "Thanks, that fixed it.\n\nAda\n\nOn Mon, 23 Nov 2026 at 09:00, Example Support <support@example.com> wrote:\n> Hello\n> try this\n"
	if got := SplitReply(text); got != "Thanks, that fixed it.\n\nAda" {
		t.Errorf("SplitReply = %q", got)
	}
	outlook := "Done.\r\n\r\n-----Original Message-----\r\nFrom: Support\r\nSent: Monday\r\n"
	if got := SplitReply(outlook); got != "Done." {
		t.Errorf("SplitReply(outlook) = %q", got)
	}
}
