package mailout

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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

func TestMain(m *testing.M) { pgtest.Main(m) }

var update = flag.Bool("update", false, "rewrite golden files")

// relay is a real go-smtp server on loopback standing in for a smarthost,
// with failures the test chooses per recipient.
type relay struct {
	mu       sync.Mutex
	received []relayed
	fail     func(rcpt string) *smtp.SMTPError
	addr     string
	sessions int
}

type relayed struct {
	from, to string
	data     []byte
}

func startRelay(t *testing.T) *relay {
	t.Helper()
	r := &relay{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		r.mu.Lock()
		r.sessions++
		r.mu.Unlock()
		return &relaySession{r: r}, nil
	}))
	srv.Domain = "relay.test"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *relay) messages() []relayed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]relayed(nil), r.received...)
}

type relaySession struct {
	r        *relay
	from, to string
}

func (s *relaySession) Reset()        {}
func (s *relaySession) Logout() error { return nil }
func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.r.mu.Lock()
	fail := s.r.fail
	s.r.mu.Unlock()
	if fail != nil {
		if err := fail(to); err != nil {
			return err
		}
	}
	s.to = to
	return nil
}
func (s *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	s.r.received = append(s.r.received, relayed{s.from, s.to, b})
	s.r.mu.Unlock()
	return nil
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func testMessage(id string, to ...string) *Message {
	m := &Message{
		From:      mail.Address{Name: "Example Support", Address: "support@support.example.com"},
		Subject:   "Re: Printer on fire [#1042]",
		MessageID: id,
		InReplyTo: "first@customer.example",
		Auto:      AutoReplied,
		Loop:      "support.example.com",
		Date:      time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		Text:      "Hello Ada,\n\nyour case is #1042.\nGrüße\n",
	}
	for _, a := range to {
		m.To = append(m.To, mail.Address{Address: a})
	}
	return m
}

func enqueue(t *testing.T, db *sqlx.DB, now time.Time, m *Message) Queued {
	t.Helper()
	tx := db.MustBegin()
	q, err := Enqueue(context.Background(), tx, m, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return q
}

type delivery struct {
	Status    string `db:"status"`
	Attempts  int    `db:"attempts"`
	LastError string `db:"last_error"`
	Recipient string `db:"recipient"`
}

func deliveries(t *testing.T, db *sqlx.DB) map[string]delivery {
	t.Helper()
	var rows []delivery
	if err := db.Select(&rows, `SELECT status, attempts, last_error, recipient FROM deliveries`); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]delivery)
	for _, r := range rows {
		out[r.Recipient] = r
	}
	return out
}

