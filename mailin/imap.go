package mailin

import (
	"context"
	"crypto/tls"
	"database/sql"
	"database/sql/driver"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/jmoiron/sqlx"

	"casegate/internal/sqlfile"
)

// IMAPAfter says what the poller does to a message in the mailbox once its
// filing has committed.
type IMAPAfter string

// The IMAPAfter values (config key `after`).
const (
	// AfterSeen sets \Seen and leaves the message in place; the stored
	// last UID, not the flag, keeps it from being filed again, since staff
	// clients change \Seen.
	AfterSeen IMAPAfter = "seen"
	// AfterMove moves the message to MoveTo (RFC 6851 MOVE).
	AfterMove IMAPAfter = "move"
	// AfterDelete flags the message \Deleted and expunges it by UID
	// (RFC 4315 UID EXPUNGE) so other deleted mail is left alone.
	AfterDelete IMAPAfter = "delete"
)

// IMAPTLS is how the connection to the IMAP server is protected.
type IMAPTLS string

// The IMAPTLS values (config key `tls`).
const (
	TLSImplicit IMAPTLS = "implicit" // TLS from the first byte (port 993)
	TLSStartTLS IMAPTLS = "starttls" // STARTTLS required (port 143)
	TLSNone     IMAPTLS = "none"     // plaintext: loopback only (the config refuses it elsewhere)
)

// IMAPOptions configures the poller of one IMAP account. Zero values are the
// documented defaults.
type IMAPOptions struct {
	// Name identifies the account: in Source ("imap:<Name>/<mailbox>"),
	// in the stored per-mailbox state and in the advisory lock key.
	Name      string
	Address   string      // host:port
	TLS       IMAPTLS     // default TLSImplicit
	TLSConfig *tls.Config // nil: system roots, server name from Address
	Username  string
	Password  string
	// Mailboxes to poll, one connection each; default ["INBOX"].
	Mailboxes []string
	After     IMAPAfter // default AfterMove
	// MoveTo is the folder filed mail is moved to (created when missing);
	// default "Processed".
	MoveTo string
	// QuarantineTo is the folder mail that cannot be filed is moved to
	// (created when missing); default "Quarantine".
	QuarantineTo string
	// PollInterval is how often a mailbox is checked when the server has no
	// IDLE (RFC 2177); default 1 minute.
	PollInterval time.Duration
	// IdleRestart is how long one IDLE lasts before the poller leaves it and
	// checks the mailbox with an ordinary command. That command has a read
	// deadline, so a half-open connection is noticed, and it stays under the
	// 30-minute inactivity timeout of RFC 2177 §3. Default 10 minutes.
	IdleRestart time.Duration
	// Trusted marks the mailbox as an internal source (Authentication.Trusted).
	Trusted bool
	// Auth verifies senders (DKIM, DMARC) as for SMTP; there is no client
	// IP behind a mailbox, so no SPF. Nil leaves mail without authority.
	Auth *Authenticator
	// Classifier tells journalists, VIPs and public-risk mail apart, as
	// for SMTP; nil leaves every message a plain customer's.
	Classifier *Classifier
	// MaxMessageBytes: larger messages are quarantined (header kept) rather
	// than loaded; default 25 MiB.
	MaxMessageBytes int64
	// BatchSize is how many UIDs are handled per round: fetched in one
	// UID FETCH, and flagged, moved or deleted together once all of them
	// are filed; default 500.
	BatchSize int
	// Concurrency is how many messages of a round are filed at once, so
	// their filings share the store's group commits; default 16. At most
	// MaxMessageBytes of message data is in flight (one message always is).
	// Messages are filed in UID order only as far as threading needs: a
	// reply waits for the commit of a message it refers to.
	Concurrency int
	// FileTimeout bounds filing one message; default 1 minute.
	FileTimeout time.Duration
	// MaxFileAttempts: a message whose filing failed this many times in a row
	// while the database answered is quarantined; default 5.
	MaxFileAttempts int
	// LockRetry is how often a standby instance tries to take over a mailbox
	// another instance polls; default 10 seconds.
	LockRetry time.Duration
	// LockCheck is how often the polling instance checks that its lock
	// connection is alive; default 10 seconds.
	LockCheck time.Duration
	// MinBackoff and MaxBackoff bound the reconnect delay after network or
	// server errors (doubling, with ±50 % jitter); default 1 s and 5 min.
	MinBackoff, MaxBackoff time.Duration
	// AuthBackoff is the delay after the server rejects the login, so a
	// wrong password is reported, not hammered; default 15 minutes.
	AuthBackoff time.Duration
	// UnreadyAfter is how long a mailbox this instance polls may go without
	// a working session (connected, logged in, read) before Problems
	// reports it; default 15 minutes. A refused login is reported at once.
	UnreadyAfter time.Duration

	DB     *sqlx.DB // state, quarantine and advisory locks
	Filer  Filer
	Logger *slog.Logger
	Now    func() time.Time

	hooks imapHooks // tests only
}

