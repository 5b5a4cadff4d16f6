package mailin

import (
	"bytes"
	"casegate/vocab"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"casegate"
	"casegate/internal/dovecottest"
	"casegate/internal/pgtest"
	"casegate/templates"
	"casegate/threads"
)

// imapEnv is a real Dovecot and a real database with a threads.Store.
type imapEnv struct {
	url     string // of db
	dovecot *dovecottest.Server
	db      *sqlx.DB
	store   *threads.Store
}

func newIMAPEnv(t *testing.T) *imapEnv {
	t.Helper()
	url := pgtest.URL(t)
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := newIMAPEnvDB(t, db)
	e.url = url
	return e
}

func newIMAPEnvDB(t *testing.T, db *sqlx.DB) *imapEnv {
	t.Helper()
	return &imapEnv{dovecot: dovecottest.Start(t), db: db, store: newTestStore(t, db)}
}

func pgtestDB(t *testing.T) *sqlx.DB { return pgtest.DB(t) }

// newTestStore is the real threads.Store the SMTP listener uses too.
func newTestStore(t *testing.T, db *sqlx.DB) *threads.Store {
	t.Helper()
	tpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	store, err := threads.NewStore(threads.Options{
		DB:        db,
		Templates: tpl,
		Support:   mail.Address{Name: "Example Support", Address: "support@support.example.com"},
		Secret:    []byte("test-secret-0123456789"),
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// options are fast-retrying options for the test account.
func (e *imapEnv) options(t *testing.T) IMAPOptions {
	return IMAPOptions{
		Name:         "test",
		Address:      e.dovecot.Addr,
		TLS:          TLSNone,
		Username:     dovecottest.Username,
		Password:     dovecottest.Password,
		PollInterval: time.Hour, // only IDLE may wake the poller in these tests
		LockRetry:    200 * time.Millisecond,
		LockCheck:    200 * time.Millisecond,
		MinBackoff:   50 * time.Millisecond,
		MaxBackoff:   time.Second,
		DB:           e.db,
		Filer:        e.store,
		Logger:       testLogger(t, slog.LevelInfo),
	}
}

// runningPoller is a poller in its own goroutine; stop ends it and waits.
type runningPoller struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *runningPoller) stop() {
	r.cancel()
	<-r.done
}

func startPoller(t *testing.T, opts IMAPOptions) *runningPoller {
	t.Helper()
	p, err := NewIMAPPoller(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningPoller{cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); p.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// testMessage is a customer mail with its own sender, so each opens a case.
func testMessage(i int, tag string) []byte {
	return []byte(fmt.Sprintf("From: Customer %[1]d <customer%[1]d@example.net>\r\n"+
		"To: %[3]s\r\n"+
		"Subject: Problem %[1]d (%[2]s)\r\n"+
		"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n"+
		"Message-ID: <%[2]s-%[1]d@example.net>\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n"+
		"\r\n"+
		"My printer number %[1]d is on fire.\r\n", i, tag, dovecottest.Username))
}

func testMessages(n int, tag string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = testMessage(i+1, tag)
	}
	return out
}

func countInbound(t *testing.T, db *sqlx.DB) int {
	t.Helper()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM messages WHERE direction = 'inbound'`); err != nil {
		return -1 // database down in outage tests
	}
	return n
}

// assertExactlyOnce checks that every message was stored once.
func assertExactlyOnce(t *testing.T, db *sqlx.DB, want int) {
	t.Helper()
	var total, distinct, acks int
	if err := db.Get(&total, `SELECT count(*) FROM messages WHERE direction = 'inbound'`); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&distinct, `SELECT count(DISTINCT message_id) FROM messages WHERE direction = 'inbound'`); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&acks, `SELECT count(*) FROM intents WHERE kind = 'acknowledgement'`); err != nil {
		t.Fatal(err)
	}
	if total != want || distinct != want {
		t.Fatalf("stored %d inbound messages (%d distinct), want %d each", total, distinct, want)
	}
	if acks != want {
		t.Fatalf("queued %d acknowledgements for %d new cases: something was sent twice or not at all", acks, want)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIMAPIdleFilesNewMailWithinSeconds(t *testing.T) {
	e := newIMAPEnv(t)
	e.dovecot.Append(t, "INBOX", testMessage(1, "idle"))
	startPoller(t, e.options(t))
	waitFor(t, 60*time.Second, "the first message to be filed", func() bool { return countInbound(t, e.db) == 1 })
	waitFor(t, 30*time.Second, "the first message to be moved", func() bool { return e.dovecot.Count(t, "INBOX") == 0 })

	// The poller now idles; PollInterval is an hour, so only IDLE can
	// bring the next message in.
	time.Sleep(500 * time.Millisecond)
	second := testMessage(2, "idle")
	appended := time.Now()
	e.dovecot.Append(t, "INBOX", second)
	waitFor(t, 10*time.Second, "new mail to be filed while idling", func() bool { return countInbound(t, e.db) == 2 })
	t.Logf("filed %v after APPEND while idling", time.Since(appended).Round(time.Millisecond))
	waitFor(t, 10*time.Second, "INBOX to be empty", func() bool { return e.dovecot.Count(t, "INBOX") == 0 })
	if n := e.dovecot.Count(t, "Processed"); n != 2 {
		t.Fatalf("Processed has %d messages, want 2", n)
	}

	var raw []byte
	var source string
	var recipients []string
	row := e.db.QueryRowx(`SELECT raw, source, envelope_to FROM messages WHERE message_id = 'idle-2@example.net'`)
	if err := row.Scan(&raw, &source, (*pq.StringArray)(&recipients)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, second) {
		t.Errorf("stored raw bytes differ from the appended message:\n%q\n%q", raw, second)
	}
	if source != "imap:test/INBOX" {
		t.Errorf("source = %q, want imap:test/INBOX", source)
	}
	if len(recipients) != 1 || recipients[0] != dovecottest.Username {
		t.Errorf("recipients = %q, want [%s]", recipients, dovecottest.Username)
	}
	assertExactlyOnce(t, e.db, 2)
}

// With after = seen, \Seen is set only once the filing has committed: at
// the moment filing returns the message is stored and still unseen.
func TestIMAPFlagsOnlyAfterCommit(t *testing.T) {
	e := newIMAPEnv(t)
	e.dovecot.Append(t, "INBOX", testMessages(3, "seen")...)
	checker := e.dovecot.Client(t)
	if _, err := checker.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var problems []string
	opts := e.options(t)
	opts.After = AfterSeen
	opts.hooks.afterFile = func(mailbox string, uid imap.UID) error {
		mu.Lock()
		defer mu.Unlock()
		var stored int
		e.db.Get(&stored, `SELECT count(*) FROM messages WHERE message_id = $1`, fmt.Sprintf("seen-%d@example.net", uid))
		if stored != 1 {
			problems = append(problems, fmt.Sprintf("uid %d: not committed when filing returned", uid))
		}
		if hasFlag(t, checker, uid, imap.FlagSeen) {
			problems = append(problems, fmt.Sprintf("uid %d: \\Seen before the filing committed", uid))
		}
		return nil
	}
	startPoller(t, opts)
	waitFor(t, 60*time.Second, "three messages flagged \\Seen", func() bool {
		for uid := imap.UID(1); uid <= 3; uid++ {
			if !hasFlag(t, checker, uid, imap.FlagSeen) {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatal(strings.Join(problems, "\n"))
	}
	if n := e.dovecot.Count(t, "INBOX"); n != 3 {
		t.Fatalf("after = seen must leave mail in place; INBOX has %d", n)
	}
	assertExactlyOnce(t, e.db, 3)
}

func hasFlag(t *testing.T, c *imapclient.Client, uid imap.UID, flag imap.Flag) bool {
	t.Helper()
	msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Errorf("fetch flags of uid %d: %v", uid, err)
		return false
	}
	for _, m := range msgs {
		for _, f := range m.Flags {
			if f == flag {
				return true
			}
		}
	}
	return false
}

// The database is down while mail arrives: nothing is moved (no loss);
// when it is back, every message is filed once and then moved.
func TestIMAPDatabaseOutageMovesNothing(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	db, err := sqlx.Open("postgres", cluster.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := casegate.Migrate(context.Background(), db.DB); err != nil {
		t.Fatal(err)
	}
	e := newIMAPEnvDB(t, db)
	opts := e.options(t)
	opts.Logger = testLogger(t, slog.LevelError)
	startPoller(t, opts)
	waitFor(t, 60*time.Second, "the poller to record its mailbox", func() bool {
		var n int
		db.Get(&n, `SELECT count(*) FROM imap_mailboxes`)
		return n == 1
	})

	cluster.Stop(t)
	e.dovecot.Append(t, "INBOX", testMessages(3, "outage")...)
	time.Sleep(3 * time.Second) // the poller tries, fails, backs off
	if n := e.dovecot.Count(t, "INBOX"); n != 3 {
		t.Fatalf("INBOX has %d messages while the database is down, want 3 (nothing may be moved before commit)", n)
	}
	if n := e.dovecot.Count(t, "Processed"); n != 0 {
		t.Fatalf("Processed has %d messages while the database is down", n)
	}
	cluster.Start(t)
	waitFor(t, 90*time.Second, "all messages filed after the outage", func() bool { return countInbound(t, db) == 3 })
	waitFor(t, 30*time.Second, "INBOX to be empty", func() bool { return e.dovecot.Count(t, "INBOX") == 0 })
	assertExactlyOnce(t, db, 3)
}

// UIDVALIDITY changes (the mailbox was recreated and refilled): the poller
// rescans it, files the new message, and files nothing twice.
func TestIMAPUIDValidityResetNoDuplicates(t *testing.T) {
	e := newIMAPEnv(t)
	old := testMessages(3, "uidv")
	e.dovecot.Append(t, "Support", old...)
	opts := e.options(t)
	opts.Mailboxes = []string{"Support"}
	opts.After = AfterSeen
	p := startPoller(t, opts)
	waitFor(t, 60*time.Second, "three messages filed", func() bool { return countInbound(t, e.db) == 3 })
	waitFor(t, 30*time.Second, "last_uid 3 recorded", func() bool {
		var last int
		e.db.Get(&last, `SELECT last_uid FROM imap_mailboxes WHERE mailbox = 'Support'`)
		return last == 3
	})
	p.stop()
	var oldValidity int64
	if err := e.db.Get(&oldValidity, `SELECT uidvalidity FROM imap_mailboxes WHERE mailbox = 'Support'`); err != nil {
		t.Fatal(err)
	}

	c := e.dovecot.Client(t)
	if err := c.Delete("Support").Wait(); err != nil {
		t.Fatal(err)
	}
	// The new message gets UID 1, below the stored last_uid: only a
	// rescan finds it.
	e.dovecot.Append(t, "Support", append([][]byte{testMessage(99, "uidv")}, old...)...)
	sel, err := c.Select("Support", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if int64(sel.UIDValidity) == oldValidity {
		t.Fatalf("Dovecot kept UIDVALIDITY %d after delete and create; the test needs a change", oldValidity)
	}
	c.Unselect().Wait()

	startPoller(t, opts)
	waitFor(t, 60*time.Second, "the new mailbox to be read to its end", func() bool {
		var validity, last int64
		e.db.QueryRow(`SELECT uidvalidity, last_uid FROM imap_mailboxes WHERE mailbox = 'Support'`).Scan(&validity, &last)
		return validity == int64(sel.UIDValidity) && last == 4
	})
	assertExactlyOnce(t, e.db, 4)
	var n int
	e.db.Get(&n, `SELECT count(*) FROM messages WHERE message_id = 'uidv-99@example.net'`)
	if n != 1 {
		t.Fatalf("the message new after the UIDVALIDITY change was filed %d times, want 1", n)
	}
}

// casegate dies between a commit and the move, with other filings of the
// window in flight: after a restart each message is filed exactly once,
// nothing is acknowledged twice, and all are moved.
func TestIMAPCrashBetweenCommitAndMove(t *testing.T) {
	e := newIMAPEnv(t)
	const total, killAt = 20, 5
	e.dovecot.Append(t, "INBOX", testMessages(total, "crash")...)
	runGroupCommit(t, e.store)
	opts := e.options(t)
	opts.Concurrency = 4
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var filed atomic.Int32
	errKilled := errors.New("killed by the test")
	opts.hooks.afterFile = func(string, imap.UID) error {
		if filed.Add(1) == killAt {
			cancel() // the process is gone: nothing after this point runs
			return errKilled
		}
		return nil
	}
	p, err := NewIMAPPoller(opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the first poller did not stop at the kill point")
	}
	// The filings in flight beside the killed one may commit too.
	if n := countInbound(t, e.db); n < killAt || n > killAt+opts.Concurrency-1 {
		t.Fatalf("%d messages committed before the kill, want %d to %d", n, killAt, killAt+opts.Concurrency-1)
	}
	if n := e.dovecot.Count(t, "INBOX"); n != total {
		t.Fatalf("INBOX has %d messages after the kill, want %d (nothing moved)", n, total)
	}
	var last int64
	e.db.Get(&last, `SELECT last_uid FROM imap_mailboxes`)
	if last != 0 {
		t.Fatalf("last_uid is %d after the kill; nothing was acted on, so it must stay 0", last)
	}

	restarted := e.options(t)
	startPoller(t, restarted)
	waitFor(t, 60*time.Second, "INBOX to be empty after the restart", func() bool { return e.dovecot.Count(t, "INBOX") == 0 })
	if n := e.dovecot.Count(t, "Processed"); n != total {
		t.Fatalf("Processed has %d messages, want %d", n, total)
	}
	assertExactlyOnce(t, e.db, total)
}

// flakyFiler fails the first filing of one message (as a lost database
// connection would) and delays another's, and checks before each filing of
// either that the message is still in INBOX and the stored last UID has not
// passed it: concurrent filing must never act on, or count as done, a
// message that has not committed.
type flakyFiler struct {
	Filer
	db               *sqlx.DB
	fail, slow       string // Message-IDs
	mu               sync.Mutex
	checker          *imapclient.Client
	failed           bool
	problems, checks []string
}

func (f *flakyFiler) File(ctx context.Context, in *vocab.Inbound) (vocab.Filed, error) {
	if in.MessageID != f.fail && in.MessageID != f.slow {
		return f.Filer.File(ctx, in)
	}
	f.mu.Lock()
	res, err := f.checker.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-Id", Value: in.MessageID}}}, nil).Wait()
	var last int64
	f.db.Get(&last, `SELECT last_uid FROM imap_mailboxes`)
	f.checks = append(f.checks, in.MessageID)
	switch {
	case err != nil:
		f.problems = append(f.problems, fmt.Sprintf("%s: search INBOX: %v", in.MessageID, err))
	case len(res.AllUIDs()) != 1:
		f.problems = append(f.problems, fmt.Sprintf("%s: not in INBOX before its filing committed", in.MessageID))
	case int64(res.AllUIDs()[0]) <= last:
		f.problems = append(f.problems, fmt.Sprintf("%s: uid %d, but last_uid is already %d before its filing committed", in.MessageID, res.AllUIDs()[0], last))
	}
	fail := in.MessageID == f.fail && !f.failed
	f.failed = f.failed || fail
	f.mu.Unlock()
	if fail {
		return vocab.Filed{}, errors.New("connection to the database lost (injected by the test)")
	}
	if in.MessageID == f.slow {
		time.Sleep(1500 * time.Millisecond) // the rest of its window commits meanwhile
	}
	return f.Filer.File(ctx, in)
}

// Messages are filed concurrently in windows: a failed filing in the middle
// of a window and a slow one do not let the poller move either before it
// committed, the stored last UID never passes them, and in the end every
// message is filed once and moved.
func TestIMAPConcurrentFilingActsOnlyOnCommitted(t *testing.T) {
	e := newIMAPEnv(t)
	const total = 300
	e.dovecot.Append(t, "INBOX", testMessages(total, "window")...)
	runGroupCommit(t, e.store)
	checker := e.dovecot.Client(t)
	if _, err := checker.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	f := &flakyFiler{Filer: e.store, db: e.db, checker: checker,
		fail: "window-37@example.net", slow: "window-150@example.net"}
	opts := e.options(t)
	opts.Filer = f
	opts.BatchSize = 100
	opts.Concurrency = 8
	opts.Logger = testLogger(t, slog.LevelWarn)
	startPoller(t, opts)
	waitFor(t, 3*time.Minute, "the mailbox to drain", func() bool {
		return countInbound(t, e.db) == total && e.dovecot.Count(t, "INBOX") == 0
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.problems) > 0 {
		t.Fatal(strings.Join(f.problems, "\n"))
	}
	// The failed message is filed twice over (failed, then filed); the slow
	// one once.
	if len(f.checks) != 3 {
		t.Fatalf("checked %d filings (%q), want 3", len(f.checks), f.checks)
	}
	if n := e.dovecot.Count(t, "Processed"); n != total {
		t.Fatalf("Processed has %d messages, want %d", n, total)
	}
	assertExactlyOnce(t, e.db, total)
}

// A reply that arrives in the same window as the message it answers is
// filed after that message commits, so it joins its case as it would
// have when messages were filed one at a time.
func TestIMAPConcurrentFilingKeepsRepliesOnTheirCase(t *testing.T) {
	e := newIMAPEnv(t)
	const pairs = 40
	var msgs [][]byte
	for i := 1; i <= pairs; i++ {
		msgs = append(msgs, testMessage(i, "thread"), []byte(fmt.Sprintf("From: Customer %[1]d <customer%[1]d@example.net>\r\n"+
			"To: %[2]s\r\n"+
			"Subject: Re: Problem %[1]d (thread)\r\n"+
			"Message-ID: <thread-reply-%[1]d@example.net>\r\n"+
			"In-Reply-To: <thread-%[1]d@example.net>\r\n"+
			"References: <thread-%[1]d@example.net>\r\n"+
			"\r\n"+
			"Also, the toner is smoking.\r\n", i, dovecottest.Username)))
	}
	e.dovecot.Append(t, "INBOX", msgs...)
	runGroupCommit(t, e.store)
	opts := e.options(t)
	opts.Concurrency = 16
	opts.Logger = testLogger(t, slog.LevelWarn)
	startPoller(t, opts)
	waitFor(t, 2*time.Minute, "the mailbox to drain", func() bool {
		return countInbound(t, e.db) == 2*pairs && e.dovecot.Count(t, "INBOX") == 0
	})
	var split []string
	if err := e.db.Select(&split, `SELECT r.message_id FROM messages r JOIN messages o ON o.message_id = 'thread-' || substr(r.message_id, 14)
		WHERE r.message_id LIKE 'thread-reply-%' AND r.case_id <> o.case_id ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if len(split) > 0 {
		t.Fatalf("replies filed on a case other than their original's: %q", split)
	}
	var cases int
	if err := e.db.Get(&cases, `SELECT count(DISTINCT case_id) FROM messages WHERE direction = 'inbound'`); err != nil {
		t.Fatal(err)
	}
	if cases != pairs {
		t.Fatalf("%d cases for %d threads", cases, pairs)
	}
}

// Dovecot restarts while a backlog drains: the poller reconnects and every
// message is filed once.
func TestIMAPDovecotRestartMidBacklog(t *testing.T) {
	testDovecotOutageMidBacklog(t, "restart", (*dovecottest.Server).Stop)
}

// Dovecot crashes (SIGKILL) while a backlog drains and is started again:
// the poller reconnects and every message is filed once.
func TestIMAPDovecotCrashMidBacklog(t *testing.T) {
	testDovecotOutageMidBacklog(t, "crash-restart", (*dovecottest.Server).Kill)
}

// testDovecotOutageMidBacklog takes Dovecot down with cut once part of a
// backlog is filed, starts it again and checks every message is filed once.
func testDovecotOutageMidBacklog(t *testing.T, label string, cut func(*dovecottest.Server)) {
	e := newIMAPEnv(t)
	const total = 600
	e.dovecot.Append(t, "INBOX", testMessages(total, label)...)
	opts := e.options(t)
	opts.BatchSize = 20
	opts.Logger = testLogger(t, slog.LevelWarn)
	var dials atomic.Int32
	opts.hooks.dialed = func() { dials.Add(1) }
	startPoller(t, opts)
	waitFor(t, 60*time.Second, "part of the backlog to be filed", func() bool { return countInbound(t, e.db) >= 40 })
	cut(e.dovecot)
	atStop := countInbound(t, e.db)
	time.Sleep(time.Second)
	e.dovecot.Restart()
	t.Logf("Dovecot restarted with %d of %d messages filed", atStop, total)
	if atStop >= total {
		t.Fatalf("the backlog drained before the restart; the test needs a restart mid-backlog")
	}
	// After a crash Dovecot may first wait for its own stale locks.
	deadline := time.Now().Add(4 * time.Minute)
	for countInbound(t, e.db) != total {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages filed 4 minutes after the restart; Dovecot's log:\n%s", countInbound(t, e.db), total, e.dovecot.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, 60*time.Second, "INBOX to be empty", func() bool { return e.dovecot.Count(t, "INBOX") == 0 })
	// A MOVE cut by the restart may have copied its batch without removing
	// it from INBOX (Dovecot moves by copy + expunge): those messages are
	// moved again, so Processed may hold one batch twice. Filing is still
	// exactly once (below).
	if n := e.dovecot.Count(t, "Processed"); n < total || n > total+opts.BatchSize {
		t.Fatalf("Processed has %d messages, want %d to %d", n, total, total+opts.BatchSize)
	}
	if dials.Load() < 2 {
		t.Fatal("the poller never reconnected: the restart did not cut its connection")
	}
	assertExactlyOnce(t, e.db, total)
}

// Two instances share one database: one polls, the other stands by and
// takes over when the first stops.
func TestIMAPTwoInstancesOnePollerTakeover(t *testing.T) {
	e := newIMAPEnv(t)
	// Each instance has its own connection pool, as two processes would.
	dbB, err := sqlx.Open("postgres", e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbB.Close() })

	var lockedA, lockedB atomic.Int32
	optsA := e.options(t)
	optsA.hooks.locked = func(string) { lockedA.Add(1) }
	optsB := e.options(t)
	optsB.DB = dbB
	optsB.hooks.locked = func(string) { lockedB.Add(1) }
	a := startPoller(t, optsA)
	waitFor(t, 30*time.Second, "instance A to take the lock", func() bool { return lockedA.Load() == 1 })
	b := startPoller(t, optsB)
	_ = b

	e.dovecot.Append(t, "INBOX", testMessage(1, "twins"))
	waitFor(t, 30*time.Second, "the message to be filed", func() bool { return countInbound(t, e.db) == 1 })
	time.Sleep(time.Second) // B retries the lock every 200 ms meanwhile
	if lockedB.Load() != 0 {
		t.Fatal("instance B polls the mailbox while A holds it")
	}
	if n := advisoryLocks(t, e.db); n != 1 {
		t.Fatalf("%d advisory locks held, want 1", n)
	}

	a.stop()
	waitFor(t, 30*time.Second, "instance B to take over", func() bool { return lockedB.Load() == 1 })
	e.dovecot.Append(t, "INBOX", testMessage(2, "twins"))
	waitFor(t, 30*time.Second, "mail to be filed by B", func() bool { return countInbound(t, e.db) == 2 })
	waitFor(t, 30*time.Second, "INBOX to be empty", func() bool { return e.dovecot.Count(t, "INBOX") == 0 })
	assertExactlyOnce(t, e.db, 2)
}

func advisoryLocks(t *testing.T, db *sqlx.DB) int {
	t.Helper()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1`, imapLockClass); err != nil {
		t.Fatal(err)
	}
	return n
}

// A 2,000-message backlog drains completely, in batches; the rate is logged.
// make bench drains 10,000 (CASEGATE_IMAP_BACKLOG=10000).
func TestIMAPBacklogDrains(t *testing.T) {
	e := newIMAPEnv(t)
	total := 2000
	if n, err := strconv.Atoi(os.Getenv("CASEGATE_IMAP_BACKLOG")); err == nil && n > 0 {
		total = n
	}
	seedStart := time.Now()
	e.dovecot.Deliver(t, "INBOX", testMessages(total, "backlog")...)
	t.Logf("seeded %d messages into the Maildir in %v", total, time.Since(seedStart).Round(time.Millisecond))
	runGroupCommit(t, e.store) // as casegate serve does
	opts := e.options(t)
	opts.Logger = testLogger(t, slog.LevelWarn)
	timed := &timingFiler{Filer: e.store}
	opts.Filer = timed
	start := time.Now()
	startPoller(t, opts)
	// Generous on a loaded machine: 100 ms a message, at least 5 minutes.
	waitFor(t, max(5*time.Minute, time.Duration(total)*100*time.Millisecond), "the backlog to drain", func() bool {
		return countInbound(t, e.db) == total && e.dovecot.Count(t, "INBOX") == 0
	})
	elapsed := time.Since(start)
	t.Logf("drained %d messages in %v: %.0f messages/s (filed, acknowledged and moved); threads.Store.File took %v of it",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), time.Duration(timed.nanos.Load()).Round(time.Millisecond))
	assertExactlyOnce(t, e.db, total)
}

// runGroupCommit runs the store's committers until the test ends, as
// casegate serve does, so that concurrent filings share commits. Call it
// before startPoller: cleanups run last-in first-out, so the pollers stop
// before the committers.
func runGroupCommit(t *testing.T, store *threads.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- store.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// A message that cannot be filed goes to the quarantine folder and table,
// once, and the rest of the mailbox is filed.
func TestIMAPQuarantinesOversizedMessage(t *testing.T) {
	e := newIMAPEnv(t)
	big := testMessage(2, "quarantine")
	big = append(big, bytes.Repeat([]byte("0123456789012345678901234567890123456789\r\n"), 200)...)
	e.dovecot.Append(t, "INBOX", testMessage(1, "quarantine"), big, testMessage(3, "quarantine"))
	opts := e.options(t)
	opts.MaxMessageBytes = 4000
	startPoller(t, opts)
	waitFor(t, 60*time.Second, "INBOX to be empty", func() bool { return e.dovecot.Count(t, "INBOX") == 0 })
	if n := e.dovecot.Count(t, "Quarantine"); n != 1 {
		t.Fatalf("Quarantine folder has %d messages, want 1", n)
	}
	if n := e.dovecot.Count(t, "Processed"); n != 2 {
		t.Fatalf("Processed has %d messages, want 2", n)
	}
	var rows []struct {
		Source    string `db:"source"`
		Reason    string `db:"reason"`
		MessageID string `db:"message_id"`
	}
	if err := e.db.Select(&rows, `SELECT source, reason, message_id FROM quarantine`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].MessageID != "quarantine-2@example.net" || rows[0].Source != "imap:test/INBOX" ||
		!strings.Contains(rows[0].Reason, "exceeds max_message_bytes") {
		t.Fatalf("quarantine rows = %+v", rows)
	}
	assertExactlyOnce(t, e.db, 2)
}

// A rejected login is reported clearly and not retried at once.
func TestIMAPLoginRejectedIsNotHammered(t *testing.T) {
	e := newIMAPEnv(t)
	var logs syncBuffer
	var dials atomic.Int32
	opts := e.options(t)
	opts.Password = "wrong"
	opts.AuthBackoff = time.Hour
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	opts.hooks.dialed = func() { dials.Add(1) }
	startPoller(t, opts)
	waitFor(t, 30*time.Second, "the rejected login to be logged", func() bool {
		return strings.Contains(logs.String(), "rejected the login")
	})
	time.Sleep(2 * time.Second) // MinBackoff is 50 ms: a hammering poller would dial dozens of times
	if n := dials.Load(); n != 1 {
		t.Fatalf("dialed %d times after a rejected login, want 1", n)
	}
	if !strings.Contains(logs.String(), "check username and password") {
		t.Fatalf("log does not tell the operator what to fix:\n%s", logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testLogger logs through t.Log; the pollers stop (t.Cleanup) before the
// test ends, so nothing logs after it.
func testLogger(t *testing.T, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

var _ io.Writer = testWriter{}

// timingFiler adds up the time spent filing, to tell the poller's own cost
// from the database's.
type timingFiler struct {
	Filer
	nanos atomic.Int64
}

func (f *timingFiler) File(ctx context.Context, in *vocab.Inbound) (vocab.Filed, error) {
	start := time.Now()
	defer func() { f.nanos.Add(int64(time.Since(start))) }()
	return f.Filer.File(ctx, in)
}

// Both TLS modes work against Dovecot, and a certificate the poller cannot
// verify stops it before the password is sent.
func TestIMAPTLSModes(t *testing.T) {
	e := newIMAPEnv(t)
	e.dovecot.Append(t, "INBOX", testMessage(1, "tls"))
	e.dovecot.Append(t, "Other", testMessage(2, "tls"))

	var logs syncBuffer
	untrusted := e.options(t)
	untrusted.Address, untrusted.TLS = e.dovecot.TLSAddr, TLSImplicit
	untrusted.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	p := startPoller(t, untrusted)
	waitFor(t, 30*time.Second, "the certificate error to be logged", func() bool {
		return strings.Contains(logs.String(), "certificate")
	})
	p.stop()
	if n := countInbound(t, e.db); n != 0 {
		t.Fatalf("filed %d messages over an unverified connection", n)
	}

	implicit := e.options(t)
	implicit.Address, implicit.TLS = e.dovecot.TLSAddr, TLSImplicit
	implicit.TLSConfig = &tls.Config{RootCAs: e.dovecot.RootCAs}
	startPoller(t, implicit)
	waitFor(t, 30*time.Second, "the INBOX message filed over implicit TLS", func() bool { return countInbound(t, e.db) == 1 })

	starttls := e.options(t)
	starttls.Name = "starttls"
	starttls.Mailboxes = []string{"Other"}
	starttls.TLS = TLSStartTLS
	starttls.TLSConfig = &tls.Config{RootCAs: e.dovecot.RootCAs, ServerName: "127.0.0.1"}
	startPoller(t, starttls)
	waitFor(t, 30*time.Second, "the Other message filed over STARTTLS", func() bool { return countInbound(t, e.db) == 2 })
	assertExactlyOnce(t, e.db, 2)
}

// IDLE is left and entered again every IdleRestart; mail still arrives.
func TestIMAPReIdle(t *testing.T) {
	e := newIMAPEnv(t)
	var dials atomic.Int32
	opts := e.options(t)
	opts.IdleRestart = 200 * time.Millisecond
	opts.hooks.dialed = func() { dials.Add(1) }
	startPoller(t, opts)
	waitFor(t, 30*time.Second, "the poller to record its mailbox", func() bool {
		var n int
		e.db.Get(&n, `SELECT count(*) FROM imap_mailboxes`)
		return n == 1
	})
	time.Sleep(2 * time.Second) // about ten IDLE restarts
	e.dovecot.Append(t, "INBOX", testMessage(1, "reidle"))
	waitFor(t, 10*time.Second, "mail filed after several IDLE restarts", func() bool { return countInbound(t, e.db) == 1 })
	if n := dials.Load(); n != 1 {
		t.Fatalf("connected %d times: restarting IDLE must not drop the connection", n)
	}
}

// A hostile message the database refuses for good (a Message-ID too long
// for the exactly-once index: PostgreSQL error class 54) is quarantined
// with the reason, not retried forever, and the mail after it is filed.
func TestIMAPQuarantinesMessageTheDatabaseRefuses(t *testing.T) {
	e := newIMAPEnv(t)
	noise := make([]byte, 4000) // random, so the index cannot compress it under its limit
	rand.Read(noise)
	hostileID := hex.EncodeToString(noise) + "@attacker.example"
	hostile := []byte("From: Mallory <mallory@attacker.example>\r\nTo: " + dovecottest.Username + "\r\n" +
		"Subject: long id\r\nMessage-ID: <" + hostileID + ">\r\n\r\nhello\r\n")
	e.dovecot.Append(t, "INBOX", testMessage(1, "hostile"), hostile, testMessage(3, "hostile"))
	startPoller(t, e.options(t))
	waitFor(t, 60*time.Second, "INBOX to be empty", func() bool { return e.dovecot.Count(t, "INBOX") == 0 })
	if n := e.dovecot.Count(t, "Quarantine"); n != 1 {
		t.Fatalf("Quarantine folder has %d messages, want 1", n)
	}
	var reason string
	var raw []byte
	if err := e.db.QueryRow(`SELECT reason, raw FROM quarantine WHERE message_id = $1`, hostileID).Scan(&reason, &raw); err != nil {
		t.Fatalf("no quarantine row for the hostile message: %v", err)
	}
	if !strings.Contains(reason, "filing failed") || !bytes.Equal(raw, hostile) {
		t.Fatalf("quarantine row: reason %q, raw kept whole: %v", reason, bytes.Equal(raw, hostile))
	}
	assertExactlyOnce(t, e.db, 2)
}

// What /readyz says of a mailbox (Problems): nothing while it works or
// while another instance polls it; a refused login at once; a server
// that is down once it has been down for UnreadyAfter; nothing again
// once the server is back.
func TestIMAPProblemsForReadiness(t *testing.T) {
	e := newIMAPEnv(t)
	run := func(opts IMAPOptions) *IMAPPoller {
		t.Helper()
		p, err := NewIMAPPoller(opts)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); p.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		return p
	}
	problems := func(p *IMAPPoller) string { return strings.Join(p.Problems(time.Now()), "; ") }

	opts := e.options(t)
	opts.UnreadyAfter = time.Second
	opts.Logger = testLogger(t, slog.LevelError)
	a := run(opts)
	waitFor(t, 30*time.Second, "the mailbox to work", func() bool { return problems(a) == "" })
	e.dovecot.Append(t, "INBOX", testMessage(1, "ready"))
	waitFor(t, 30*time.Second, "the message to be filed", func() bool { return countInbound(t, e.db) == 1 })
	if p := problems(a); p != "" {
		t.Errorf("a working mailbox: %s", p)
	}

	// A second instance stands by: not a problem.
	dbB, err := sqlx.Open("postgres", e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbB.Close() })
	optsB := opts
	optsB.DB = dbB
	b := run(optsB)
	time.Sleep(1500 * time.Millisecond) // past UnreadyAfter
	if p := problems(b); p != "" {
		t.Errorf("an instance standing by: %s", p)
	}

	// The server goes down: a problem once UnreadyAfter has passed, and
	// none once it is back.
	e.dovecot.Stop()
	waitFor(t, 30*time.Second, "the outage to be reported", func() bool {
		return strings.Contains(problems(a), "imap test/INBOX: no working session since")
	})
	e.dovecot.Restart()
	waitFor(t, 60*time.Second, "the mailbox to work again", func() bool { return problems(a) == "" })

	// A refused login is reported without waiting.
	wrong := opts
	wrong.Name = "wrong"
	wrong.Password = "wrong"
	wrong.UnreadyAfter = time.Hour
	wrong.AuthBackoff = time.Hour
	c := run(wrong)
	waitFor(t, 30*time.Second, "the refused login to be reported", func() bool {
		return problems(c) == "imap wrong/INBOX: the server refused the login"
	})
}
