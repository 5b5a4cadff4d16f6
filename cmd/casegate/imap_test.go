package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"casegate/internal/dovecottest"
	"casegate/internal/pgtest"
)

// `casegate serve` with an [[imap]] block files mail from a real Dovecot
// mailbox, acknowledges it, and moves it to Processed.
func TestServePollsIMAPMailbox(t *testing.T) {
	dbURL := pgtest.URL(t)
	dovecot := dovecottest.Start(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "imap-password"), []byte(dovecottest.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(testConfig, dbURL) + fmt.Sprintf(`
[[imap]]
name = "support"
address = %q
tls = "none"
username = %q
password_file = "imap-password"
`, dovecot.Addr, dovecottest.Username)
	path := filepath.Join(dir, "casegate.toml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
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
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("gateway did not stop")
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not start")
	}

	dovecot.Append(t, "INBOX", []byte("From: Ada <ada@customer.example>\r\nTo: support@support.example.com\r\n"+
		"Subject: Printer on fire\r\nMessage-ID: <imap-e2e-1@customer.example>\r\n\r\nMy printer is on fire.\r\n"))
	db := sqlx.MustOpen("postgres", dbURL)
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for count(t, db, `SELECT count(*) FROM messages WHERE source = 'imap:support/INBOX'`) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the IMAP message was not filed within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The acknowledgement, and the staff notification of the new case.
	acks := mailTo(t, waitMaildir(t, filepath.Join(dir, "maildir"), 2), "ada@customer.example")
	if subj := acks[0].Header.Get("Subject"); !strings.Contains(subj, "Printer on fire [#1000]") {
		t.Fatalf("acknowledgement subject = %q", subj)
	}
	deadline = time.Now().Add(30 * time.Second)
	for dovecot.Count(t, "Processed") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the message was not moved to Processed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Bad [[imap]] blocks stop the start with an error naming the key.
func TestIMAPConfigErrorsNameTheKey(t *testing.T) {
	base := fmt.Sprintf(testConfig, "postgres://localhost/x")
	cases := []struct{ block, want string }{
		{`address = "imap.example.com"` + "\nusername = \"u\"\npassword = \"p\"", "imap[0].address"},
		{`address = "imap.example.com:143"` + "\ntls = \"none\"\nusername = \"u\"\npassword = \"p\"", "imap[0].tls"},
		{`address = "imap.example.com:993"` + "\ntls = \"ssl\"\nusername = \"u\"\npassword = \"p\"", "imap[0].tls"},
		{`address = "imap.example.com:993"` + "\npassword = \"p\"", "imap[0].username"},
		{`address = "imap.example.com:993"` + "\nusername = \"u\"", "imap[0].password"},
		{`address = "imap.example.com:993"` + "\nusername = \"u\"\npassword_file = \"missing\"", "imap[0].password_file"},
		{`address = "imap.example.com:993"` + "\nusername = \"u\"\npassword = \"p\"\nafter = \"archive\"", "imap[0].after"},
		{`address = "imap.example.com:993"` + "\nusername = \"u\"\npassword = \"p\"\nmailboxes = [\"INBOX\", \"Processed\"]", "imap[0].move_to"},
		{`address = "imap.example.com:993"` + "\nusername = \"u\"\npassword = \"p\"\npoll_interval = \"10ms\"", "imap[0].poll_interval"},
		{`address = "imap.example.com:993"` + "\nusername = \"u\"\npassword = \"p\"\nconcurrency = -1", "imap[0].concurrency"},
		{`address = "imap.example.com:993"` + "\nusername = \"u\"\npassword = \"p\"\nfolder = \"x\"", "unknown key"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		path := filepath.Join(dir, "casegate.toml")
		os.WriteFile(path, []byte(base+"\n[[imap]]\n"+tc.block+"\n"), 0o600)
		_, err := loadConfig(path, func(string) string { return "" })
		var ce *configError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("block\n%s\ngave %v, want a configuration error naming %s", tc.block, err, tc.want)
		}
	}
	// Two accounts with the same name would share state and locks.
	dir := t.TempDir()
	path := filepath.Join(dir, "casegate.toml")
	block := "\n[[imap]]\naddress = \"127.0.0.1:143\"\ntls = \"none\"\nusername = \"u\"\npassword = \"p\"\n"
	os.WriteFile(path, []byte(base+block+block), 0o600)
	if _, err := loadConfig(path, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "imap[1].name") {
		t.Errorf("duplicate account names gave %v", err)
	}
	// A good block gets its defaults.
	os.WriteFile(path, []byte(base+block), 0o600)
	c, err := loadConfig(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	a := c.IMAP[0]
	if a.Name != "u" || a.After != "move" || a.MoveTo != "Processed" || a.QuarantineTo != "Quarantine" || len(a.Mailboxes) != 1 || a.Mailboxes[0] != "INBOX" {
		t.Errorf("defaults not applied: %+v", a)
	}
}
