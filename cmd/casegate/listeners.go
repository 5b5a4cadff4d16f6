package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"casegate/mailin"
)

// SubmissionConfig is [submission]: a listener where staff send their
// replies with SMTP AUTH (RFC 6409, RFC 4954), after STARTTLS.
type SubmissionConfig struct {
	Listen            []string `toml:"listen"`              // host:port, e.g. ["0.0.0.0:587"]; empty: none
	UsersFile         string   `toml:"users_file"`          // login:bcrypt-hash lines (casegate hash-password)
	MaxAuthFailures   int      `toml:"max_auth_failures"`   // per client address and window; default 5
	AuthFailureWindow Duration `toml:"auth_failure_window"` // default 15m
}

// validateListeners checks the session limits of [smtp], [submission] and
// [outbound] failing_unready_after, and reads the submission users file.
func (c *Config) validateListeners(bad func(key, format string, args ...any) error) error {
	if c.SMTP.MaxConnections < -1 {
		return bad("smtp.max_connections", "must be positive, or -1 for no limit")
	}
	if c.SMTP.MaxSessionTime.Duration < 0 {
		return bad("smtp.max_session_time", "must not be negative")
	}
	if c.SMTP.MinDataRate < -1 {
		return bad("smtp.min_data_rate", "must be positive (bytes per second), or -1 for no DATA time limit")
	}
	o := c.sessionLimits().WithDefaults()
	if data := o.DataTimeLimit(); data > 0 && c.SMTP.MaxSessionTime.Duration > 0 && o.MaxSessionTime < data {
		return bad("smtp.max_session_time", "%v is shorter than one DATA phase may take (read_timeout %v + max_message_bytes %d at min_data_rate %d bytes/s = %v): raise it",
			o.MaxSessionTime, o.ReadTimeout, o.MaxMessageBytes, o.MinDataRate, data.Round(time.Second))
	}
	if c.Outbound.FailingUnreadyAfter.Duration < 0 {
		return bad("outbound.failing_unready_after", "must not be negative")
	}
	s := &c.Submission
	if s.MaxAuthFailures < 0 {
		return bad("submission.max_auth_failures", "must not be negative")
	}
	if s.AuthFailureWindow.Duration < 0 {
		return bad("submission.auth_failure_window", "must not be negative")
	}
	c.submissionAccounts = nil
	if len(s.Listen) == 0 {
		return nil
	}
	for _, l := range s.Listen {
		if _, _, err := net.SplitHostPort(l); err != nil {
			return bad("submission.listen", "%q: %v", l, err)
		}
	}
	if c.SMTP.TLSCert == "" {
		return bad("submission.listen", "needs [smtp] tls_cert and tls_key: passwords are only ever taken over TLS")
	}
	if s.UsersFile == "" {
		return bad("submission.users_file", "required with submission.listen: a file of login:bcrypt-hash lines (casegate hash-password)")
	}
	accounts, err := mailin.LoadAccounts(c.resolve(s.UsersFile))
	if err != nil {
		return bad("submission.users_file", "%v", err)
	}
	c.submissionAccounts = accounts
	return nil
}

// sessionLimits are the [smtp] settings every mail listener shares.
func (c *Config) sessionLimits() mailin.SMTPOptions {
	return mailin.SMTPOptions{
		Hostname:        c.SMTP.Hostname,
		MaxMessageBytes: c.SMTP.MaxMessageBytes,
		MaxRecipients:   c.SMTP.MaxRecipients,
		ReadTimeout:     c.SMTP.ReadTimeout.Duration,
		MaxHeaderBytes:  c.SMTP.MaxHeaderBytes,
		MaxConnsPerIP:   c.SMTP.MaxConnsPerIP,
		MaxConnections:  c.SMTP.MaxConnections,
		MaxSessionTime:  c.SMTP.MaxSessionTime.Duration,
		MinDataRate:     c.SMTP.MinDataRate,
	}
}

// Kinds of mail listener.
const (
	kindSMTP       = "smtp"
	kindLMTP       = "lmtp"
	kindSubmission = "submission"
)

