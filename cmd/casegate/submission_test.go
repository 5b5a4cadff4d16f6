package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"casegate/internal/gatewaytest"
	"casegate/internal/testcert"
	"casegate/mailin"
)

// writeTestCert writes a self-signed certificate for casegate.test and its
// key into dir as cert.pem and key.pem, and returns a client TLS config
// that trusts it.
func writeTestCert(t *testing.T, dir string) *tls.Config {
	t.Helper()
	c := testcert.New(t)
	for name, b := range map[string][]byte{"cert.pem": c.CertPEM, "key.pem": c.KeyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c.ClientConfig()
}

// hashPasswordLine runs `casegate hash-password LOGIN` with password on its
// first input line, as an admin would, and returns the printed line.
func hashPasswordLine(t *testing.T, login, password string) string {
	t.Helper()
	in := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(in, []byte(password+"\n"), 0o600)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"hash-password", "-from", in, login}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("hash-password: %v %s", err, errOut.String())
	}
	return out.String()
}

// Issue 15, item 3: SMTP AUTH as staff proof, for real. Staff reply through
// the submission listener: STARTTLS, then AUTH against the users file that
// `casegate hash-password` writes. A login as the From address is proof of
// the staff sender (commands applied, text relayed); a login as someone
// else is not; no AUTH in clear, no mail without AUTH; repeated failed
// logins are refused for a while; a reload picks up a changed users file.
func TestStaffRepliesThroughSubmission(t *testing.T) {
	dir := shortTempDir(t, "cg-sub-")
	clientTLS := writeTestCert(t, dir)
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte(hashPasswordLine(t, "Alice@Example.com", "correct horse")+hashPasswordLine(t, "bob@example.com", "battery staple")), 0o600)
	if a, err := mailin.LoadAccounts(users); err != nil || a.Len() != 2 {
		t.Fatalf("hash-password output does not load: %v", err)
	}
	g := startServiceConf(t, func(dbURL string) string {
		conf := strings.Replace(fmt.Sprintf(staffTestConfig, dbURL, ""), "domains = [\"support.example.com\"]\n",
			fmt.Sprintf("domains = [\"support.example.com\"]\ntls_cert = %q\ntls_key = %q\n", filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")), 1)
		return conf + fmt.Sprintf("[submission]\nlisten = [\"127.0.0.1:0\"]\nusers_file = %q\nmax_auth_failures = 3\n[http]\nlisten = \"127.0.0.1:0\"\n", users)
	}, nil)
	submission := g.addrs[1].String()
	gw := &gateway{addr: g.smtp(), db: g.db}
	box := gatewaytest.NewOutbox(g.db)
	caseID, token, parent := openCaseFor(t, gw, box, "ada@customer.example")
	dialFrom := func(src string) *smtp.Client {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
		conn, err := d.Dial("tcp", submission)
		if err != nil {
			t.Fatal(err)
		}
		c, err := smtp.NewClientStartTLS(conn, clientTLS)
		if err != nil {
			t.Fatalf("STARTTLS: %v", err)
		}
		return c
	}
	submit := func(login, password, from, id, body string) error {
		t.Helper()
		c := dialFrom("127.0.0.1")
		defer c.Close()
		if err := c.Auth(sasl.NewPlainClient("", login, password)); err != nil {
			return err
		}
		return c.SendMail(login, []string{token}, strings.NewReader(strings.ReplaceAll(gatewaytest.StaffReply(from, token, parent, caseID, id, body), "\n", "\r\n")))
	}

	// Bob logs in and writes as Alice: filed, nothing applied, staff told.
	if err := submit("bob@example.com", "battery staple", "Alice Example <alice@example.com>", "BOB", "#priority urgent\n\nRefund approved."); err != nil {
		t.Fatal(err)
	}
	if c := gatewaytest.GetCase(t, g.db, caseID); c.Priority != "normal" {
		t.Errorf("a login as someone else counted as proof: %+v", c)
	}
	notice := box.Expect(t, "alice@example.com,bob@example.com")["alice@example.com,bob@example.com"]
	if !strings.Contains(notice.Text, "Not accepted as staff") {
		t.Errorf("notice: %q\n%s", notice.Subject, notice.Text)
	}
	// Alice logs in as herself: her reply is staff's.
	if err := submit("alice@example.com", "correct horse", "Alice Example <alice@example.com>", "ALICE", "#priority urgent\n\nHello Ada, we are on it."); err != nil {
		t.Fatal(err)
	}
	if c := gatewaytest.GetCase(t, g.db, caseID); c.Priority != "urgent" || c.Status != "open" {
		t.Errorf("Alice's authenticated reply not applied: %+v", c)
	}
	if m := box.Expect(t, "ada@customer.example")["ada@customer.example"]; m.Text != gatewaytest.RelayedText(caseID, "Hello Ada, we are on it.") {
		t.Errorf("relayed %q", m.Text)
	}
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE source = 'submission' AND auth_summary LIKE 'smtp.auth=%'`); n != 2 {
		t.Errorf("submitted messages with their login = %d, want 2", n)
	}

	// In clear: AUTH is refused and MAIL needs it.
	c, err := smtp.Dial(submission)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.com", "correct horse")); smtpCode(err) != 523 {
		t.Errorf("AUTH before STARTTLS: %v, want 523", err)
	}
	if err := c.Mail("alice@example.com", nil); smtpCode(err) != 530 {
		t.Errorf("MAIL without AUTH: %v, want 530", err)
	}
	c.Close()
	// Guessing: three failures, then even the right password is refused.
	for i := 0; i < 3; i++ {
		if err := submit("alice@example.com", fmt.Sprint("guess", i), "alice@example.com", "G", "x"); smtpCode(err) != 535 {
			t.Errorf("wrong password: %v, want 535", err)
		}
	}
	if err := submit("alice@example.com", "correct horse", "alice@example.com", "G", "x"); smtpCode(err) != 454 {
		t.Errorf("after three failures: %v, want 454", err)
	}

	// A changed users file takes effect on SIGHUP (Bob's new password).
	os.WriteFile(users, []byte(hashPasswordLine(t, "bob@example.com", "new password")), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	g.waitMetric(t, `casegate_config_reloads_total{result="ok"}`, 1)
	// (From another address: 127.0.0.1 is out of tries, reload or not.)
	c = dialFrom("127.0.0.2")
	if err := c.Auth(sasl.NewPlainClient("", "bob@example.com", "battery staple")); smtpCode(err) != 535 {
		t.Errorf("the old password after the reload: %v, want 535", err)
	}
	c.Close()
	c = dialFrom("127.0.0.2")
	if err := c.Auth(sasl.NewPlainClient("", "bob@example.com", "new password")); err != nil {
		t.Errorf("the new password after the reload: %v", err)
	}
	c.Close()
	c = dialFrom("127.0.0.1")
	if err := c.Auth(sasl.NewPlainClient("", "bob@example.com", "new password")); smtpCode(err) != 454 {
		t.Errorf("the address out of tries, after the reload: %v, want 454 still", err)
	}
	c.Close()
}

// `casegate hash-password` prints a users-file line; bad input is a usage
// error (exit 2) that says why.
func TestHashPasswordCommand(t *testing.T) {
	line := hashPasswordLine(t, "Carol@Example.com", "s3cret with spaces")
	login, hash, ok := strings.Cut(strings.TrimSpace(line), ":")
	if !ok || login != "carol@example.com" || !strings.HasPrefix(hash, "$2a$10$") {
		t.Errorf("hash-password printed %q", line)
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	for _, args := range [][]string{
		{"hash-password", "-from", empty},
		{"hash-password", "-from", empty, "a:b"},
		{"hash-password", "-from", filepath.Join(dir, "missing")},
	} {
		err := run(context.Background(), args, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{})
		wantExit(t, err, 2, strings.Join(args, " "))
	}
}
