package mailin

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// writeAccounts writes a users file with the given login → password pairs.
func writeAccounts(t *testing.T, pairs ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# submission logins\n\n")
	for i := 0; i < len(pairs); i += 2 {
		h, err := HashPassword(pairs[i+1])
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(pairs[i] + ":" + h + "\n")
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadAccountsErrorsNameTheLine(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ text, want string }{
		{"alice@example.com\n", ":1: want login:bcrypt-hash"},
		{"# x\nalice@example.com:secret\n", ":2: alice@example.com: not a bcrypt hash"},
		{"a@x:$2a$04$4Nj6iFQY3HK6Mf3CMXz1N.ZbZsDQ9YtY1bYwJ5Y8m5nS7cFPf8m9a\nA@X:$2a$04$4Nj6iFQY3HK6Mf3CMXz1N.ZbZsDQ9YtY1bYwJ5Y8m5nS7cFPf8m9a\n", ":2: a@x is listed twice"},
	} {
		path := filepath.Join(dir, "users")
		os.WriteFile(path, []byte(tc.text), 0o600)
		if _, err := LoadAccounts(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// The submission listener (RFC 6409) with a real client: AUTH only after
// STARTTLS, required before MAIL; PLAIN and LOGIN against bcrypt hashes;
// the login proves the sender only when it is the From address; failed
// logins are limited per client address.
func TestSubmissionAuth(t *testing.T) {
	accounts, err := LoadAccounts(writeAccounts(t, "alice@example.com", "correct horse", "Bob@Example.com", "battery staple"))
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	cert := selfSigned(t)
	sub := &Submission{MaxAuthFailures: 3, AuthFailureWindow: time.Minute, Now: clock.Now}
	sub.SetAccounts(accounts)
	l := startListener(t, SMTPOptions{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, Submission: sub})
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	tlsConfig := &tls.Config{RootCAs: pool, ServerName: "casegate.test"}
	mail := func(from, id string) []byte {
		return crlf("From: " + from + "\nTo: support@support.example.com\nSubject: reply\nMessage-ID: <" + id + ">\n\nDone.\n")
	}
	login := func(src string, a sasl.Client) (*smtp.Client, error) {
		t.Helper()
		c, err := smtp.NewClientStartTLS(dialFrom(t, src, l.addr), tlsConfig)
		if err != nil {
			t.Fatalf("STARTTLS: %v", err)
		}
		if err := c.Auth(a); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}

	// In clear: no AUTH offered or accepted, and no mail without it.
	c, err := smtp.Dial(l.addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Errorf("AUTH offered before STARTTLS")
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Errorf("STARTTLS not offered")
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.com", "correct horse")); code(err) != 523 {
		t.Errorf("AUTH in clear: %v, want 523 (TLS required)", err)
	}
	if err := c.Mail("alice@example.com", nil); code(err) != 530 {
		t.Errorf("MAIL without AUTH: %v, want 530", err)
	}
	c.Close()
	// Over TLS but not logged in: still no mail.
	c, err = smtp.DialStartTLS(l.addr, tlsConfig)
	if err != nil {
		t.Fatal(err)
	}
	if ok, params := c.Extension("AUTH"); !ok || !strings.Contains(params, "PLAIN") || !strings.Contains(params, "LOGIN") {
		t.Errorf("AUTH after STARTTLS: %t %q, want PLAIN and LOGIN", ok, params)
	}
	if err := c.Mail("alice@example.com", nil); code(err) != 530 {
		t.Errorf("MAIL over TLS without AUTH: %v, want 530", err)
	}
	c.Close()

	// PLAIN as alice, From alice: the login proves the sender.
	c, err = login("127.0.0.1", sasl.NewPlainClient("", "alice@example.com", "correct horse"))
	if err != nil {
		t.Fatalf("PLAIN: %v", err)
	}
	if err := c.SendMail("alice@example.com", []string{"support@support.example.com"}, bytes.NewReader(mail("Alice <ALICE@example.com>", "sub-1@x"))); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if in := l.filer.lastInbound(); in.Auth.SMTPAuth != "alice@example.com" || in.Source != "submission" {
		t.Errorf("logged in as the From address: auth = %+v, source %q", in.Auth, in.Source)
	}
	// LOGIN as bob (any letter case), From alice: filed, proves nothing.
	c, err = login("127.0.0.1", sasl.NewLoginClient("bob@example.COM", "battery staple"))
	if err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	if err := c.SendMail("bob@example.com", []string{"support@support.example.com"}, bytes.NewReader(mail("alice@example.com", "sub-2@x"))); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if in := l.filer.lastInbound(); in.Auth.SMTPAuth != "" || !strings.Contains(in.Auth.Summary, "smtp.auth=bob@example.com (not the From address") {
		t.Errorf("logged in as someone else: auth = %+v", in.Auth)
	}
	// Acting as another identity (PLAIN authzid) is refused.
	if _, err := login("127.0.0.2", sasl.NewPlainClient("alice@example.com", "bob@example.com", "battery staple")); code(err) != 535 {
		t.Errorf("PLAIN with another authzid: %v, want 535", err)
	}

	// Failed logins: wrong password, unknown login, each 535; after three
	// the address gets 454 even with the right password, others do not;
	// after the window it may try again.
	for _, a := range []sasl.Client{
		sasl.NewPlainClient("", "alice@example.com", "wrong"),
		sasl.NewLoginClient("nobody@example.com", "correct horse"),
		sasl.NewPlainClient("", "alice@example.com", "Correct Horse"),
	} {
		if _, err := login("127.0.0.3", a); code(err) != 535 {
			t.Errorf("bad login: %v, want 535", err)
		}
	}
	if _, err := login("127.0.0.3", sasl.NewPlainClient("", "alice@example.com", "correct horse")); code(err) != 454 ||
		!strings.Contains(err.Error(), "Too many failed logins") {
		t.Errorf("fourth try from the same address: %v, want 454 4.7.0", err)
	}
	if c, err := login("127.0.0.4", sasl.NewPlainClient("", "alice@example.com", "correct horse")); err != nil {
		t.Errorf("another address meanwhile: %v", err)
	} else {
		c.Close()
	}
	clock.Add(61 * time.Second)
	if c, err := login("127.0.0.3", sasl.NewPlainClient("", "alice@example.com", "correct horse")); err != nil {
		t.Errorf("after the window: %v", err)
	} else {
		c.Close()
	}
	var n int
	l.db.Get(&n, `SELECT count(*) FROM messages WHERE source = 'submission'`)
	if n != 2 {
		t.Errorf("submitted messages filed = %d, want 2", n)
	}
}
