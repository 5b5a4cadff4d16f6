package mailin

import (
	"bytes"
	"casegate/vocab"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

// Filer files a parsed message; *threads.Store is the implementation.
type Filer interface {
	File(ctx context.Context, in *vocab.Inbound) (vocab.Filed, error)
	AcceptsRecipient(addr string) bool
}

// SMTPOptions configures the SMTP listener. Zero values are the documented
// defaults. The SMTP, LMTP and submission listeners take the same options
// (cmd/casegate builds them in one place), so a message is filed the same
// way whichever way it came.
type SMTPOptions struct {
	Filer   Filer
	Domains []string // recipient domains we accept mail for; others get 550 (no relaying)
	// Hostname is announced in the greeting; default "localhost".
	Hostname string
	// MaxMessageBytes is the size limit (announced as SIZE, enforced with
	// 552); default 25 MiB.
	MaxMessageBytes int64
	// MaxRecipients per transaction; more get 452. Default 100 (RFC 5321 §4.5.3.1.8).
	MaxRecipients int
	// ReadTimeout is how long one read may wait for the client (see
	// sessionConn: per read, not per DATA phase); default 10 minutes.
	ReadTimeout time.Duration
	// FileTimeout bounds filing one message in the database; default 1 minute.
	FileTimeout time.Duration
	// ShutdownGrace is how long Serve waits for sessions to finish after its
	// context ends before it closes them; default 10 seconds.
	ShutdownGrace time.Duration
	Logger        *slog.Logger
	Now           func() time.Time
	// TrustedNetworks are client networks whose connections prove the
	// sender's origin (the organisation's own relay); default none. Their
	// clients are also trusted relays for Authentication-Results, and the
	// per-IP limit does not apply to them.
	TrustedNetworks []netip.Prefix
	// TrustedRelay makes every client of this server a trusted relay for
	// Authentication-Results (RFC 8601 §5): the MTA on the LMTP unix socket.
	// It proves nothing about the sender by itself.
	TrustedRelay bool
	// Observe, when set, is told the outcome of every message: its source
	// ("smtp", "lmtp", "submission"), the result ("filed", "duplicate",
	// "failed", "rejected") and how long filing took. It must not block
	// (metrics).
	Observe func(source, result string, took time.Duration)
	// Mail safety (mailin/safety.go, auth.go, limits.go).
	// Auth verifies senders (DKIM, SPF, DMARC); nil leaves every message
	// without authority.
	Auth *Authenticator
	// MaxHeaderBytes bounds a message's header section; larger gets
	// 552 5.3.4. Default 1 MiB.
	MaxHeaderBytes int
	// MaxConnsPerIP bounds open sessions from one IPv4 address or IPv6 /64;
	// more get 421 4.7.0. Default 20; negative means no limit. A unix socket
	// client has no IP and is not limited by it.
	MaxConnsPerIP int
	// MaxConnections bounds open sessions across all listeners this server
	// serves; more get 421 4.7.0. Default 200; negative means no limit.
	MaxConnections int
	// MaxSessionTime bounds a whole session, however busy: past it the
	// client gets 421 4.4.2 and is disconnected. Default 1 hour, or one
	// DATA phase (DataTimeLimit) and a ReadTimeout more when that is longer;
	// negative means no limit.
	MaxSessionTime time.Duration
	// MinDataRate (bytes per second) sets the time limit of a DATA phase:
	// ReadTimeout + MaxMessageBytes/MinDataRate, so a message of the largest
	// size sent at least this fast fits, and a drip feed does not. Default
	// 20480 (20 KiB/s: 25 MiB in about 21 minutes); negative means no limit.
	MinDataRate int64
	// TLSConfig, when set, offers STARTTLS (RFC 3207) with its certificate.
	TLSConfig *tls.Config
	// Classifier tells journalists, VIPs and public-risk mail apart; nil
	// leaves every message a plain customer's.
	Classifier *Classifier
	// Submission, when set, makes this a submission listener (RFC 6409):
	// SMTP AUTH (RFC 4954) is offered after STARTTLS only and required
	// before MAIL. See submission.go.
	Submission *Submission
}

// SMTPServer receives mail for the support address (RFC 5321). It answers
// 250 to DATA only after the message is committed to the database, and 451
// whenever filing fails, so the sending MTA keeps the message and retries.
type SMTPServer struct {
	opts    SMTPOptions
	domains map[string]bool
	lmtp    bool // speak LMTP (RFC 2033), see lmtp.go
	limiter *connLimiter
}

var (
	_ smtp.Backend = (*SMTPServer)(nil)
	_ smtp.Session = (*session)(nil)
)

// NewSMTPServer returns a server; call Serve with a listener.
func NewSMTPServer(opts SMTPOptions) *SMTPServer {
	opts = opts.WithDefaults()
	d := make(map[string]bool)
	for _, dom := range opts.Domains {
		d[strings.ToLower(dom)] = true
	}
	return &SMTPServer{opts: opts, domains: d, limiter: newConnLimiter(connLimits{
		maxTotal: opts.MaxConnections, maxPerIP: opts.MaxConnsPerIP,
		exempt: opts.TrustedNetworks, maxSession: opts.MaxSessionTime,
	})}
}

// WithDefaults returns o with every zero field set to its documented
// default.
func (opts SMTPOptions) WithDefaults() SMTPOptions {
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	if opts.MaxMessageBytes == 0 {
		opts.MaxMessageBytes = 25 << 20
	}
	if opts.MaxRecipients == 0 {
		opts.MaxRecipients = 100
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = 10 * time.Minute
	}
	if opts.FileTimeout == 0 {
		opts.FileTimeout = time.Minute
	}
	if opts.ShutdownGrace == 0 {
		opts.ShutdownGrace = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxHeaderBytes == 0 {
		opts.MaxHeaderBytes = 1 << 20
	}
	if opts.MaxConnsPerIP == 0 {
		opts.MaxConnsPerIP = 20
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = 200
	}
	if opts.MinDataRate == 0 {
		opts.MinDataRate = 20 << 10
	}
	if opts.MaxSessionTime == 0 {
		// An hour, or one slowest-permitted DATA phase and a read more.
		opts.MaxSessionTime = max(time.Hour, opts.DataTimeLimit()+opts.ReadTimeout)
	}
	return opts
}

// DataTimeLimit is how long one DATA phase may take: ReadTimeout plus
// the time MaxMessageBytes takes at MinDataRate; 0 for no limit. Call it
// on options WithDefaults.
func (o SMTPOptions) DataTimeLimit() time.Duration {
	if o.MinDataRate <= 0 {
		return 0
	}
	return o.ReadTimeout + time.Duration(float64(o.MaxMessageBytes)/float64(o.MinDataRate)*float64(time.Second))
}

// OpenSessions is the number of sessions open now, across the server's
// listeners.
func (s *SMTPServer) OpenSessions() int { return s.limiter.open() }

// Serve accepts connections on l until ctx ends, then lets running sessions
// finish for ShutdownGrace and closes the rest.
func (s *SMTPServer) Serve(ctx context.Context, l net.Listener) error {
	srv := smtp.NewServer(s)
	srv.Domain = s.opts.Hostname
	srv.MaxMessageBytes = s.opts.MaxMessageBytes
	srv.MaxRecipients = s.opts.MaxRecipients
	srv.MaxLineLength = maxLineLength
	srv.ReadTimeout = s.opts.ReadTimeout
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = slogAdapter{s.opts.Logger}
	srv.LMTP = s.lmtp
	srv.TLSConfig = s.opts.TLSConfig
	srv.AllowInsecureAuth = false // AUTH only after STARTTLS (submission.go)
	l = limitedListener{Listener: l, limiter: s.limiter}
	filing := context.WithoutCancel(ctx) // a filing under way finishes even during shutdown
	srv.Backend = smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return s.newSession(filing, c), nil
	})

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	grace, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(grace); err != nil {
		srv.Close()
	}
	// go-smtp closes only the listeners its Serve has registered: one
	// stopped right after it started may not be yet, and would accept on.
	l.Close()
	<-errc
	return nil
}

