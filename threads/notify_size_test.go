package threads

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
)

// A customer's huge attachment stays with the case; staff are told of it
// and get the small ones.
func TestNotificationForwardsAttachmentsUpToALimit(t *testing.T) {
	s, db, _ := newStore(t)
	s.opts.StaffAddresses = []string{"alice@example.com"}
	s.Reload(Settings{Templates: s.opts.Templates, Staff: s.opts.StaffAddresses})
	in := inbound("big@x", "ada@customer.example", "Logs", "see attached")
	in.Attachments = []Attachment{
		{Filename: "small.txt", ContentType: "text/plain", Data: []byte("tiny")},
		{Filename: "huge.bin", ContentType: "application/octet-stream", Data: bytes.Repeat([]byte{7}, notificationAttachmentBytes+1)},
	}
	if _, err := s.File(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if err := db.Get(&raw, `SELECT o.raw FROM outbox o JOIN deliveries d ON d.outbox_id = o.id WHERE d.recipient = 'alice@example.com'`); err != nil {
		t.Fatal(err)
	}
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var text string
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		if h, ok := p.Header.(*mail.AttachmentHeader); ok {
			name, _ := h.Filename()
			names = append(names, name)
			continue
		}
		b := new(bytes.Buffer)
		b.ReadFrom(p.Body)
		text += b.String()
	}
	if strings.Join(names, ",") != "small.txt" {
		t.Errorf("forwarded attachments = %v, want only small.txt", names)
	}
	if !strings.Contains(text, "huge.bin") || !strings.Contains(text, "not forwarded") {
		t.Errorf("notification does not tell of the large attachment:\n%s", text)
	}
	if len(raw) > 1<<20 {
		t.Errorf("notification is %d bytes", len(raw))
	}
}