func TestComposeGolden(t *testing.T) {
	m := testMessage("casegate.golden@support.example.com", "ada@customer.example")
	m.ReplyTo = []mail.Address{{Name: "Example Support", Address: "support+1042-abcdef012345@support.example.com"}}
	m.References = []string{"first@customer.example"}
	raw, err := Compose(m)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("composed mail has bare LF line endings")
	}
	golden := filepath.Join("testdata", "acknowledgement.golden")
	if *update {
		os.WriteFile(golden, raw, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(raw, want) {
		t.Errorf("composed mail differs from %s:\n%s", golden, raw)
	}
	// It parses back with a strict reader to the same text.
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(p.Body)
	if string(text) != strings.ReplaceAll(m.Text, "\n", "\r\n") {
		t.Errorf("text = %q", text)
	}
}

func TestSenderDeliversRetriesAndFails(t *testing.T) {
	db := pgtest.DB(t)
	r := startRelay(t)
	r.fail = func(rcpt string) *smtp.SMTPError {
		switch {
		case strings.HasPrefix(rcpt, "busy"):
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "try later"}
		case strings.HasPrefix(rcpt, "gone"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}
	c := &clock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	var failed []FailedDelivery
	s := NewSender(SenderOptions{
		DB:         db,
		Transport:  NewSmarthost(SmarthostOptions{Address: r.addr, TLS: "none", Timeout: 10 * time.Second}),
		Now:        c.Now,
		ReturnPath: func(id int64) string { return "bounces@support.example.com" },
		OnFailed:   func(d FailedDelivery) { failed = append(failed, d) },
	})
	m := testMessage("casegate.one@support.example.com", "ada@customer.example", "busy@customer.example", "gone@customer.example")
	q := enqueue(t, db, c.Now(), m)

	if n, err := s.RunOnce(context.Background()); err != nil || n != 3 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
	d := deliveries(t, db)
	if d["ada@customer.example"].Status != "sent" {
		t.Errorf("ada: %+v", d["ada@customer.example"])
	}
	if got := d["busy@customer.example"]; got.Status != "queued" || got.Attempts != 1 || !strings.Contains(got.LastError, "451") {
		t.Errorf("busy after 451: %+v", got)
	}
	if got := d["gone@customer.example"]; got.Status != "failed" || !strings.Contains(got.LastError, "550") {
		t.Errorf("gone after 550: %+v", got)
	}
	if len(failed) != 1 || failed[0].Recipient != "gone@customer.example" || failed[0].OutboxID != q.OutboxID {
		t.Errorf("OnFailed calls = %+v", failed)
	}

	// Not due yet: nothing is claimed. After the backoff, the retry succeeds
	// with exactly the recorded bytes.
	if n, _ := s.RunOnce(context.Background()); n != 0 {
		t.Errorf("claimed %d before the backoff ended", n)
	}
	r.mu.Lock()
	r.fail = nil
	r.mu.Unlock()
	c.Advance(Backoff(1))
	if n, _ := s.RunOnce(context.Background()); n != 1 {
		t.Fatalf("retry claimed %d, want 1", n)
	}
	msgs := r.messages()
	if len(msgs) != 2 || !bytes.Equal(msgs[0].data, msgs[1].data) {
		t.Fatalf("relay got %d messages; retry must send the same bytes", len(msgs))
	}
	if msgs[1].from != "bounces@support.example.com" || msgs[1].to != "busy@customer.example" {
		t.Errorf("envelope = %s → %s", msgs[1].from, msgs[1].to)
	}
	if !bytes.Contains(msgs[1].data, []byte("Message-Id: <casegate.one@support.example.com>")) {
		t.Errorf("Message-ID not kept:\n%s", msgs[1].data)
	}
}

func TestTemporaryFailureGivesUpAfterFiveDays(t *testing.T) {
	db := pgtest.DB(t)
	r := startRelay(t)
	r.fail = func(string) *smtp.SMTPError {
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "busy"}
	}
	c := &clock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	s := NewSender(SenderOptions{DB: db, Transport: NewSmarthost(SmarthostOptions{Address: r.addr, TLS: "none"}), Now: c.Now})
	enqueue(t, db, c.Now(), testMessage("casegate.two@support.example.com", "ada@customer.example"))
	for i := 0; i < 100; i++ {
		s.RunOnce(context.Background())
		if deliveries(t, db)["ada@customer.example"].Status == "failed" {
			break
		}
		c.Advance(4 * time.Hour)
	}
	got := deliveries(t, db)["ada@customer.example"]
	if got.Status != "failed" || got.Attempts < 5 {
		t.Errorf("after 5 days of 4xx: %+v", got)
	}
	if elapsed := c.Now().Sub(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)); elapsed < 5*24*time.Hour || elapsed > 6*24*time.Hour {
		t.Errorf("gave up after %v, want about 5 days", elapsed)
	}
}

// A sender that dies after claiming rows must not lose them: when the lease
// ends another sender delivers them.
func TestCrashedSenderLeaseExpires(t *testing.T) {
	db := pgtest.DB(t)
	r := startRelay(t)
	c := &clock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	enqueue(t, db, c.Now(), testMessage("casegate.three@support.example.com", "ada@customer.example"))
	// The crashed sender's claim, as RunOnce issues it, then nothing.
	var claimed []claimed
	if err := db.Select(&claimed, queries.Claim.SQL, c.Now(), c.Now().Add(10*time.Minute), 10); err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v, %d rows", err, len(claimed))
	}
	s := NewSender(SenderOptions{DB: db, Transport: NewSmarthost(SmarthostOptions{Address: r.addr, TLS: "none"}), Now: c.Now})
	if n, _ := s.RunOnce(context.Background()); n != 0 {
		t.Fatalf("a leased row was claimed twice")
	}
	c.Advance(10 * time.Minute)
	if n, _ := s.RunOnce(context.Background()); n != 1 {
		t.Fatalf("after the lease: claimed %d, want 1", n)
	}
	if len(r.messages()) != 1 {
		t.Errorf("relay got %d messages", len(r.messages()))
	}
}