// NewSession is required by smtp.Backend; Serve installs its own.
func (s *SMTPServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return s.newSession(context.Background(), c), nil
}

func (s *SMTPServer) newSession(ctx context.Context, c *smtp.Conn) smtp.Session {
	ss := &session{srv: s, ctx: ctx, remote: c.Conn().RemoteAddr(), conn: c}
	// Before STARTTLS, go-smtp's conn is the one our listener made.
	ss.limits, _ = c.Conn().(*sessionConn)
	if s.opts.Submission != nil {
		return &submissionSession{session: ss}
	}
	return ss
}

type session struct {
	srv    *SMTPServer
	ctx    context.Context
	remote net.Addr
	conn   *smtp.Conn
	limits *sessionConn // nil when Serve did not make the connection
	login  string       // the SMTP AUTH identity (submission.go)
	from   string
	size   int64 // SIZE= of MAIL FROM (RFC 1870), when the client gave it
	rcpts  []string
}

func (s *session) Reset()        { s.from, s.size, s.rcpts = "", 0, nil }
func (s *session) Logout() error { return nil }

// timeLimit says whether the session's time is up; the session then ends
// after this reply.
func (s *session) timeLimit() error {
	if s.limits == nil {
		return nil
	}
	if err := s.limits.expired(); err != nil {
		s.limits.hangUp()
		return err
	}
	return nil
}

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if err := s.timeLimit(); err != nil {
		return err
	}
	if s.srv.opts.Submission != nil && s.login == "" {
		return errAuthRequired
	}
	s.from, s.size = from, 0
	if opts != nil && opts.Size > 0 && opts.Size <= s.srv.opts.MaxMessageBytes {
		s.size = opts.Size
	}
	return nil
}

