package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"
	"github.com/jmoiron/sqlx"

	"casegate/internal/pgtest"
)

// rejectingRelay is a real SMTP relay on loopback that refuses some
// recipients for good (550 5.1.1) and keeps what it accepts.
type rejectingRelay struct {
	reject map[string]bool
	mu     sync.Mutex
	got    map[string][]string // recipient → raw mails
}

func (r *rejectingRelay) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &rejectingSession{relay: r}, nil
}

type rejectingSession struct {
	relay *rejectingRelay
	rcpts []string
}

func (s *rejectingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *rejectingSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.relay.reject[strings.ToLower(to)] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	}
	s.rcpts = append(s.rcpts, strings.ToLower(to))
	return nil
}
func (s *rejectingSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.relay.mu.Lock()
	defer s.relay.mu.Unlock()
	for _, rcpt := range s.rcpts {
		s.relay.got[rcpt] = append(s.relay.got[rcpt], string(b))
	}
	return nil
}
func (s *rejectingSession) Reset()        { s.rcpts = nil }
func (s *rejectingSession) Logout() error { return nil }

func (r *rejectingRelay) mails(addr string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got[addr]...)
}

// A customer address that does not exist: the acknowledgement fails for
// good and staff get one notice naming the case, the address and the
// relay's answer. Staff mail that fails (bob's mailbox is gone too) causes
// no notice: notices never feed notices.
func TestDeliveryFailureNoticeToStaff(t *testing.T) {
	relay := &rejectingRelay{reject: map[string]bool{"nobody@customer.example": true, "bob@example.com": true}, got: map[string][]string{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(relay)
	srv.Domain = "relay.test"
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	dbURL := pgtest.URL(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "casegate.toml")
	cfg := strings.Replace(fmt.Sprintf(testConfig, dbURL), `maildir = "maildir"`, fmt.Sprintf("smarthost = %q\nstarttls = false", l.Addr().String()), 1)
	cfg = strings.Replace(cfg, `staff = ["alice@example.com"]`, `staff = ["alice@example.com", "bob@example.com"]`, 1)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan []net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, c, slog.New(slog.NewTextHandler(testWriter{t}, nil)), ready) }()
	var addr string
	select {
	case a := <-ready:
		addr = a[0].String()
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("gateway did not stop")
		}
	})

	raw := "From: Nobody <nobody@customer.example>\nTo: support@support.example.com\nSubject: Help\nMessage-ID: <nobody-1@customer.example>\n\nHello?\n"
	if err := send(t, addr, "nobody@customer.example", []string{"support@support.example.com"}, raw); err != nil {
		t.Fatal(err)
	}
	// Alice gets the new-case notification and then the failure notice.
	deadline := time.Now().Add(20 * time.Second)
	var notice *mail.Reader
	for notice == nil {
		for _, m := range relay.mails("alice@example.com") {
			r, err := mail.CreateReader(strings.NewReader(m))
			if err != nil {
				t.Fatalf("notice does not parse: %v", err)
			}
			// On the case's staff thread: the case's subject, and the news
			// in the first line.
			if subject, _ := r.Header.Subject(); subject == "[#1000] Help" && strings.Contains(m, "could not be delivered") {
				notice = r
			}
		}
		if notice == nil && time.Now().After(deadline) {
			t.Fatalf("no failure notice to alice; she got %d mails", len(relay.mails("alice@example.com")))
		}
		time.Sleep(20 * time.Millisecond)
	}
	text := bodyText(t, notice)
	for _, want := range []string{"Recipient:  nobody@customer.example", "no such user here", "casegate outbox retry"} {
		if !strings.Contains(text, want) {
			t.Errorf("notice lacks %q:\n%s", want, text)
		}
	}
	if v := notice.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("notice Auto-Submitted = %q", v)
	}
	db := sqlx.MustOpen("postgres", dbURL)
	defer db.Close()
	// Every delivery to bob failed too (the notification and the notice),
	// yet exactly one notice exists: for the customer's acknowledgement.
	for deadline := time.Now().Add(20 * time.Second); count(t, db, `SELECT count(*) FROM deliveries WHERE recipient = 'bob@example.com' AND status = 'failed'`) != 2; {
		if time.Now().After(deadline) {
			t.Fatal("the deliveries to bob did not both fail")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a notice about bob would be queued by now
	if n := count(t, db, `SELECT count(*) FROM delivery_failure_notices`); n != 1 {
		t.Errorf("failure notices = %d, want 1", n)
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE kind = 'delivery-failed'`); n != 1 {
		t.Errorf("delivery-failed events = %d, want 1", n)
	}
}
