package mailout

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
)

// A mail with an HTML body is multipart/alternative, text first; with
// attachments too, multipart/mixed holding that alternative first. Both
// parse back part by part.
func TestComposeHTML(t *testing.T) {
	for _, files := range [][]Attachment{nil, {{Filename: "a.txt", ContentType: "text/plain", Data: []byte("file")}}} {
		m := &Message{
			From: mail.Address{Name: "Support", Address: "support@example.com"}, To: []mail.Address{{Address: "ada@example.com"}},
			Subject: "Grüße [#7]", MessageID: "x@example.com", Date: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
			Text: "Hello Ada,\nfixed.\n", HTML: "<p>Hello Ada,</p><p>fixed &amp; done.</p>\n", Attachments: files,
		}
		raw, err := Compose(m)
		if err != nil {
			t.Fatal(err)
		}
		r, err := mail.CreateReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		want := "multipart/alternative"
		if files != nil {
			want = "multipart/mixed"
		}
		if ct, _, _ := r.Header.ContentType(); ct != want {
			t.Errorf("Content-Type %s, want %s", ct, want)
		}
		var parts []string
		for {
			p, err := r.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(p.Body)
			switch h := p.Header.(type) {
			case *mail.InlineHeader:
				ct, _, _ := h.ContentType()
				parts = append(parts, ct+": "+string(b))
			case *mail.AttachmentHeader:
				name, _ := h.Filename()
				parts = append(parts, "attachment "+name)
			}
		}
		got := strings.Join(parts, "|")
		wantParts := "text/plain: Hello Ada,\r\nfixed.\r\n|text/html: <p>Hello Ada,</p><p>fixed &amp; done.</p>\r\n"
		if files != nil {
			wantParts += "|attachment a.txt"
		}
		if got != wantParts {
			t.Errorf("parts\n%q\nwant\n%q", got, wantParts)
		}
	}
}