// SMTP replies of the listener; the text never carries internal details.
var (
	errRelayDenied = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relaying denied: we accept mail only for our own domains"}
	errNoMailbox   = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox here"}
	errTempFailure = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure storing your message; please try again later"}
)

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	_, domain, ok := strings.Cut(to, "@")
	if !ok || !s.srv.domains[strings.ToLower(domain)] {
		return errRelayDenied
	}
	if !s.srv.opts.Filer.AcceptsRecipient(to) {
		return errNoMailbox
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

// largeMessage is the size above which a filing collects garbage first.
const largeMessage = 8 << 20

// parseForFiling parses a received message that is about to be filed.
// What reading and parsing a large mail left behind (the chunks it was
// read in, decoded parts) is garbage then, and the driver's copy of the
// whole message comes next: collect before it, so the gateway's peak
// stays near twice the mail instead of three or four times (bench
// scenario 7). Large mail is rare; a collection costs milliseconds.
func parseForFiling(raw []byte) *vocab.Inbound {
	in := Parse(raw)
	if len(raw) > largeMessage {
		runtime.GC()
	}
	return in
}

// readMessage reads a message to its end into one slice of its size. A
// client that announced the size (RFC 1870) gets one allocation; without
// it the message is read in chunks and joined once, instead of into a
// buffer that doubles its way up and leaves every smaller copy behind it
// (a 25 MB mail then cost the gateway 1.5 times its size more at its
// peak). On an error it says how much it read, for the log.
func readMessage(r io.Reader, size int64) (raw []byte, read int, err error) {
	if size > 0 {
		var buf bytes.Buffer
		buf.Grow(int(size) + bytes.MinRead)
		_, err := buf.ReadFrom(r)
		return buf.Bytes(), buf.Len(), err
	}
	var chunks [][]byte
	total, chunk := 0, 64<<10
	for {
		b := make([]byte, chunk)
		n, err := io.ReadFull(r, b)
		chunks, total = append(chunks, b[:n]), total+n
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, total, err
		}
		chunk = min(2*chunk, 4<<20)
	}
	if len(chunks) == 1 {
		return chunks[0], total, nil
	}
	out := make([]byte, 0, total)
	for _, b := range chunks {
		out = append(out, b...)
	}
	return out, total, nil
}

