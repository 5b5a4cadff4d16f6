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

// A text file kept in the charset it came in goes out as UTF-8, labelled
// so: go-message writes text only in UTF-8, and the reader must not see
// ISO-8859-1 bytes as something else.
func TestComposeTextFileInAnotherCharset(t *testing.T) {
	m := &Message{
		From:      mail.Address{Address: "support@example.com"},
		To:        []mail.Address{{Address: "staff@example.com"}},
		Subject:   "New case",
		MessageID: "y@example.com",
		Date:      time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		Text:      "A file came with it.\n",
		Attachments: []Attachment{
			{Filename: "protokoll.txt", ContentType: "text/plain; charset=iso-8859-1", Data: []byte("Z\xe4hler: 18.442\r\n")},
			{Filename: "odd.txt", ContentType: "text/plain; charset=x-nobody-knows", Data: []byte("\xe4\r\n")},
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
	want := map[string]struct {
		charset string
		data    string
	}{"protokoll.txt": {"utf-8", "Zähler: 18.442\r\n"}, "odd.txt": {"", "\xe4\r\n"}}
	seen := 0
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		h, ok := p.Header.(*mail.AttachmentHeader)
		if !ok {
			continue
		}
		name, _ := h.Filename()
		_, params, _ := h.ContentType()
		b, _ := io.ReadAll(p.Body)
		w := want[name]
		if params["charset"] != w.charset || string(b) != w.data {
			t.Errorf("%s: charset %q, bytes %q; want %q, %q", name, params["charset"], b, w.charset, w.data)
		}
		seen++
	}
	if seen != 2 {
		t.Errorf("%d attachments, want 2", seen)
	}
}
