package mailin

import (
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// maxLineLength bounds one line of a command or of a message. Real mail
// breaks RFC 5322's 998 (maddy allows 4000; we have seen longer headers),
// and a whole message is held in memory anyway, so the bound is generous.
const maxLineLength = 64 << 10

// Replies of the listener's limits: permanent, since a retry of the same
// message cannot pass, and clear, since the author gets them back.
var (
	errLineTooLong = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: "Message has a line longer than 65536 characters; please wrap it"}
	errHeaderTooLarge = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: "Message header too large"}
)

// perIPListener refuses a client's connection beyond max open ones from
// the same IP address with "421" (RFC 5321 §3.8), so one host cannot take
// every session.
type perIPListener struct {
	net.Listener
	max  int
	mu   sync.Mutex
	open map[string]int
}

func limitPerIP(l net.Listener, max int) net.Listener {
	if max <= 0 {
		return l
	}
	return &perIPListener{Listener: l, max: max, open: make(map[string]int)}
}

func (l *perIPListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := hostOf(c.RemoteAddr())
		l.mu.Lock()
		over := l.open[ip] >= l.max
		if !over {
			l.open[ip]++
		}
		l.mu.Unlock()
		if !over {
			return &countedConn{Conn: c, release: func() { l.release(ip) }}, nil
		}
		// Answer in the background so a slow client cannot stall Accept;
		// the deadline bounds the goroutine.
		go func() {
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte("421 4.7.0 Too many connections from your address; try again later\r\n"))
			c.Close()
		}()
	}
}

func (l *perIPListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip]--; l.open[ip] <= 0 {
		delete(l.open, ip)
	}
}

type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// ipOf is the client's IP for SPF, or nil.
func ipOf(a net.Addr) net.IP {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP
	}
	return net.ParseIP(hostOf(a))
}

// idleListener gives every connection idle-timeout semantics: go-smtp sets
// one absolute read deadline for a whole DATA phase, which fails a slow but
// steady upload of a large message (see LIBRARY-NOTES). Here each Read
// instead gets the same length of time from its own start, so a client that
// keeps sending is never cut off, and one that stalls for the read timeout
// still is.
type idleListener struct{ net.Listener }

func (l idleListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &idleConn{Conn: c}, nil
}

type idleConn struct {
	net.Conn
	mu   sync.Mutex
	idle time.Duration // 0: no deadline
}

// SetReadDeadline records how long a read may wait, as go-smtp means it.
func (c *idleConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.idle = 0
	if !t.IsZero() {
		c.idle = max(time.Until(t), time.Millisecond)
	}
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *idleConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	idle := c.idle
	c.mu.Unlock()
	if idle > 0 {
		c.Conn.SetReadDeadline(time.Now().Add(idle))
	}
	return c.Conn.Read(p)
}