func (s *session) Data(r io.Reader) error {
	if s.limits != nil {
		s.limits.startData(s.srv.opts.DataTimeLimit())
		defer s.limits.endData()
	}
	raw, read, err := readMessage(r, s.size)
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) { // e.g. 552 message too big
			s.srv.observe("rejected", 0)
			return se
		}
		if errors.Is(err, smtp.ErrTooLongLine) {
			// Retrying cannot help: say so, and the sender's MTA returns
			// the message to its author.
			return errLineTooLong
		}
		if limit := s.timeLimit(); limit != nil {
			s.srv.opts.Logger.Warn("smtp: time limit reached during DATA; closing", "remote", s.remote, "bytes", read, "reason", limit.(*smtp.SMTPError).Message)
			s.srv.observe("failed", 0)
			return limit
		}
		s.srv.opts.Logger.Warn("smtp: reading message failed", "remote", s.remote, "err", err)
		s.srv.observe("failed", 0)
		return errTempFailure
	}
	if headerEnd(raw) > s.srv.opts.MaxHeaderBytes || headerEnd(raw) < 0 && len(raw) > s.srv.opts.MaxHeaderBytes {
		return errHeaderTooLarge
	}
	in := parseForFiling(raw)
	in.Source = s.srv.source()
	in.EnvelopeFrom = s.from
	in.Recipients = append([]string(nil), s.rcpts...)
	in.ReceivedAt = s.srv.opts.Now()
	if s.from == "" {
		MarkNullSender(in)
	}
	markTrusted(in, s.remote, s.srv.opts.TrustedNetworks)
	s.markLogin(in)
	if s.srv.opts.Auth != nil {
		_, trustedNet := inNetworks(s.remote, s.srv.opts.TrustedNetworks)
		s.srv.opts.Auth.Check(s.ctx, in, Client{IP: ipOf(s.remote), Helo: s.conn.Hostname(),
			TrustedRelay: s.srv.opts.TrustedRelay || trustedNet})
	}
	s.srv.opts.Classifier.Classify(in)
	ctx, cancel := context.WithTimeout(s.ctx, s.srv.opts.FileTimeout)
	defer cancel()
	filed, err := s.srv.opts.Filer.File(ctx, in)
	s.srv.observeFiling(filed, err, s.srv.opts.Now().Sub(in.ReceivedAt))
	log := s.srv.opts.Logger.With("remote", s.remote, "message_id", in.MessageID)
	if err != nil {
		// The one place where an internal error becomes an SMTP reply:
		// always temporary, so the sender keeps the message and retries.
		log.Error("smtp: filing failed; answered 451", "err", err)
		return errTempFailure
	}
	log.Info("smtp: filed", "case", filed.Case, "new_case", filed.NewCase, "duplicate", filed.Duplicate, "bytes", len(raw),
		"quarantined", filed.Quarantined, "bounce", filed.Bounce, "auth", in.Auth.Summary)
	return nil
}

// slogAdapter lets go-smtp's own messages (a session that ended with an
// error, accept errors, panics) reach slog, as one line each with the
// remote address and the error as keys of their own. A client that hangs
// up or resets the connection is normal on the Internet: that is not a
// warning.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) {
	level, msg := slog.LevelWarn, "smtp: "+strings.TrimSpace(fmt.Sprintf(format, v...))
	var attrs []any
	switch {
	case strings.HasPrefix(format, "error handling %v: %s") && len(v) == 2:
		msg = "smtp: session ended with an error"
		attrs = append(attrs, "remote", fmt.Sprint(v[0]), "err", fmt.Sprint(v[1]))
		if err, ok := v[1].(error); ok && clientWentAway(err) {
			level, msg = slog.LevelDebug, "smtp: client went away"
		}
	case strings.HasPrefix(format, "panic serving"):
		level, msg = slog.LevelError, "smtp: panic in a session; it was closed"
		attrs = append(attrs, "detail", strings.TrimSpace(fmt.Sprintf(format, v...)))
	}
	a.l.Log(context.Background(), level, msg, attrs...)
}

func (a slogAdapter) Println(v ...any) {
	a.l.Warn("smtp: " + strings.TrimSpace(fmt.Sprintln(v...)))
}

// clientWentAway reports whether err only says the client closed or reset
// the connection, or stopped answering.
func clientWentAway(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.As(err, &ne) && ne.Timeout()
}
