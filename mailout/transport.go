package mailout

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// PermanentError marks a delivery failure that retrying cannot fix, such as
// a 5xx reply. Every other error is treated as temporary (as maddy's queue
// does): an unknown failure is retried, never dropped.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err says the delivery can never succeed.
func IsPermanent(err error) bool {
	var pe *PermanentError
	if errors.As(err, &pe) {
		return true
	}
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code >= 500
}

// SmarthostOptions configures delivery through a relay.
type SmarthostOptions struct {
	Address  string // host:port
	Username string // AUTH PLAIN when not empty; needs TLS unless the relay is loopback
	Password string
	// TLS is "starttls" (the default: refuse to send without it),
	// "implicit" (TLS from the first byte, port 465) or "none".
	TLS string
	// TLSConfig verifies the relay's certificate; nil means the system
	// roots and the host part of Address.
	TLSConfig *tls.Config
	HeloName  string        // default "localhost"
	Timeout   time.Duration // dial and per-command timeout; default 1 minute
}

// Smarthost delivers each mail through an SMTP relay. It keeps a few idle
// connections open between deliveries, since a TLS handshake and AUTH cost
// more than a transaction.
type Smarthost struct {
	opts SmarthostOptions
	idle chan *smtp.Client
}

// NewSmarthost returns a transport to the relay in opts.
func NewSmarthost(opts SmarthostOptions) *Smarthost {
	if opts.TLS == "" {
		opts.TLS = "starttls"
	}
	if opts.HeloName == "" {
		opts.HeloName = "localhost"
	}
	if opts.Timeout == 0 {
		opts.Timeout = time.Minute
	}
	if opts.TLSConfig == nil {
		host, _, _ := net.SplitHostPort(opts.Address)
		opts.TLSConfig = &tls.Config{ServerName: host}
	}
	return &Smarthost{opts: opts, idle: make(chan *smtp.Client, 16)}
}

// Deliver sends raw from the envelope sender from to one recipient. A reply
// of 5xx gives a permanent error; anything else, a temporary one. A lost
// connection after the final dot leaves the outcome unknown: the caller
// retries with the same bytes and Message-ID.
func (s *Smarthost) Deliver(ctx context.Context, env Envelope, raw []byte) error {
	from, to := env.From, env.To
	c, reused, err := s.client(ctx)
	if err != nil {
		return err
	}
	err = s.send(c, from, to, raw)
	var se *smtp.SMTPError
	if err != nil && reused && !errors.As(err, &se) && !errors.Is(err, errAfterData) {
		// The idle connection died while we did not look; nothing was
		// accepted on it, so a fresh one may try.
		c.Close()
		if c, err = s.dial(ctx); err != nil {
			return err
		}
		err = s.send(c, from, to, raw)
	}
	if err != nil {
		c.Close()
		return fmt.Errorf("send via %s: %w", s.opts.Address, err)
	}
	select {
	case s.idle <- c:
	default:
		c.Quit()
	}
	return nil
}

// errAfterData marks a failure after the message was handed over, when the
// relay may have accepted it: never retried on another connection at once.
var errAfterData = errors.New("connection failed after the data was sent")

func (s *Smarthost) send(c *smtp.Client, from, to string, raw []byte) error {
	c.CommandTimeout = s.opts.Timeout
	c.SubmissionTimeout = 10 * time.Minute // RFC 5321 §4.5.3.2.6
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		c.Reset()
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("%w: %v", errAfterData, err)
	}
	if err := w.Close(); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return err
		}
		return fmt.Errorf("%w: %v", errAfterData, err)
	}
	return nil
}

// client returns an idle connection or a new one.
func (s *Smarthost) client(ctx context.Context) (c *smtp.Client, reused bool, err error) {
	select {
	case c = <-s.idle:
		return c, true, nil
	default:
	}
	c, err = s.dial(ctx)
	return c, false, err
}

func (s *Smarthost) dial(ctx context.Context) (*smtp.Client, error) {
	d := net.Dialer{Timeout: s.opts.Timeout}
	var conn net.Conn
	var err error
	if s.opts.TLS == "implicit" {
		td := tls.Dialer{NetDialer: &d, Config: s.opts.TLSConfig}
		conn, err = td.DialContext(ctx, "tcp", s.opts.Address)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.opts.Address)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", s.opts.Address, err)
	}
	var c *smtp.Client
	if s.opts.TLS == "starttls" {
		c, err = smtp.NewClientStartTLS(conn, s.opts.TLSConfig)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("starttls %s: %w", s.opts.Address, err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout = s.opts.Timeout
	if err := c.Hello(s.opts.HeloName); err != nil {
		c.Close()
		return nil, fmt.Errorf("hello %s: %w", s.opts.Address, err)
	}
	if s.opts.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.opts.Username, s.opts.Password)); err != nil {
			c.Close()
			return nil, fmt.Errorf("auth %s: %w", s.opts.Address, err)
		}
	}
	return c, nil
}

// Close ends the idle connections.
func (s *Smarthost) Close() error {
	for {
		select {
		case c := <-s.idle:
			c.Quit()
		default:
			return nil
		}
	}
}

// Maildir delivers every mail into one Maildir, for development and tests:
// the file appears in new/ only once it is complete (written in tmp/, then
// renamed), as the Maildir convention requires. Each delivery's file is
// named after its key, so a delivery attempted again after a crash (sent,
// but not recorded as sent) finds its file and is not written twice.
type Maildir struct {
	dir string
}

// NewMaildir creates dir/{tmp,new,cur} when missing.
func NewMaildir(dir string) (*Maildir, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
	}
	return &Maildir{dir: dir}, nil
}

// Deliver writes raw with Return-Path and Delivered-To headers, as a local
// delivery agent would, unless the delivery's file is there already (in
// new/, or in cur/ where a mail client moved it).
func (m *Maildir) Deliver(ctx context.Context, env Envelope, raw []byte) error {
	key := env.Key
	if key == "" {
		key = "x" + strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	name := key + ".casegate"
	if m.delivered(name) {
		return nil
	}
	tmp := filepath.Join(m.dir, "tmp", name+"."+strconv.Itoa(os.Getpid()))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	_, err = fmt.Fprintf(f, "Return-Path: <%s>\r\nDelivered-To: %s\r\n", env.From, env.To)
	if err == nil {
		_, err = f.Write(raw)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(m.dir, "new", name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("maildir: %w", err)
	}
	return nil
}

// delivered reports whether the file name is in new/ or cur/ (where a
// client adds ":2,<flags>").
func (m *Maildir) delivered(name string) bool {
	if _, err := os.Stat(filepath.Join(m.dir, "new", name)); err == nil {
		return true
	}
	if _, err := os.Stat(filepath.Join(m.dir, "cur", name)); err == nil {
		return true
	}
	found, _ := filepath.Glob(filepath.Join(m.dir, "cur", name+":2,*"))
	return len(found) > 0
}