// imapHooks let tests observe the poller and stop it at chosen points.
type imapHooks struct {
	// afterFile runs after a message's filing committed and before any
	// flag, move or delete; an error aborts the session at once, as a crash
	// there would.
	afterFile func(mailbox string, uid imap.UID) error
	// locked runs when this poller takes the lock of a mailbox.
	locked func(mailbox string)
	// dialed runs before each connection attempt.
	dialed func()
}

// IMAPPoller files mail from the mailboxes of one IMAP account (RFC 9051).
// Each mailbox is polled by at most one casegate instance at a time,
// through a PostgreSQL advisory lock; a message is flagged, moved or deleted
// only after its filing has committed, and the stored last UID passes only
// messages that are committed and acted on, so a crash at any point loses
// nothing, and exactly-once filing (Message-ID + body hash) makes the
// re-fetch after a crash file nothing twice. Messages of one round are
// filed concurrently (Concurrency) so that they share commits.
type IMAPPoller struct {
	opts IMAPOptions
	q    imapQueries

	mu     sync.Mutex
	health map[string]*mailboxHealth // by mailbox
}

// mailboxHealth is what Problems reports of one mailbox.
type mailboxHealth struct {
	standby      bool      // another instance holds the mailbox's lock
	working      bool      // the current session reads the mailbox
	failingSince time.Time // the first failure since the last working session (or the start)
	lastErr      string
	loginRefused bool
}

// Advisory lock class of IMAP mailboxes ("imap"); the second key is
// hashtext(account/mailbox).
const imapLockClass = 0x696d6170

//go:embed queries.sql
var mailinQueriesSQL string

