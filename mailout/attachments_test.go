package mailout

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
)

// A mail with attachments must come back from a MIME parser with the same
// text and the same bytes; one without keeps the single-part form.
func TestComposeAttachments(t *testing.T) {
	m := &Message{
		From:      mail.Address{Name: "Support", Address: "support@example.com"},
		To:        []mail.Address{{Address: "ada@customer.example"}},
		Subject:   "Re: Printer [#1042]",
		MessageID: "x@example.com",
		Date:      time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		Text:      "See the manual.\nLine two: grüße\n",
		Attachments: []Attachment{
			{Filename: "manual.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4\x00\xff binary")},
			{Filename: "Straße plan.txt", ContentType: "text/plain", Data: []byte("plan\r\n")},
		},
	}
	raw, err := Compose(m)
	if err != nil {
		t.Fatal(err)
	}
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if ct, _, _ := r.Header.ContentType(); ct != "multipart/mixed" {
		t.Errorf("Content-Type = %q, want multipart/mixed", ct)
	}
	var text string
	var files []Attachment
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
			text = strings.ReplaceAll(string(b), "\r\n", "\n")
		case *mail.AttachmentHeader:
			name, _ := h.Filename()
			ct, _, _ := h.ContentType()
			files = append(files, Attachment{Filename: name, ContentType: ct, Data: b})
		}
	}
	if text != m.Text {
		t.Errorf("text = %q, want %q", text, m.Text)
	}
	if len(files) != 2 {
		t.Fatalf("attachments = %d, want 2", len(files))
	}
	for i, f := range files {
		w := m.Attachments[i]
		if f.Filename != w.Filename || f.ContentType != w.ContentType || !bytes.Equal(f.Data, w.Data) {
			t.Errorf("attachment %d = %q %q %q, want %q %q %q", i, f.Filename, f.ContentType, f.Data, w.Filename, w.ContentType, w.Data)
		}
	}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line over 998 characters: %.60q…", line)
		}
	}

	m.Attachments = nil
	raw, err = Compose(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("Content-Type: text/plain; charset=utf-8\r\n")) || bytes.Contains(raw, []byte("multipart")) {
		t.Errorf("single-part mail changed form:\n%s", raw)
	}
}
