package threads

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"casegate/internal/pgtest"
	"casegate/templates"
	"casegate/vocab"
)

// BenchmarkStaffReply files authorised staff replies, each with a command
// and a relayed text: the cost of one staff action in one transaction.
func BenchmarkStaffReply(b *testing.B) {
	tpl, err := templates.Load("")
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewStore(Options{
		DB:             pgtest.DB(b),
		Templates:      tpl,
		Support:        mail.Address{Name: "Example Support", Address: "support@support.example.com"},
		Secret:         []byte("test-secret-0123456789"),
		StaffAddresses: []string{"alice@example.com"},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	f, err := s.File(ctx, inbound("first@x", "ada@customer.example", "Help", "My printer is on fire."))
	if err != nil {
		b.Fatal(err)
	}
	priorities := []string{"low", "normal", "high", "urgent"}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		body := fmt.Sprintf("#priority %s\n\nHello Ada, attempt %d.", priorities[i%4], i)
		in := inbound(fmt.Sprintf("staff-%d@x", i), "alice@example.com", "Re: Help", body)
		sum := sha256.Sum256([]byte(body))
		in.BodySHA256 = sum[:]
		in.Recipients = []string{s.ReplyAddress(f.Case, vocab.RoleStaff)}
		in.Auth.Trusted = true
		if _, err := s.File(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "replies/s")
}