// NewIMAPPoller checks opts and returns a poller; call Run.
func NewIMAPPoller(opts IMAPOptions) (*IMAPPoller, error) {
	if opts.Name == "" || opts.Address == "" || opts.DB == nil || opts.Filer == nil {
		return nil, errors.New("imap: Name, Address, DB and Filer are required")
	}
	if opts.TLS == "" {
		opts.TLS = TLSImplicit
	}
	switch opts.TLS {
	case TLSImplicit, TLSStartTLS, TLSNone:
	default:
		return nil, fmt.Errorf("imap %s: unknown tls mode %q", opts.Name, opts.TLS)
	}
	if opts.After == "" {
		opts.After = AfterMove
	}
	switch opts.After {
	case AfterSeen, AfterMove, AfterDelete:
	default:
		return nil, fmt.Errorf("imap %s: unknown after action %q", opts.Name, opts.After)
	}
	if len(opts.Mailboxes) == 0 {
		opts.Mailboxes = []string{"INBOX"}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.PollInterval, time.Minute)
	def(&opts.IdleRestart, 10*time.Minute)
	def(&opts.FileTimeout, time.Minute)
	def(&opts.LockRetry, 10*time.Second)
	def(&opts.LockCheck, 10*time.Second)
	def(&opts.MinBackoff, time.Second)
	def(&opts.MaxBackoff, 5*time.Minute)
	def(&opts.AuthBackoff, 15*time.Minute)
	def(&opts.UnreadyAfter, 15*time.Minute)
	if opts.MoveTo == "" {
		opts.MoveTo = "Processed"
	}
	if opts.QuarantineTo == "" {
		opts.QuarantineTo = "Quarantine"
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 25 << 20
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.MaxFileAttempts <= 0 {
		opts.MaxFileAttempts = 5
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &IMAPPoller{opts: opts, health: map[string]*mailboxHealth{}}
	for _, mb := range opts.Mailboxes {
		p.health[mb] = &mailboxHealth{failingSince: opts.Now()}
	}
	if err := sqlfile.Bind(mailinQueriesSQL, &p.q); err != nil {
		return nil, fmt.Errorf("mailin/queries.sql: %w", err)
	}
	return p, nil
}

// imapQueries are the poller's queries (queries.sql).
type imapQueries struct {
	State      sqlfile.Query `query:"imap-state"`
	SaveState  sqlfile.Query `query:"imap-save-state"`
	Quarantine sqlfile.Query `query:"imap-quarantine"`
	TryLock    sqlfile.Query `query:"imap-try-lock"`
}

// Run polls every mailbox of the account until ctx ends. Errors are
// handled inside (logged, retried with backoff), so it returns nil.
func (p *IMAPPoller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, mailbox := range p.opts.Mailboxes {
		wg.Go(func() { p.runMailbox(ctx, mailbox) })
	}
	wg.Wait()
	return nil
}

// Problems lists the mailboxes of this account that do not work, for
// /readyz: a login the server refused, or no working session for
// UnreadyAfter. A mailbox another instance polls is not a problem.
func (p *IMAPPoller) Problems(now time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, mb := range p.opts.Mailboxes {
		h := p.health[mb]
		switch {
		case h.standby || h.working:
		case h.loginRefused:
			out = append(out, fmt.Sprintf("imap %s/%s: the server refused the login", p.opts.Name, mb))
		case now.Sub(h.failingSince) >= p.opts.UnreadyAfter:
			out = append(out, fmt.Sprintf("imap %s/%s: no working session since %s (%s)", p.opts.Name, mb,
				h.failingSince.UTC().Format(time.RFC3339), h.lastErr))
		}
	}
	return out
}

// mark updates a mailbox's health under the poller's lock.
func (p *IMAPPoller) mark(mailbox string, f func(h *mailboxHealth)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p.health[mailbox])
}

// failed records a session that ended in err.
func (p *IMAPPoller) failed(mailbox string, err error) {
	now := p.opts.Now()
	p.mark(mailbox, func(h *mailboxHealth) {
		if h.working || h.standby {
			h.failingSince = now
		}
		h.working, h.standby = false, false
		var le *loginError
		h.loginRefused = errors.As(err, &le)
		if err != nil {
			h.lastErr = err.Error()
		}
	})
}

func (p *IMAPPoller) source(mailbox string) string {
	return "imap:" + p.opts.Name + "/" + mailbox
}

// runMailbox takes the mailbox's lock, polls while it holds it and takes it
// again when its connection to PostgreSQL was lost.
func (p *IMAPPoller) runMailbox(ctx context.Context, mailbox string) {
	log := p.opts.Logger.With("account", p.opts.Name, "mailbox", mailbox)
	for ctx.Err() == nil {
		lock, err := p.lock(ctx, log, mailbox)
		if err != nil {
			return // ctx ended
		}
		log.Info("imap: polling this mailbox (holding its lock)")
		if p.opts.hooks.locked != nil {
			p.opts.hooks.locked(mailbox)
		}
		p.pollWhileLocked(ctx, log, lock, mailbox)
		discardConn(lock)
		if ctx.Err() == nil {
			p.failed(mailbox, errors.New("lost the database connection holding the mailbox lock"))
		}
	}
}

// lock blocks until this instance holds the mailbox's advisory lock, on a
// connection of its own (a session-level lock must not go back to the pool).
func (p *IMAPPoller) lock(ctx context.Context, log *slog.Logger, mailbox string) (*sql.Conn, error) {
	standing := false
	for {
		conn, err := p.opts.DB.Conn(ctx)
		if err == nil {
			var held bool
			err = conn.QueryRowContext(ctx, p.q.TryLock.SQL, imapLockClass, p.opts.Name+"/"+mailbox).Scan(&held)
			if err == nil && held {
				p.mark(mailbox, func(h *mailboxHealth) {
					if h.standby {
						h.standby, h.failingSince = false, p.opts.Now()
					}
				})
				return conn, nil
			}
			discardConn(conn)
			if err == nil && !standing {
				log.Info("imap: another instance polls this mailbox; standing by to take over")
				standing = true
				p.mark(mailbox, func(h *mailboxHealth) { h.standby, h.working = true, false })
			}
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("imap: cannot take the mailbox lock; retrying", "err", err)
		}
		if !sleep(ctx, p.opts.LockRetry) {
			return nil, ctx.Err()
		}
	}
}

// discardConn closes the connection itself rather than returning it to the
// pool: ending the PostgreSQL session releases every advisory lock it held.
func discardConn(c *sql.Conn) {
	c.Raw(func(any) error { return driver.ErrBadConn })
	c.Close()
}

// pollWhileLocked runs IMAP sessions, reconnecting with backoff, until ctx
// ends or the lock connection fails (then another instance may poll).
func (p *IMAPPoller) pollWhileLocked(ctx context.Context, log *slog.Logger, lock *sql.Conn, mailbox string) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		t := time.NewTicker(p.opts.LockCheck)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
			err := lock.PingContext(pctx)
			pcancel()
			if err != nil && ctx.Err() == nil {
				log.Error("imap: lost the connection holding the mailbox lock; stopping until it is taken again", "err", err)
				cancel()
				return
			}
		}
	}()
	defer func() { cancel(); <-watched }()

	b := backoff{min: p.opts.MinBackoff, max: p.opts.MaxBackoff}
	st := &mailboxState{name: mailbox, failures: make(map[imap.UID]int)}
	for ctx.Err() == nil {
		progressed, err := p.session(ctx, log, st)
		if ctx.Err() != nil {
			return
		}
		p.failed(st.name, err)
		if progressed {
			b.reset()
		}
		var le *loginError
		if errors.As(err, &le) {
			log.Error("imap: the server rejected the login; check username and password", "err", le.err, "retry_in", p.opts.AuthBackoff)
			sleep(ctx, p.opts.AuthBackoff)
			continue
		}
		delay := b.next()
		log.Warn("imap: session ended; reconnecting", "err", err, "retry_in", delay.Round(time.Millisecond))
		sleep(ctx, delay)
	}
}

// loginError is a login the server refused: retrying soon will not help.
type loginError struct{ err error }

func (e *loginError) Error() string { return "login: " + e.err.Error() }
func (e *loginError) Unwrap() error { return e.err }

// backoff doubles a delay between min and max, with ±50 % jitter so that
// instances and mailboxes do not reconnect in step.
type backoff struct{ min, max, cur time.Duration }

func (b *backoff) reset() { b.cur = 0 }

func (b *backoff) next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.min
	case b.cur < b.max:
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur/2 + rand.N(b.cur)
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
