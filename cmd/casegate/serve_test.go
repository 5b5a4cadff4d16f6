package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"
	"github.com/jmoiron/sqlx"

	"casegate"
	"casegate/internal/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(journalChildEnv) != "" {
		journalChild() // a child process of TestErrorLinesReachJournalWithPriority
		return
	}
	pgtest.Main(m)
}

// gateway is a casegate serving in-process, as `casegate serve` would, on a
// real database with outbound mail in a Maildir.
type gateway struct {
	addr    string     // the first SMTP listener
	addrs   []net.Addr // every bound address: SMTP, then LMTP and HTTP when configured
	maildir string
	db      *sqlx.DB
	stop    func() error
}

const testConfig = `
[database]
url = %q
[smtp]
listen = ["127.0.0.1:0"]
domains = ["support.example.com"]
max_message_bytes = 200000
[addresses]
support = "Example Support <support@support.example.com>"
pr = "pr@example.com"
staff = ["alice@example.com"]
[staff]
secret = "test-secret-0123456789"
[outbound]
maildir = "maildir"
`

func startGateway(t testing.TB, dbURL string) *gateway {
	t.Helper()
	return startGatewayWith(t, dbURL, "")
}

// startGatewayWith starts a gateway whose configuration is testConfig
// followed by extra (further TOML tables).
func startGatewayWith(t testing.TB, dbURL, extra string) *gateway {
	g, _ := runGateway(t, "", dbURL, fmt.Sprintf(testConfig, dbURL)+extra, nil)
	return g
}

