package mailin

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// maxLineLength bounds one line of a command or of a message. Real mail
// breaks RFC 5322's 998 (maddy allows 4000; we have seen longer headers),
// and a whole message is held in memory anyway, so the bound is generous.
const maxLineLength = 64 << 10

// Replies of the listener's limits. Size limits are permanent, since a
// retry of the same message cannot pass, and clear, since the author gets
// them back; time limits are temporary (RFC 5321 §4.2.5: 421 closes).
var (
	errLineTooLong = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: "Message has a line longer than 65536 characters; please wrap it"}
	errHeaderTooLarge = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: "Message header too large"}
	errDataTooSlow = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2},
		Message: "Message transfer too slow: time limit for this message reached; closing connection"}
	errSessionTooLong = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2},
		Message: "Session time limit reached; closing connection, please reconnect"}
)

// The 421 lines written to a connection refused at accept (RFC 5321 §3.8).
const (
	refusedTooManyConnections = "421 4.7.0 Too many open connections to this server; try again later\r\n"
	refusedTooManyFromClient  = "421 4.7.0 Too many connections from your address; try again later\r\n"
)

// connLimits are the bounds on what clients can hold open; see
// SMTPOptions for their meaning and defaults.
type connLimits struct {
	maxTotal   int // open sessions across the server's listeners; <= 0 none
	maxPerIP   int // from one IPv4 address or IPv6 /64; <= 0 none
	exempt     []netip.Prefix
	maxSession time.Duration // <= 0 none
}

// connLimiter counts a server's open sessions, for all its listeners at
// once, and refuses connections beyond its limits with a 421 at once, so
// one host (or a crowd) holding sessions open cannot take every session
// and the process stays within its means.
type connLimiter struct {
	limits connLimits
	mu     sync.Mutex
	total  int
	perIP  map[netip.Prefix]int
}

func newConnLimiter(l connLimits) *connLimiter {
	return &connLimiter{limits: l, perIP: make(map[netip.Prefix]int)}
}

// clientKey is what the per-IP limit counts: an IPv4 address, or the /64
// of an IPv6 address, since one host commonly holds a whole /64 (RFC
// 7421). A unix socket peer has none (false).
func clientKey(a net.Addr) (netip.Prefix, bool) {
	ip, ok := addrIP(a)
	if !ok {
		return netip.Prefix{}, false
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// admit counts c in, or says which 421 line refuses it.
func (l *connLimiter) admit(c net.Conn) (release func(), refusal string) {
	key, hasKey := clientKey(c.RemoteAddr())
	if hasKey {
		if _, exempt := inNetworks(c.RemoteAddr(), l.limits.exempt); exempt {
			hasKey = false // trusted networks: an MTA in front opens many sessions
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limits.maxTotal > 0 && l.total >= l.limits.maxTotal {
		return nil, refusedTooManyConnections
	}
	if hasKey && l.limits.maxPerIP > 0 && l.perIP[key] >= l.limits.maxPerIP {
		return nil, refusedTooManyFromClient
	}
	l.total++
	if hasKey {
		l.perIP[key]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.total--
			if hasKey {
				if l.perIP[key]--; l.perIP[key] <= 0 {
					delete(l.perIP, key)
				}
			}
		})
	}, ""
}

// open reports the sessions open now.
func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// limitedListener admits each accepted connection through a connLimiter
// and wraps it in a sessionConn.
type limitedListener struct {
	net.Listener
	limiter *connLimiter
}

func (l limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		release, refusal := l.limiter.admit(c)
		if refusal == "" {
			sc := &sessionConn{Conn: c, release: release}
			if d := l.limiter.limits.maxSession; d > 0 {
				sc.sessionEnd = time.Now().Add(d)
			}
			return sc, nil
		}
		// Answer in the background so a slow client cannot stall Accept;
		// the deadline bounds the goroutine.
		go func() {
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, refusal)
			c.Close()
		}()
	}
}

// sessionConn bounds how long a session may read, three ways:
//   - idle: go-smtp sets one absolute read deadline for a whole DATA phase,
//     which fails a slow but steady upload of a large message (see
//     LIBRARY-NOTES). Here each Read instead waits at most the read timeout
//     from its own start, so a client that keeps sending is not cut off by
//     it, and one that stalls for the read timeout is;
//   - the whole session ends at sessionEnd, however busy it is;
//   - a DATA phase ends at dataEnd, which the session sets from the size
//     limit and the minimum data rate, so a drip feed of one byte every few
//     seconds is cut off while a slow but steady upload of a maximal
//     message still fits.
type sessionConn struct {
	net.Conn
	release func()

	mu         sync.Mutex
	idle       time.Duration // 0: no idle deadline
	sessionEnd time.Time     // zero: none
	dataEnd    time.Time     // zero: no DATA under way
	hungUp     bool          // reads end the session quietly (EOF)
}

// SetReadDeadline records how long a read may wait, as go-smtp means it.
func (c *sessionConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.idle = 0
	if !t.IsZero() {
		c.idle = max(time.Until(t), time.Millisecond)
	}
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(c.readDeadline())
}

func (c *sessionConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// readDeadline is the earliest of the three bounds for a read starting now.
func (c *sessionConn) readDeadline() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var d time.Time
	if c.idle > 0 {
		d = time.Now().Add(c.idle)
	}
	for _, end := range []time.Time{c.sessionEnd, c.dataEnd} {
		if !end.IsZero() && (d.IsZero() || end.Before(d)) {
			d = end
		}
	}
	return d
}

func (c *sessionConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	hungUp := c.hungUp
	c.mu.Unlock()
	if hungUp {
		return 0, io.EOF
	}
	c.Conn.SetReadDeadline(c.readDeadline())
	return c.Conn.Read(p)
}

func (c *sessionConn) Close() error {
	if c.release != nil {
		c.release()
	}
	return c.Conn.Close()
}

// startData bounds the DATA phase beginning now to limit.
func (c *sessionConn) startData(limit time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if limit > 0 {
		c.dataEnd = time.Now().Add(limit)
	}
}

func (c *sessionConn) endData() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dataEnd = time.Time{}
}

// expired says which time limit, if any, has passed: the session's or
// the DATA phase's.
func (c *sessionConn) expired() *smtp.SMTPError {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	switch {
	case !c.sessionEnd.IsZero() && !now.Before(c.sessionEnd):
		return errSessionTooLong
	case !c.dataEnd.IsZero() && !now.Before(c.dataEnd):
		return errDataTooSlow
	}
	return nil
}

// hangUp makes every further read end the session, so go-smtp closes the
// connection right after the reply it is about to write (a 421), instead
// of reading what a too-slow client still sends as commands (go-smtp
// issue #196).
func (c *sessionConn) hangUp() {
	c.mu.Lock()
	c.hungUp = true
	c.mu.Unlock()
}

// ipOf is the client's IP for SPF, or nil.
func ipOf(a net.Addr) net.IP {
	if ip, ok := addrIP(a); ok {
		return ip.AsSlice()
	}
	return nil
}
