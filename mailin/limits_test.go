package mailin

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// The per-IP limit counts an IPv4 address, or an IPv6 /64, since one
// host commonly holds a whole /64.
func TestClientKey(t *testing.T) {
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	for _, tc := range []struct {
		a, b net.Addr
		same bool
	}{
		{tcp("192.0.2.1:1000"), tcp("192.0.2.1:2000"), true},
		{tcp("192.0.2.1:1000"), tcp("192.0.2.2:1000"), false},
		{tcp("[::ffff:192.0.2.1]:25"), tcp("192.0.2.1:25"), true},
		{tcp("[2001:db8:1:2::1]:25"), tcp("[2001:db8:1:2:ffff:ffff:ffff:ffff]:25"), true},
		{tcp("[2001:db8:1:2::1]:25"), tcp("[2001:db8:1:3::1]:25"), false},
		{tcp("[fe80::1%eth0]:25"), tcp("[fe80::2%eth1]:25"), true},
	} {
		ka, oka := clientKey(tc.a)
		kb, okb := clientKey(tc.b)
		if !oka || !okb || (ka == kb) != tc.same {
			t.Errorf("%v (%v) and %v (%v): same = %t, want %t", tc.a, ka, tc.b, kb, ka == kb, tc.same)
		}
	}
	if _, ok := clientKey(&net.UnixAddr{Name: "@", Net: "unix"}); ok {
		t.Errorf("a unix socket peer has a per-IP key")
	}
}

// dialFrom connects to addr from the loopback address src (any 127.x on
// Linux), as a distinct client host.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sendFrom submits raw from the loopback address src.
func sendFrom(t *testing.T, src, addr string, raw []byte) error {
	t.Helper()
	c := smtp.NewClient(dialFrom(t, src, addr))
	defer c.Close()
	return c.SendMail("ada@customer.example", []string{"support@support.example.com"}, bytes.NewReader(raw))
}

// line reads one reply line, bounded.
func line(t *testing.T, r *bufio.Reader, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	s, err := r.ReadString('\n')
	if err != nil && s == "" {
		return "EOF: " + err.Error()
	}
	return strings.TrimRight(s, "\r\n")
}