// runGateway runs casegate serve in-process with the configuration conf
// (written to a file in dir, a test temporary directory when empty, and
// read as serve reads it) and, when now is not nil, on that clock. It
// stops the gateway when the test ends.
func runGateway(t testing.TB, dir, dbURL, conf string, now func() time.Time) (*gateway, *Config) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "casegate.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if now != nil {
		c.now = now
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan []net.Addr, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	go func() { done <- serve(ctx, c, log, ready) }()
	var addrs []net.Addr
	select {
	case addrs = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("gateway did not start")
	}
	db := sqlx.MustOpen("postgres", dbURL)
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("gateway did not stop")
		}
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		db.Close()
	})
	return &gateway{addr: addrs[0].String(), addrs: addrs, maildir: filepath.Join(dir, "maildir"), db: db, stop: stop}, c
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// send submits raw over SMTP as a real client does and returns the server's
// verdict (nil for 250).
func send(t *testing.T, addr, from string, to []string, raw string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.SendMail(from, to, strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")))
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// waitMaildir waits until dir/new holds n files and returns them parsed.
func waitMaildir(t *testing.T, dir string, n int) []*mail.Reader {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
		if len(files) == n {
			var out []*mail.Reader
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				r, err := mail.CreateReader(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("outbound mail does not parse: %v", err)
				}
				out = append(out, r)
			}
			return out
		}
		if len(files) > n || time.Now().After(deadline) {
			t.Fatalf("maildir has %d mails, want %d", len(files), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func bodyText(t *testing.T, r *mail.Reader) string {
	t.Helper()
	p, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(p.Body)
	return string(b)
}

// count runs a count query once the mail the filings so far decided has
// been rendered into the outbox (the composer works after the commit).
func count(t *testing.T, db *sqlx.DB, query string, args ...any) int {
	t.Helper()
	rendered(t, db)
	var n int
	if err := db.Get(&n, query, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// rendered waits until the running gateway's composer has rendered every
// intent committed so far into the outbox.
func rendered(t *testing.T, db *sqlx.DB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pending int
		if err := db.Get(&pending, `SELECT count(*) FROM intents WHERE rendered_at IS NULL`); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d intents still not rendered after 10s", pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const customerMail = `From: Ada Lovelace <ada@customer.example>
To: support@support.example.com
Subject: Printer on fire
Message-ID: <first-1@customer.example>
Date: Sun, 22 Nov 2026 10:00:00 +0000
Content-Type: text/plain; charset=utf-8

My printer is on fire. Please help.
`

func TestMailBecomesCaseAndIsAcknowledged(t *testing.T) {
	g := startGateway(t, pgtest.URL(t))
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, customerMail); err != nil {
		t.Fatalf("send: %v", err)
	}

	var c struct {
		ID       int64  `db:"id"`
		Subject  string `db:"subject"`
		Status   string `db:"status"`
		Customer string `db:"customer"`
	}
	if err := g.db.Get(&c, `SELECT id, subject, status, customer FROM cases`); err != nil {
		t.Fatal(err)
	}
	if c.Subject != "Printer on fire" || c.Status != "new" || c.Customer != "ada@customer.example" {
		t.Errorf("case = %+v", c)
	}
	var raw []byte
	g.db.Get(&raw, `SELECT raw FROM messages WHERE direction = 'inbound'`)
	if want := strings.ReplaceAll(customerMail, "\n", "\r\n"); string(raw) != want {
		t.Errorf("raw bytes not kept exactly:\n%q\nwant\n%q", raw, want)
	}

	acks := mailTo(t, waitMaildir(t, g.maildir, 2), "ada@customer.example") // and the staff notification
	h := acks[0].Header
	subject, _ := h.Subject()
	if want := fmt.Sprintf("Re: Printer on fire [#%d]", c.ID); subject != want {
		t.Errorf("ack subject = %q, want %q", subject, want)
	}
	to, _ := h.AddressList("To")
	if len(to) != 1 || to[0].Address != "ada@customer.example" {
		t.Errorf("ack To = %v", to)
	}
	if irt, _ := h.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "first-1@customer.example" {
		t.Errorf("ack In-Reply-To = %v", irt)
	}
	if refs, _ := h.MsgIDList("References"); len(refs) != 1 || refs[0] != "first-1@customer.example" {
		t.Errorf("ack References = %v", refs)
	}
	if v := h.Get("Auto-Submitted"); v != "auto-replied" {
		t.Errorf("ack Auto-Submitted = %q", v)
	}
	replyTo, _ := h.AddressList("Reply-To")
	if len(replyTo) != 1 || !strings.HasPrefix(replyTo[0].Address, fmt.Sprintf("support+%d-", c.ID)) {
		t.Errorf("ack Reply-To = %v, want the case's reply address", replyTo)
	}
	text := bodyText(t, acks[0])
	for _, want := range []string{fmt.Sprintf("case #%d", c.ID), "Printer on fire", `"status"`} {
		if !strings.Contains(text, want) {
			t.Errorf("ack text lacks %q:\n%s", want, text)
		}
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind IN ('opened', 'acknowledged')`, c.ID); n != 2 {
		t.Errorf("events opened+acknowledged = %d, want 2", n)
	}

	// The customer answers the acknowledgement from their client: the reply
	// goes to the Reply-To address, In-Reply-To the acknowledgement.
	ackID, _ := h.MessageID()
	reply := fmt.Sprintf(`From: Ada Lovelace <ada@customer.example>
To: %s
Subject: Re: Printer on fire [#%d]
Message-ID: <second-2@customer.example>
In-Reply-To: <%s>
References: <first-1@customer.example> <%s>

It is still burning.
`, replyTo[0].Address, c.ID, ackID, ackID)
	if err := send(t, g.addr, "ada@customer.example", []string{replyTo[0].Address}, reply); err != nil {
		t.Fatalf("send reply: %v", err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM cases`); n != 1 {
		t.Errorf("cases = %d after the reply, want 1", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE case_id = $1 AND direction = 'inbound'`, c.ID); n != 2 {
		t.Errorf("inbound messages on the case = %d, want 2", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM deliveries WHERE recipient = 'ada@customer.example'`); n != 1 {
		t.Errorf("mails to the customer = %d, want 1 (no second acknowledgement)", n)
	}

	// The same message delivered again (a lost 250, a second MX) files nothing.
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, customerMail); err != nil {
		t.Fatalf("resend: %v", err)
	}
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE direction = 'inbound'`); n != 2 {
		t.Errorf("inbound messages = %d after a re-delivery, want 2", n)
	}
	if n := count(t, g.db, `SELECT count(*) FROM deliveries WHERE recipient = 'ada@customer.example'`); n != 1 {
		t.Errorf("mails to the customer = %d after a re-delivery, want 1", n)
	}
	g.stop()
	waitMaildir(t, g.maildir, 3) // the acknowledgement, and staff told of both messages
}

func TestRecipientsAndSizeChecked(t *testing.T) {
	g := startGateway(t, pgtest.URL(t))
	for _, tc := range []struct {
		rcpt string
		code int
	}{
		{"someone@elsewhere.example", 550},             // not our domain: never an open relay
		{"postmaster@support.example.com", 550},        // our domain, no such mailbox
		{"support+1000-forged@support.example.com", 0}, // accepted; the forged token is ignored when threading
	} {
		err := send(t, g.addr, "x@customer.example", []string{tc.rcpt}, customerMail)
		if smtpCode(err) != tc.code {
			t.Errorf("RCPT %s: err = %v, want code %d", tc.rcpt, err, tc.code)
		}
	}
	big := customerMail + strings.Repeat("x", 78) + "\n"
	big = strings.Replace(big, "first-1", "big-1", 1) + strings.Repeat(strings.Repeat("y", 78)+"\n", 3000)
	if err := send(t, g.addr, "x@customer.example", []string{"support@support.example.com"}, big); smtpCode(err) != 552 {
		t.Errorf("oversize message: err = %v, want 552", err)
	}
	// The connection is still usable after a 552 and nothing was filed.
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE message_id = 'big-1@customer.example'`); n != 0 {
		t.Errorf("oversize message was filed")
	}
}

// With the database down the listener must answer 4xx, never 250 or 5xx;
// the sender's retry after it is back is filed exactly once.
func TestDatabaseDownGivesTemporaryFailure(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	admin := sqlx.MustOpen("postgres", cluster.URL("postgres"))
	admin.MustExec(`CREATE DATABASE casegate`)
	admin.Close()
	db := sqlx.MustOpen("postgres", cluster.URL("casegate"))
	if _, err := casegate.Migrate(context.Background(), db.DB); err != nil {
		t.Fatal(err)
	}
	db.Close()
	g := startGateway(t, cluster.URL("casegate"))

	// PostgreSQL stops while the message is being uploaded, so it is gone
	// exactly when DATA ends and filing begins.
	err := sendStoppingAtDataEnd(t, g.addr, customerMail, func() { cluster.Stop(t) })
	if code := smtpCode(err); code != 451 {
		t.Fatalf("with PostgreSQL down: err = %v, want a 4xx reply", err)
	}
	cluster.Start(t)
	// The client retries, possibly more than once.
	var lastErr error
	for i := 0; i < 50; i++ {
		if lastErr = send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, customerMail); lastErr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("after PostgreSQL is back: %v", lastErr)
	}
	send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, customerMail)
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE direction = 'inbound'`); n != 1 {
		t.Errorf("inbound messages = %d, want exactly 1", n)
	}
	waitMaildir(t, g.maildir, 2) // the acknowledgement and the staff notification
}

func TestServeRefusesUnmigratedDatabase(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "casegate.toml")
	os.WriteFile(path, []byte(fmt.Sprintf(testConfig, cluster.URL("postgres"))), 0o600)
	err := run(context.Background(), []string{"serve", "-config", path}, func(string) string { return "" }, io.Discard, io.Discard)
	if !errors.Is(err, casegate.ErrSchemaBehind) {
		t.Fatalf("serve on an empty database: %v, want ErrSchemaBehind", err)
	}
	var out bytes.Buffer
	for i := 0; i < 2; i++ { // idempotent
		out.Reset()
		if err := run(context.Background(), []string{"migrate", "-config", path}, func(string) string { return "" }, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(out.String(), "up to date") {
		t.Errorf("second migrate said %q", out.String())
	}
	db := sqlx.MustOpen("postgres", cluster.URL("postgres"))
	defer db.Close()
	// The same version with other server functions (functions.sql of
	// another build): serve refuses until migrate puts this binary's back.
	db.MustExec(`CREATE OR REPLACE FUNCTION casegate_case_state(want bigint) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$`)
	db.MustExec(`UPDATE schema_functions SET sha256 = 'another build'`)
	if err := casegate.CheckSchema(context.Background(), db.DB); !errors.Is(err, casegate.ErrSchemaBehind) {
		t.Errorf("other server functions: %v, want ErrSchemaBehind", err)
	}
	if err := run(context.Background(), []string{"migrate", "-config", path}, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := casegate.CheckSchema(context.Background(), db.DB); err != nil {
		t.Errorf("after migrate: %v", err)
	}
	var body string
	db.Get(&body, `SELECT prosrc FROM pg_proc WHERE proname = 'casegate_case_state'`)
	if !strings.Contains(body, "jsonb_build_object") {
		t.Errorf("migrate did not restore casegate_case_state: %s", body)
	}
	db.MustExec(`INSERT INTO schema_version (version) VALUES (9999)`)
	if err := casegate.CheckSchema(context.Background(), db.DB); !errors.Is(err, casegate.ErrSchemaAhead) {
		t.Errorf("newer schema: %v, want ErrSchemaAhead", err)
	}
}