// mailListenerOptions is the one place a configuration becomes the options
// of a mail listener. SMTP, LMTP and submission get the same filer,
// classifier, authenticator, trusted networks, header and session limits,
// TLS and clock, so a message is filed the same way whichever way it came
// (DESIGN.md); they differ only in what the kind is about: LMTP's relay may
// be trusted for Authentication-Results, submission takes logins.
func mailListenerOptions(c *Config, kind string, filer mailin.Filer, log *slog.Logger, observe func(source, result string, took time.Duration), sub *mailin.Submission) (mailin.SMTPOptions, error) {
	tlsConfig, err := smtpTLS(c)
	if err != nil {
		return mailin.SMTPOptions{}, err
	}
	o := c.sessionLimits()
	o.Filer = filer
	o.Domains = c.SMTP.Domains
	o.Logger = log.With("listener", kind)
	o.Now = c.now
	o.TrustedNetworks = c.Staff.trusted
	o.Observe = observe
	o.Auth = authenticator(c)
	o.Classifier = c.classifier
	o.TLSConfig = tlsConfig
	switch kind {
	case kindLMTP:
		o.TrustedRelay = c.lmtpTrustsAuthenticationResults()
	case kindSubmission:
		o.Submission = sub
	}
	return o, nil
}

// lmtpTrustsAuthenticationResults is [lmtp] trust_authentication_results
// with its default: only the MTA can reach a unix socket of mode 0660.
func (c *Config) lmtpTrustsAuthenticationResults() bool {
	if t := c.LMTP.TrustAuthenticationResults; t != nil {
		return *t
	}
	network, _ := c.lmtpNetwork()
	return network == "unix"
}

// newSubmission is the submission listener's accounts and login limits,
// or nil without [submission] listen.
func newSubmission(c *Config) *mailin.Submission {
	if len(c.Submission.Listen) == 0 {
		return nil
	}
	sub := &mailin.Submission{MaxAuthFailures: c.Submission.MaxAuthFailures, AuthFailureWindow: c.Submission.AuthFailureWindow.Duration, Now: c.now}
	sub.SetAccounts(c.submissionAccounts)
	return sub
}

// mailListener is one bound mail listener, and what /readyz says of it.
type mailListener struct {
	kind    string
	l       net.Listener
	socket  *ownedSocket // the LMTP unix socket; nil otherwise
	server  *mailin.SMTPServer
	serving atomic.Bool // its Serve runs
}

func (m *mailListener) String() string { return m.kind + " " + m.l.Addr().String() }

// problem is why the listener cannot take mail, or "".
func (m *mailListener) problem() string {
	switch {
	case !m.serving.Load():
		return m.String() + ": not accepting connections"
	case m.socket != nil && !m.socket.stillOurs():
		return m.String() + ": the socket file was removed or replaced by another process; restart casegate to listen there again"
	}
	return ""
}

// bindMailListeners binds every configured mail listener: [smtp] listen in
// order, then [lmtp] listen, then [submission] listen. On error nothing
// stays bound.
func bindMailListeners(c *Config) ([]*mailListener, error) {
	var bound []*mailListener
	fail := func(err error) ([]*mailListener, error) {
		closeMailListeners(bound)
		return nil, err
	}
	for _, a := range c.SMTP.Listen {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return fail(fmt.Errorf("smtp.listen %s: %w", a, err))
		}
		bound = append(bound, &mailListener{kind: kindSMTP, l: l})
	}
	if c.LMTP.Listen != "" {
		l, socket, err := listenLMTP(c)
		if err != nil {
			return fail(err)
		}
		bound = append(bound, &mailListener{kind: kindLMTP, l: l, socket: socket})
	}
	for _, a := range c.Submission.Listen {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return fail(fmt.Errorf("submission.listen %s: %w", a, err))
		}
		bound = append(bound, &mailListener{kind: kindSubmission, l: l})
	}
	return bound, nil
}

// closeMailListeners closes the listeners and removes the LMTP socket file
// if it is still the one casegate made.
func closeMailListeners(ls []*mailListener) {
	for _, m := range ls {
		m.l.Close()
		if m.socket != nil {
			m.socket.remove()
		}
	}
}

