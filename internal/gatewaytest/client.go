package gatewaytest

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Client hands mail to a listener as an MTA or a mail client does. The
// zero value speaks SMTP from the address the system picks.
type Client struct {
	// LMTP speaks LMTP (RFC 2033) instead of SMTP.
	LMTP bool
	// Source is the loopback address to connect from, e.g. "127.0.0.2"
	// (a client outside the trusted networks); default the system's.
	Source string
	// Hello is the EHLO/LHLO name; default "localhost".
	Hello string
}

// Send submits raw over SMTP to addr, as a real client does, and returns
// the server's verdict: nil for 250, else an *smtp.SMTPError. raw may use
// LF line endings; they are sent as CRLF.
func Send(t testing.TB, addr, from string, to []string, raw string) error {
	t.Helper()
	return Client{}.Send(t, addr, from, to, raw)
}

// Send submits raw to addr (host:port, or a unix socket path starting
// with "/") and returns the server's verdict: nil for 250 (over LMTP: for
// every recipient), else the error. A connection that fails fails the test.
func (c Client) Send(t testing.TB, addr, from string, to []string, raw string) error {
	t.Helper()
	sc := c.dial(t, addr)
	defer sc.Close()
	if err := c.hello(sc); err != nil {
		return err
	}
	return sc.SendMail(from, to, strings.NewReader(crlf(raw)))
}

// SendLMTP delivers raw over LMTP to addr and returns the reply for each
// recipient (RFC 2033 §4.2), or the error of the command that failed
// before DATA ended.
func (c Client) SendLMTP(t testing.TB, addr, from string, to []string, raw string) (map[string]*smtp.DataResponse, error) {
	t.Helper()
	c.LMTP = true
	sc := c.dial(t, addr)
	defer sc.Close()
	if err := c.hello(sc); err != nil {
		return nil, err
	}
	if err := sc.Mail(from, nil); err != nil {
		return nil, err
	}
	for _, r := range to {
		if err := sc.Rcpt(r, nil); err != nil {
			return nil, err
		}
	}
	w, err := sc.Data()
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(w, crlf(raw)); err != nil {
		return nil, err
	}
	return w.CloseWithLMTPResponse()
}

func (c Client) dial(t testing.TB, addr string) *smtp.Client {
	t.Helper()
	var conn net.Conn
	var err error
	if strings.HasPrefix(addr, "/") {
		conn, err = net.DialTimeout("unix", addr, 10*time.Second)
	} else {
		d := net.Dialer{Timeout: 10 * time.Second}
		if c.Source != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(c.Source)}
		}
		conn, err = d.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	sc := smtp.NewClient(conn)
	if c.LMTP {
		sc = smtp.NewClientLMTP(conn)
	}
	return sc
}

func (c Client) hello(sc *smtp.Client) error {
	if c.Hello == "" {
		return nil // the client says EHLO localhost itself
	}
	return sc.Hello(c.Hello)
}

// SMTPCode is the reply code of an SMTP error, 0 for nil or another error.
func SMTPCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
