package mailin

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSplitReplyTalon measures SplitReply on mailgun/talon's reply fixtures
// (Apache-2.0; see the corpus README) the way talon's own tests do: the
// standard replies through the real Parse path must leave "Hello" (or the
// text of the fixture's _reply_text file), the HTML replies "Hi. I am fine.
// Thanks, Alex" compared without white space. Every fixture must pass.
func TestSplitReplyTalon(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "mailgun-talon", "tests", "fixtures")
	emls, _ := filepath.Glob(filepath.Join(dir, "standard_replies", "*.eml"))
	htmls, _ := filepath.Glob(filepath.Join(dir, "html_replies", "*.html"))
	if len(emls) < 10 || len(htmls) < 8 {
		t.Fatalf("talon fixtures missing in %s: %d replies, %d HTML replies", dir, len(emls), len(htmls))
	}
	passed := 0
	for _, f := range emls {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want := "Hello"
		if b, err := os.ReadFile(strings.TrimSuffix(f, ".eml") + "_reply_text"); err == nil {
			want = string(b)
		}
		got := Parse(raw).NewText
		if normaliseLines(got) == normaliseLines(want) {
			passed++
		} else {
			t.Errorf("%s: NewText = %q, want %q", filepath.Base(f), got, want)
		}
	}
	space := regexp.MustCompile(`\s+`)
	for _, f := range htmls {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got := SplitReply(htmlToText(string(raw)))
		if space.ReplaceAllString(got, "") == "Hi.Iamfine.Thanks,Alex" {
			passed++
		} else {
			t.Errorf("%s: SplitReply(htmlToText) = %q, want \"Hi. I am fine. Thanks, Alex\"", filepath.Base(f), got)
		}
	}
	t.Logf("quote stripping on talon's replies: %d/%d correct", passed, len(emls)+len(htmls))
}

func normaliseLines(s string) string {
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n")
}

func TestSplitReply(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"no quote", "Printer on fire.\n\nAda", "Printer on fire.\n\nAda"},
		{"casegate notification", "Done, refunded.\n\n-- Reply above this line --\nCase #1042: Printer on fire\n> customer text", "Done, refunded."},
		{"casegate notification hashes", "Thanks\n\n##- Please type your reply above this line -##\nCase #7", "Thanks"},
		{"gmail", "Yes.\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Megan <m@example.com> wrote:\n\n> Hi", "Yes."},
		{"gmail wrapped attribution", "Yes.\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Megan One <\nxxx@gmail.com> wrote:\n> Hi", "Yes."},
		{"german", "Ja.\n\nAm 02.04.2012 um 18:26 schrieb Megan <m@example.com>:\n> Hi", "Ja."},
		{"outlook original message", "OK\n\n-----Original Message-----\nFrom: a@b.c\nSent: Monday\n\nHi", "OK"},
		{"outlook header block", "OK\n\nFrom: Ada [mailto:a@b.c]\nSent: Monday, April 2, 2012\nTo: Support\nSubject: Re: x\n\nHi", "OK"},
		{"outlook bold header block", "OK\n\n*From:* Ada\n*Sent:* Monday\n*To:* Support\n\nHi", "OK"},
		{"outlook web", "OK\n\n________________________________\nFrom: Ada\nSent: Monday", "OK"},
		{"apple mail quoted attribution", "Hello\n> On 22 Aug 2015, at 19:21, Adam <a@b.c> wrote:\n>\n> Hi there!", "Hello"},
		{"bottom posting", "On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi\nHello", "Hello"},
		{"signature kept", "Hello\n\n-- \nAda\n\nOn Tue, Apr 3, 2012 at 4:55 PM, x wrote:\n> Hi", "Hello\n\n-- \nAda"},
		{"from in prose is not a quote", "From: my account page I cannot log in.\nPlease help.", "From: my account page I cannot log in.\nPlease help."},
		{"wrote in prose is not a quote", "On Monday I wrote to you about the printer.\nStill broken.", "On Monday I wrote to you about the printer.\nStill broken."},
		{"signature underscores are not a quote", "See attached.\n--\n______________\nLon Peters\n503-203-1539", "See attached.\n--\n______________\nLon Peters\n503-203-1539"},
		{"CRLF", "Hi\r\n\r\nOn Mon, Apr 2, 2012, Megan <m@example.com> wrote:\r\n> x", "Hi"},
	}
	for _, tt := range tests {
		if got := SplitReply(tt.in); got != tt.want {
			t.Errorf("%s: SplitReply = %q, want %q", tt.name, got, tt.want)
		}
	}
}
