package threads_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"casegate/internal/pgtest"
	"casegate/mailin"
	"casegate/mailout"
	"casegate/templates"
	"casegate/threads"
	"casegate/vocab"
)

// A customer's huge attachment stays with the case; staff are told of it
// and get the small ones. The notification refers to the stored message
// and is rendered after the commit, reading the attachments from the
// message's raw bytes again with mailin's parser, as the gateway does.
func TestNotificationForwardsAttachmentsUpToALimit(t *testing.T) {
	db := pgtest.DB(t)
	tpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	s, err := threads.NewStore(threads.Options{
		DB: db, Templates: tpl, Secret: []byte("test-secret-0123456789"),
		Support:        mail.Address{Name: "Example Support", Address: "support@support.example.com"},
		StaffAddresses: []string{"alice@example.com"},
		Attachments:    func(raw []byte) []vocab.Attachment { return mailin.Parse(raw).Attachments },
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := mailout.Compose(&mailout.Message{
		From: mail.Address{Name: "Ada", Address: "ada@customer.example"}, To: []mail.Address{{Address: "support@support.example.com"}},
		Subject: "Logs", MessageID: "big@customer.example", Date: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), Text: "see attached",
		Attachments: []mailout.Attachment{
			{Filename: "small.txt", ContentType: "text/plain", Data: []byte("tiny")},
			{Filename: "huge.bin", ContentType: "application/octet-stream", Data: bytes.Repeat([]byte{7}, 10<<20+1)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	in := mailin.Parse(raw)
	in.Source, in.Recipients = "test", []string{"support@support.example.com"}
	if _, err := s.File(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ComposeOnce(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	var notification []byte
	if err := db.Get(&notification, `SELECT o.raw FROM outbox o JOIN deliveries d ON d.outbox_id = o.id WHERE d.recipient = 'alice@example.com'`); err != nil {
		t.Fatal(err)
	}
	r, err := mail.CreateReader(bytes.NewReader(notification))
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
	if len(notification) > 1<<20 {
		t.Errorf("notification is %d bytes", len(notification))
	}
}