// The relay does not offer STARTTLS: with the default mode casegate must
// not send in the clear, and the failure is temporary.
func TestSmarthostRequiresStartTLS(t *testing.T) {
	r := startRelay(t)
	h := NewSmarthost(SmarthostOptions{Address: r.addr})
	err := h.Deliver(context.Background(), Envelope{To: "ada@customer.example"}, []byte("Subject: x\r\n\r\nx\r\n"))
	if err == nil || IsPermanent(err) {
		t.Fatalf("Deliver without STARTTLS: %v, want a temporary error", err)
	}
	if len(r.messages()) != 0 {
		t.Error("mail was sent without TLS")
	}
}

func TestMaildir(t *testing.T) {
	dir := t.TempDir()
	m, err := NewMaildir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Deliver(context.Background(), Envelope{Key: "d1", To: "ada@customer.example"}, []byte("Subject: x\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
	tmp, _ := filepath.Glob(filepath.Join(dir, "tmp", "*"))
	if len(files) != 1 || len(tmp) != 0 {
		t.Fatalf("new=%d tmp=%d", len(files), len(tmp))
	}
	b, _ := os.ReadFile(files[0])
	if !strings.HasPrefix(string(b), "Return-Path: <>\r\nDelivered-To: ada@customer.example\r\nSubject: x") {
		t.Errorf("maildir file:\n%s", b)
	}
}

func TestBackoffAndPermanence(t *testing.T) {
	want := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour}
	for i, w := range want {
		if got := Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if Backoff(1000) != 4*time.Hour {
		t.Error("Backoff overflows")
	}
	if !IsPermanent(&smtp.SMTPError{Code: 554}) || IsPermanent(&smtp.SMTPError{Code: 452}) || IsPermanent(errors.New("connection reset")) {
		t.Error("IsPermanent misclassifies")
	}
}

// Deliveries run in parallel and reuse connections to the relay.
func TestSenderReusesConnections(t *testing.T) {
	db := pgtest.DB(t)
	r := startRelay(t)
	c := &clock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	for i := 0; i < 40; i++ {
		enqueue(t, db, c.Now(), testMessage(fmt.Sprintf("casegate.reuse%d@support.example.com", i), fmt.Sprintf("c%d@customer.example", i)))
	}
	s := NewSender(SenderOptions{DB: db, Transport: NewSmarthost(SmarthostOptions{Address: r.addr, TLS: "none"}), Now: c.Now, Parallel: 4})
	for i := 0; i < 3; i++ {
		s.RunOnce(context.Background())
	}
	if got := len(r.messages()); got != 40 {
		t.Fatalf("relay got %d messages, want 40", got)
	}
	r.mu.Lock()
	sessions := r.sessions
	r.mu.Unlock()
	if sessions > 4 {
		t.Errorf("%d connections for 40 mails with 4 in parallel: connections are not reused", sessions)
	}
	// Deliveries handed off at the same moment share their "sent" record's
	// statement; each is recorded all the same, so nothing goes twice.
	var sent int
	if err := db.Get(&sent, `SELECT count(*) FROM deliveries WHERE status = 'sent' AND sent_at IS NOT NULL`); err != nil || sent != 40 {
		t.Errorf("%d deliveries recorded as sent (%v), want 40", sent, err)
	}
	c.Advance(time.Hour) // past every lease
	if n, _ := s.RunOnce(context.Background()); n != 0 || len(r.messages()) != 40 {
		t.Errorf("a later run claimed %d deliveries and the relay has %d mails, want 0 and 40", n, len(r.messages()))
	}
}
