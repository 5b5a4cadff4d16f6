package mailin

import (
	"bufio"
	"bytes"
	"casegate/vocab"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"golang.org/x/crypto/bcrypt"
)

// Submission is what a submission listener (RFC 6409) needs beyond an SMTP
// listener: accounts and how failed logins are limited. Staff send their
// replies through it with SMTP AUTH (RFC 4954), PLAIN or LOGIN, offered
// only after STARTTLS. An authenticated identity proves a message's sender
// only when it is the message's From address.
type Submission struct {
	// MaxAuthFailures is how many failed logins one client address (IPv4,
	// or IPv6 /64) may make in AuthFailureWindow; after that every AUTH
	// from it gets 454 4.7.0 until the oldest failure is that old. Default 5.
	MaxAuthFailures int
	// AuthFailureWindow; default 15 minutes.
	AuthFailureWindow time.Duration
	// Now is the clock of the failure limit; default time.Now.
	Now func() time.Time

	accounts atomic.Pointer[Accounts]
	once     sync.Once
	mu       sync.Mutex
	failures map[netip.Prefix][]time.Time
}

// SetAccounts puts a (newly read) set of accounts in force; sessions
// already logged in are not affected.
func (sub *Submission) SetAccounts(a *Accounts) { sub.accounts.Store(a) }

// Accounts are the submission logins: a login name (the staff member's
// address) and a bcrypt hash of the password each.
type Accounts struct {
	hashes map[string][]byte // lower-cased login → bcrypt hash
}

// dummyHash is checked for an unknown login, so a login that does not
// exist costs the same time as a wrong password and cannot be told apart.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("no such account"), bcrypt.DefaultCost)
	return h
})

// LoadAccounts reads a users file: one "login:hash" a line, the hash a
// bcrypt hash ("$2a$", "$2b$" or "$2y$", as `casegate hash-password` or
// `htpasswd -nB` write); blank lines and lines starting with "#" are
// skipped. Errors name the line.
func LoadAccounts(path string) (*Accounts, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	a := &Accounts{hashes: make(map[string][]byte)}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		login, hash, ok := strings.Cut(line, ":")
		login = strings.ToLower(strings.TrimSpace(login))
		if !ok || login == "" {
			return nil, fmt.Errorf("%s:%d: want login:bcrypt-hash", path, n)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("%s:%d: %s: not a bcrypt hash (%v); make one with casegate hash-password", path, n, login, err)
		}
		if _, dup := a.hashes[login]; dup {
			return nil, fmt.Errorf("%s:%d: %s is listed twice", path, n, login)
		}
		a.hashes[login] = []byte(hash)
	}
	return a, sc.Err()
}

// Len is the number of accounts.
func (a *Accounts) Len() int { return len(a.hashes) }

// verify reports whether password is login's.
func (a *Accounts) verify(login, password string) bool {
	hash, ok := a.hashes[strings.ToLower(login)]
	if !ok {
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
}

// HashPassword returns the bcrypt hash of password for a users file.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// Replies of the submission listener (RFC 4954 §6).
var (
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
		Message: "Authentication required: this is the submission port; log in with AUTH after STARTTLS"}
	errAuthInvalid = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
		Message: "Authentication credentials invalid"}
	errAuthTooMany = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Too many failed logins from your address; try again later"}
	errAuthMalformed = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
		Message: "Malformed authentication exchange"}
)

func (sub *Submission) init() {
	sub.once.Do(func() {
		if sub.MaxAuthFailures == 0 {
			sub.MaxAuthFailures = 5
		}
		if sub.AuthFailureWindow == 0 {
			sub.AuthFailureWindow = 15 * time.Minute
		}
		if sub.Now == nil {
			sub.Now = time.Now
		}
		sub.failures = make(map[netip.Prefix][]time.Time)
	})
}

// recentFailures returns the client's failures within the window, dropping
// older ones.
func (sub *Submission) recentFailures(key netip.Prefix) []time.Time {
	cut := sub.Now().Add(-sub.AuthFailureWindow)
	list := sub.failures[key]
	i := 0
	for i < len(list) && !list[i].After(cut) {
		i++
	}
	list = list[i:]
	if len(list) == 0 {
		delete(sub.failures, key)
	} else {
		sub.failures[key] = list
	}
	return list
}

// blocked reports whether the client at a has used up its failed logins.
func (sub *Submission) blocked(a net.Addr) bool {
	sub.init()
	key, ok := clientKey(a)
	if !ok {
		return false
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return len(sub.recentFailures(key)) >= sub.MaxAuthFailures
}

func (sub *Submission) failed(a net.Addr) {
	sub.init()
	key, ok := clientKey(a)
	if !ok {
		return
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.failures[key] = append(sub.recentFailures(key), sub.Now())
}

// submissionSession is a session of the submission listener: the SMTP
// session plus AUTH (go-smtp's AuthSession).
type submissionSession struct {
	*session
}

var _ smtp.AuthSession = (*submissionSession)(nil)

func (s *submissionSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *submissionSession) Auth(mech string) (sasl.Server, error) {
	sub := s.srv.opts.Submission
	if sub.blocked(s.remote) {
		return nil, errAuthTooMany
	}
	check := func(identity, login, password string) error {
		if identity != "" && !strings.EqualFold(identity, login) {
			// RFC 4616 §2: acting as someone else is not offered.
			sub.failed(s.remote)
			return errAuthInvalid
		}
		if a := sub.accounts.Load(); a == nil || !a.verify(login, password) {
			sub.failed(s.remote)
			s.srv.opts.Logger.Warn("submission: failed login", "remote", s.remote, "login", login)
			return errAuthInvalid
		}
		s.login = strings.ToLower(login)
		s.srv.opts.Logger.Info("submission: logged in", "remote", s.remote, "login", s.login)
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(check), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// markLogin sets in.Auth.SMTPAuth when the client logged in as the
// message's From address: only then does the login prove who wrote it.
func (s *session) markLogin(in *vocab.Inbound) {
	if s.login == "" {
		return
	}
	note := "smtp.auth=" + s.login
	if strings.EqualFold(in.From.Address, s.login) && !in.MultipleFrom {
		in.Auth.SMTPAuth = s.login
	} else {
		note += fmt.Sprintf(" (not the From address %s: proves nothing)", in.From.Address)
	}
	if in.Auth.Summary != "" {
		in.Auth.Summary += "; "
	}
	in.Auth.Summary += note
}

// loginServer is the server side of the LOGIN mechanism
// (draft-murchison-sasl-login), which go-sasl offers only as a client:
// older Outlook and some phones know no other.
type loginServer struct {
	check func(identity, login, password string) error
	login string
	step  int
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(response) == 0 { // no initial response: ask for the name
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.login, l.step = string(response), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		if l.login == "" {
			return nil, true, errAuthMalformed
		}
		return nil, true, l.check("", l.login, string(response))
	}
	return nil, true, errors.New("unexpected response after LOGIN completed")
}
