package dovecottest

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Deliver puts messages straight into the Maildir of mailbox, as a local
// delivery agent does (written to tmp/, renamed into new/), without IMAP:
// seeding 10,000 messages takes a second instead of a minute of APPENDs.
// Dovecot gives them UIDs when a client next opens the mailbox.
func (s *Server) Deliver(t testing.TB, mailbox string, messages ...[]byte) {
	t.Helper()
	if err := s.deliver(mailbox, messages); err != nil {
		t.Fatalf("dovecottest: deliver: %v", err)
	}
}

func (s *Server) deliver(mailbox string, messages [][]byte) error {
	// Mail belongs to the user Dovecot accesses it as (see writeConfig).
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			return err
		}
		uid, _ = strconv.Atoi(nobody.Uid)
		gid, _ = strconv.Atoi(nobody.Gid)
	}
	// passwd-file does not expand the home field: it is literally "%u".
	home := filepath.Join(s.Dir, "home", "%u")
	dir := filepath.Join(home, "Maildir")
	if mailbox != "INBOX" {
		dir = filepath.Join(dir, "."+mailbox) // Maildir++ folder
	}
	made := []string{home, filepath.Join(home, "Maildir")}
	for _, sub := range []string{"", "cur", "new", "tmp"} {
		made = append(made, filepath.Join(dir, sub))
	}
	for _, d := range made {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		if uid >= 0 {
			if err := os.Chown(d, uid, gid); err != nil {
				return err
			}
		}
	}
	if mailbox != "INBOX" {
		marker := filepath.Join(dir, "maildirfolder")
		if err := os.WriteFile(marker, nil, 0o600); err != nil {
			return err
		}
		if uid >= 0 {
			if err := os.Chown(marker, uid, gid); err != nil {
				return err
			}
		}
	}
	now := time.Now()
	for i, m := range messages {
		// A unique name in Maildir form: <time>.M<µs>P<pid>Q<n>.<host>
		name := fmt.Sprintf("%d.M%dP%dQ%d.dovecottest,S=%d", now.Unix(), now.Nanosecond()/1000, os.Getpid(), i, len(m))
		tmp := filepath.Join(dir, "tmp", name)
		if err := os.WriteFile(tmp, m, 0o600); err != nil {
			return err
		}
		if uid >= 0 {
			if err := os.Chown(tmp, uid, gid); err != nil {
				return err
			}
		}
		if err := os.Rename(tmp, filepath.Join(dir, "new", name)); err != nil {
			return err
		}
	}
	return nil
}