// A session is bounded as a whole and a DATA phase by the size limit and
// the minimum rate: a steady upload of the largest message passes; a drip
// feed that is never idle for the read timeout is cut off with 421 and
// closed, in DATA and between commands, and nothing is filed.
func TestSessionsAreBounded(t *testing.T) {
	const size = 1 << 20
	l := startListener(t, SMTPOptions{ReadTimeout: time.Second, MaxMessageBytes: size + 4096, MinDataRate: size, MaxSessionTime: 5 * time.Second})

	// Steady: the largest message in about 1.5 s (limit: 1 s + 1 s).
	c, err := smtp.Dial(l.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Mail("ada@customer.example", nil)
	c.Rcpt("support@support.example.com", nil)
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(crlf("From: ada@customer.example\nSubject: steady\nMessage-ID: <steady-1@x>\n\n"))
	chunk := crlf(strings.Repeat(strings.Repeat("y", 62)+"\n", 1024)) // 64 KiB
	start := time.Now()
	for i := 0; i < size/len(chunk); i++ {
		w.Write(chunk)
		time.Sleep(90 * time.Millisecond)
	}
	if err := w.Close(); err != nil {
		t.Errorf("steady upload of %d bytes in %v: %v", size, time.Since(start).Round(time.Millisecond), err)
	}
	c.Close()

	// Drip feed in DATA: a byte every 200 ms, never idle for 1 s.
	conn := dialFrom(t, "127.0.0.1", l.addr)
	defer conn.Close()
	r := bufio.NewReader(conn)
	line(t, r, conn)
	fmt.Fprintf(conn, "EHLO drip\r\nMAIL FROM:<ada@customer.example>\r\nRCPT TO:<support@support.example.com>\r\nDATA\r\n")
	for s := line(t, r, conn); !strings.HasPrefix(s, "354"); s = line(t, r, conn) {
		if !strings.HasPrefix(s, "250") {
			t.Fatalf("before DATA: %q", s)
		}
	}
	io.WriteString(conn, "From: ada@customer.example\r\nMessage-ID: <drip-1@x>\r\n\r\n")
	start = time.Now()
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	reply := line(t, r, conn)
	took := time.Since(start)
	if !strings.HasPrefix(reply, "421 4.4.2 Message transfer too slow") || took > 4*time.Second {
		t.Errorf("drip feed in DATA: %q after %v, want 421 4.4.2 after about 2 s", reply, took)
	}
	if s := line(t, r, conn); !strings.HasPrefix(s, "EOF") {
		t.Errorf("after the 421 the connection stays open: %q", s)
	}
	close(stop)

	// Busy between commands: a NOOP every 300 ms outlives the session.
	conn2 := dialFrom(t, "127.0.0.1", l.addr)
	defer conn2.Close()
	r2 := bufio.NewReader(conn2)
	line(t, r2, conn2)
	start = time.Now()
	var last string
	for time.Since(start) < 10*time.Second {
		if _, err := io.WriteString(conn2, "NOOP\r\n"); err != nil {
			break
		}
		last = line(t, r2, conn2)
		if !strings.HasPrefix(last, "250") {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if took := time.Since(start); !strings.HasPrefix(last, "421 4.4.2") || took > 7*time.Second {
		t.Errorf("session past its time limit: %q after %v, want 421 4.4.2 after about 5 s", last, took)
	}

	var n int
	l.db.Get(&n, `SELECT count(*) FROM messages WHERE message_id IN ('steady-1@x', 'drip-1@x')`)
	if n != 1 {
		t.Errorf("filed %d of the steady and the drip-fed message, want 1", n)
	}
}

// Connection caps: one client (IPv4 address; IPv6 /64) holds at most
// MaxConnsPerIP sessions and all clients together MaxConnections; beyond
// either the client gets 421 4.7.0 with a text saying which, while other
// clients' mail keeps getting through, and once the hogs are cut off by the
// session limit everyone is served again. Trusted networks (an MTA in
// front) are not held to the per-IP cap.
func TestConnectionCaps(t *testing.T) {
	l := startListener(t, SMTPOptions{MaxConnsPerIP: 3, MaxConnections: 8, MaxSessionTime: 4 * time.Second,
		TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")}})
	greet := func(src string) (net.Conn, string) {
		c := dialFrom(t, src, l.addr)
		return c, line(t, bufio.NewReader(c), c)
	}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	hold := func(src string, n int) {
		for i := 0; i < n; i++ {
			c, s := greet(src)
			held = append(held, c)
			if !strings.HasPrefix(s, "220") {
				t.Fatalf("session %d from %s: %q", i+1, src, s)
			}
		}
	}
	hold("127.0.0.2", 3)
	if c, s := greet("127.0.0.2"); s != "421 4.7.0 Too many connections from your address; try again later" {
		t.Errorf("fourth session from one address: %q", s)
	} else {
		c.Close()
	}
	hold("127.0.0.3", 3)

	// Two hogs hold six of eight sessions: others' mail still gets through,
	// two at a time, concurrently. (Each round waits until the server has
	// seen the last round's sessions end, which it learns a moment after
	// the client.)
	settled := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); l.srv.OpenSessions() != n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("open sessions = %d, want %d", l.srv.OpenSessions(), n)
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for round := 0; round < 5; round++ {
		settled(6)
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func(id string) {
				defer wg.Done()
				errs <- sendFrom(t, "127.0.0.1", l.addr, crlf("From: ada@customer.example\nSubject: normal\nMessage-ID: <"+id+">\n\nhello\n"))
			}(fmt.Sprintf("normal-%d-%d@x", round, i))
		}
		wg.Wait()
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("normal mail beside the hogs: %v", err)
		}
	}

	// A third hog fills the server: now everyone gets the server-wide 421.
	settled(6)
	hold("127.0.0.4", 2)
	if c, s := greet("127.0.0.1"); s != "421 4.7.0 Too many open connections to this server; try again later" {
		t.Errorf("past the server's cap: %q", s)
	} else {
		c.Close()
	}
	// The session limit frees the server; mail flows again.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := sendFrom(t, "127.0.0.1", l.addr, crlf("From: ada@customer.example\nSubject: later\nMessage-ID: <later-1@x>\n\nhello\n"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server stays full: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var n int
	l.db.Get(&n, `SELECT count(*) FROM messages WHERE message_id LIKE 'normal-%' OR message_id = 'later-1@x'`)
	if n != 11 {
		t.Errorf("filed %d normal messages, want 11", n)
	}
	for _, c := range held {
		c.Close()
	}
	held = nil

	// A trusted relay may open more than the per-IP cap.
	hold("127.0.0.9", 5)
}
