package gatewaytest

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Relay is the smarthost double: a real go-smtp server on loopback that
// accepts mail from anyone, keeps one copy per accepted recipient, as the
// mailbox of that recipient would, and answers RCPT for the recipients a
// test chooses with a failure (Reject, FailWith).
type Relay struct {
	Addr string // host:port

	mu     sync.Mutex
	got    []received
	fail   func(rcpt string) *smtp.SMTPError
	hellos []string // the EHLO names of its sessions
}

type received struct {
	from, to string
	raw      []byte
}

// StartRelay starts a relay on 127.0.0.1:0 and stops it when the test ends.
func StartRelay(t testing.TB) *Relay {
	t.Helper()
	return StartRelayAt(t, "127.0.0.1:0")
}

// StartRelayAt starts a relay listening on addr (a relay that comes up
// where the gateway expected one) and stops it when the test ends.
func StartRelayAt(t testing.TB, addr string) *Relay {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("gatewaytest: relay: %v", err)
	}
	r := &Relay{Addr: l.Addr().String()}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		r.mu.Lock()
		r.hellos = append(r.hellos, c.Hostname())
		r.mu.Unlock()
		return &relaySession{r: r}, nil
	}))
	srv.Domain = "relay.test"
	srv.ReadTimeout = time.Minute
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return r
}

// Reject makes the relay refuse the addresses for good (550 5.1.1), as a
// mailbox that does not exist.
func (r *Relay) Reject(addrs ...string) {
	reject := map[string]bool{}
	for _, a := range addrs {
		reject[strings.ToLower(a)] = true
	}
	r.FailWith(func(rcpt string) *smtp.SMTPError {
		if reject[strings.ToLower(rcpt)] {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
		}
		return nil
	})
}

// FailWith makes the relay answer RCPT TO:<rcpt> with fail(rcpt) when it
// is not nil: a 4xx is a temporary failure, a 5xx a permanent one.
func (r *Relay) FailWith(fail func(rcpt string) *smtp.SMTPError) {
	r.mu.Lock()
	r.fail = fail
	r.mu.Unlock()
}

// Hellos are the EHLO names of the sessions so far.
func (r *Relay) Hellos() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.hellos...)
}

// Mails returns every mail received so far, one per recipient, in the
// order they arrived.
func (r *Relay) Mails(t testing.TB) []Mail {
	t.Helper()
	r.mu.Lock()
	got := append([]received(nil), r.got...)
	r.mu.Unlock()
	out := make([]Mail, len(got))
	for i, g := range got {
		out[i] = ParseMail(t, g.raw)
		out[i].From, out[i].Rcpts = g.from, []string{g.to}
	}
	return out
}

// To returns the mails received for addr so far, without waiting.
func (r *Relay) To(t testing.TB, addr string) []Mail {
	t.Helper()
	var out []Mail
	for _, m := range r.Mails(t) {
		if strings.EqualFold(m.Rcpts[0], addr) {
			out = append(out, m)
		}
	}
	return out
}

// WaitTo waits (up to 20 s) until exactly n mails for addr have arrived
// and returns them; more than n fails the test.
func (r *Relay) WaitTo(t testing.TB, addr string, n int) []Mail {
	t.Helper()
	return r.wait(t, n, addr, func() []Mail { return r.To(t, addr) })
}

// Wait waits (up to 20 s) until exactly n mails have arrived in all and
// returns them; more than n fails the test.
func (r *Relay) Wait(t testing.TB, n int) []Mail {
	t.Helper()
	return r.wait(t, n, "anyone", func() []Mail { return r.Mails(t) })
}

func (r *Relay) wait(t testing.TB, n int, who string, read func() []Mail) []Mail {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := read()
		if len(got) == n {
			return got
		}
		if len(got) > n || time.Now().After(deadline) {
			var list []string
			for _, m := range got {
				list = append(list, m.Rcpts[0]+": "+m.Subject)
			}
			t.Fatalf("the relay has %d mails for %s, want %d:\n  %s", len(got), who, n, strings.Join(list, "\n  "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type relaySession struct {
	r     *Relay
	from  string
	rcpts []string
}

func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.r.mu.Lock()
	fail := s.r.fail
	s.r.mu.Unlock()
	if fail != nil {
		if err := fail(to); err != nil {
			return err
		}
	}
	s.rcpts = append(s.rcpts, strings.ToLower(to))
	return nil
}

func (s *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	for _, rcpt := range s.rcpts {
		s.r.got = append(s.r.got, received{from: s.from, to: rcpt, raw: b})
	}
	return nil
}

func (s *relaySession) Reset()        { s.from, s.rcpts = "", nil }
func (s *relaySession) Logout() error { return nil }
