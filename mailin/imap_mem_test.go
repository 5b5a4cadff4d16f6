package mailin

import (
	"log"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// A fast check, with go-imap's in-memory server, of what Dovecot cannot
// show: a server with neither IDLE nor MOVE nor UIDPLUS. The poller then
// polls at PollInterval, and "moves" by COPY and flags, never by a plain
// EXPUNGE that would also remove mail someone else flagged \Deleted.
func TestIMAPWithoutIdleMoveOrUIDPlus(t *testing.T) {
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("support@example.com", "secret")
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
		Logger:       log.New(testWriter{t}, "", 0),
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	c, err := imapclient.DialInsecure(l.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login("support@example.com", "secret").Wait(); err != nil {
		t.Fatal(err)
	}
	appendMsg := func(raw []byte, flags ...imap.Flag) {
		cmd := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Flags: flags})
		cmd.Write(raw)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	count := func(mailbox string) int {
		st, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			return 0
		}
		return int(*st.NumMessages)
	}
	// Someone's message, already flagged \Deleted but not expunged.
	appendMsg(testMessage(1, "mem"), imap.FlagDeleted)
	appendMsg(testMessage(2, "mem"))

	e := &imapEnv{db: pgtestDB(t)}
	e.store = newTestStore(t, e.db)
	opts := IMAPOptions{
		Name:         "mem",
		Address:      l.Addr().String(),
		TLS:          TLSNone,
		Username:     "support@example.com",
		Password:     "secret",
		PollInterval: time.Second,
		LockRetry:    200 * time.Millisecond,
		MinBackoff:   50 * time.Millisecond,
		DB:           e.db,
		Filer:        e.store,
		Logger:       testLogger(t, 0),
	}
	startPoller(t, opts)
	waitFor(t, 30*time.Second, "two messages filed", func() bool { return countInbound(t, e.db) == 2 })
	appendMsg(testMessage(3, "mem")) // no IDLE: found by the next poll
	waitFor(t, 30*time.Second, "the third message filed by polling", func() bool { return countInbound(t, e.db) == 3 })
	waitFor(t, 30*time.Second, "copies in Processed", func() bool { return count("Processed") == 3 })
	if n := count("INBOX"); n != 3 {
		t.Fatalf("INBOX has %d messages, want 3: without UIDPLUS nothing may be expunged", n)
	}
	assertExactlyOnce(t, e.db, 3)
}