// ownedSocket is a unix socket file casegate created: it removes it when
// it stops, but only while the path still names that very socket, never
// one another process put there since.
type ownedSocket struct {
	path string
	info os.FileInfo
}

func (s *ownedSocket) stillOurs() bool {
	fi, err := os.Lstat(s.path)
	return err == nil && os.SameFile(fi, s.info)
}

func (s *ownedSocket) remove() {
	if s.stillOurs() {
		os.Remove(s.path)
	}
}

// ErrSocketInUse means another process listens on the LMTP socket.
var errSocketInUse = errors.New("in use by a running process")

// listenLMTP binds [lmtp] listen: a unix socket (the mode lets the MTA's
// group connect) or a TCP port. A socket file is taken over only when it is
// stale: when a connection to it is refused. A live listener there
// (another casegate serving the same path) is an error, never replaced.
func listenLMTP(c *Config) (net.Listener, *ownedSocket, error) {
	network, address := c.lmtpNetwork()
	if network != "unix" {
		l, err := net.Listen(network, address)
		if err != nil {
			return nil, nil, fmt.Errorf("lmtp.listen %s: %w", address, err)
		}
		return l, nil, nil
	}
	if fi, err := os.Lstat(address); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, nil, configErrorf("%s: lmtp.listen: %s exists and is not a socket", c.path, address)
		}
		conn, err := net.DialTimeout("unix", address, 2*time.Second)
		switch {
		case err == nil:
			conn.Close()
			return nil, nil, fmt.Errorf("lmtp.listen: %s is %w (another casegate serve with the same configuration?); refusing to take it over", address, errSocketInUse)
		case !errors.Is(err, syscall.ECONNREFUSED):
			return nil, nil, fmt.Errorf("lmtp.listen: cannot tell whether %s is in use, so leaving it alone: %w", address, err)
		}
		if err := os.Remove(address); err != nil { // stale: left by a crash
			return nil, nil, fmt.Errorf("lmtp.listen: remove stale socket: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("lmtp.listen: %w", err)
	}
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, nil, fmt.Errorf("lmtp.listen %s: %w", address, err)
	}
	// Removing the file is ours to decide (ownedSocket), not Close's.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	fi, err := os.Lstat(address)
	if err == nil {
		err = os.Chmod(address, c.lmtpSocketMode())
	}
	if err != nil {
		l.Close()
		os.Remove(address)
		return nil, nil, fmt.Errorf("lmtp.listen: %w", err)
	}
	return l, &ownedSocket{path: address, info: fi}, nil
}

// deliveryHealth follows the outbox sender's attempts for /readyz: outgoing
// delivery is failing when every attempt for longer than after ended in a
// temporary failure (the relay unreachable, refusing, 4xx). A permanent
// failure is one recipient's problem, not the relay's, and does not count.
type deliveryHealth struct {
	now   func() time.Time
	after time.Duration

	mu           sync.Mutex
	failingSince time.Time // zero: the last attempt went through, or none failed
	failures     int
}

func newDeliveryHealth(c *Config) *deliveryHealth {
	after := c.Outbound.FailingUnreadyAfter.Duration
	if after == 0 {
		after = 15 * time.Minute
	}
	now := c.now
	if now == nil {
		now = time.Now
	}
	return &deliveryHealth{now: now, after: after}
}

// observe is told each attempt's result: "sent", "deferred" or "failed".
func (h *deliveryHealth) observe(result string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch result {
	case "sent":
		h.failingSince, h.failures = time.Time{}, 0
	case "deferred":
		if h.failingSince.IsZero() {
			h.failingSince = h.now()
		}
		h.failures++
	}
}

// problem is what /readyz says when delivery has been failing too long.
func (h *deliveryHealth) problem() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failingSince.IsZero() {
		return ""
	}
	failing := h.now().Sub(h.failingSince)
	if failing < h.after {
		return ""
	}
	return fmt.Sprintf("outbound: every delivery attempt since %s failed (%d attempts, for %s); check the relay and `casegate outbox`",
		h.failingSince.UTC().Format(time.RFC3339), h.failures, failing.Round(time.Second))
}
