package mailin

import (
	"bufio"
	"bytes"
	"casegate/internal/testcert"
	"casegate/vocab"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
	"github.com/jmoiron/sqlx"

	"casegate/internal/pgtest"
	"casegate/templates"
	"casegate/threads"
)

// recordingFiler files through the real store and remembers what mailin
// handed it, so tests can see the Auth verdicts. panicOn makes it panic on
// a subject, to test the listener's recovery.
type recordingFiler struct {
	*threads.Store
	mu      sync.Mutex
	last    *vocab.Inbound
	panicOn string
}

func (f *recordingFiler) File(ctx context.Context, in *vocab.Inbound) (vocab.Filed, error) {
	if f.panicOn != "" && in.Subject == f.panicOn {
		panic("test: filing panicked")
	}
	f.mu.Lock()
	f.last = in
	f.mu.Unlock()
	return f.Store.File(ctx, in)
}

func (f *recordingFiler) lastInbound() *vocab.Inbound {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

type listener struct {
	addr  string
	db    *sqlx.DB
	filer *recordingFiler
	srv   *SMTPServer
}

// startListener runs the real SMTP listener on 127.0.0.1:0 filing into a
// fresh database.
func startListener(t *testing.T, opts SMTPOptions) *listener {
	t.Helper()
	db := pgtest.DB(t)
	tpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	store, err := threads.NewStore(threads.Options{
		DB:             db,
		Templates:      tpl,
		Support:        mail.Address{Name: "Example Support", Address: "support@support.example.com"},
		Secret:         []byte("test-secret-0123456789"),
		StaffAddresses: []string{"alice@example.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	filer := &recordingFiler{Store: store}
	if opts.Filer == nil {
		opts.Filer = filer
	}
	opts.Domains = []string{"support.example.com"}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testLog{t}, nil))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	srv := NewSMTPServer(opts)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("listener did not stop")
		}
	})
	return &listener{addr: l.Addr().String(), db: db, filer: filer, srv: srv}
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func sendMail(t *testing.T, addr, from string, to []string, raw []byte) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.SendMail(from, to, bytes.NewReader(raw))
}

func code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// dnsZone serves TXT records from a map, as a resolver function; names not
// in it do not exist, and "temperror" makes every lookup fail temporarily.
type dnsZone struct {
	mu        sync.Mutex
	txt       map[string][]string
	temperror bool
	lookups   int
}

func (z *dnsZone) LookupTXT(ctx context.Context, name string) ([]string, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.lookups++
	if z.temperror {
		return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
	}
	if v, ok := z.txt[strings.TrimSuffix(strings.ToLower(name), ".")]; ok {
		return v, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func signedMail(t *testing.T, key crypto.Signer, domain, from, id string) []byte {
	t.Helper()
	raw := crlf(fmt.Sprintf(`From: Alice <%s>
To: support@support.example.com
Subject: staff reply
Message-ID: <%s>
Date: Sun, 22 Nov 2026 10:00:00 +0000

Refund approved.
`, from, id))
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{Domain: domain, Selector: "s1", Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// DKIM is verified end to end on the bytes as received: a valid aligned
// signature under a DMARC policy gives DKIMAligned and DMARCPass; a
// tampered body, a foreign signer or a DNS failure give neither, and the
// mail is filed all the same.
func TestDKIMVerification(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	record := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	zone := &dnsZone{txt: map[string][]string{
		"s1._domainkey.example.com":  {record},
		"s1._domainkey.evil.example": {record},
		"_dmarc.example.com":         {"v=DMARC1; p=reject"},
	}}
	l := startListener(t, SMTPOptions{Auth: NewAuthenticator(AuthOptions{LookupTXT: zone.LookupTXT, Timeout: 5 * time.Second})})

	for _, tc := range []struct {
		name          string
		raw           []byte
		aligned, pass bool
		summary       string
	}{
		{"valid", signedMail(t, priv, "example.com", "alice@example.com", "dkim-1@example.com"), true, true, "dmarc=pass"},
		{"tampered", bytes.Replace(signedMail(t, priv, "example.com", "alice@example.com", "dkim-2@example.com"), []byte("Refund approved."), []byte("Refund EVERYTHING."), 1), false, false, "dkim=fail"},
		{"foreign signer", signedMail(t, priv, "evil.example", "alice@example.com", "dkim-3@example.com"), false, false, "aligned=false"},
	} {
		if err := sendMail(t, l.addr, "alice@example.com", []string{"support@support.example.com"}, tc.raw); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		in := l.filer.lastInbound()
		if in.Auth.DKIMAligned != tc.aligned || in.Auth.DMARCPass != tc.pass || !strings.Contains(in.Auth.Summary, tc.summary) {
			t.Errorf("%s: auth = %+v", tc.name, in.Auth)
		}
		var stored string
		l.db.Get(&stored, `SELECT auth_summary FROM messages WHERE message_id = $1`, in.MessageID)
		if stored != in.Auth.Summary {
			t.Errorf("%s: stored summary %q, want %q", tc.name, stored, in.Auth.Summary)
		}
	}
	var unauthenticated int
	l.db.Get(&unauthenticated, `SELECT count(*) FROM events WHERE kind = 'unauthenticated-staff'`)
	if unauthenticated != 2 {
		t.Errorf("unauthenticated-staff events = %d, want 2 (tampered, foreign)", unauthenticated)
	}

	// DNS down: stored, 250, no authority.
	zone.mu.Lock()
	zone.temperror = true
	zone.mu.Unlock()
	if err := sendMail(t, l.addr, "alice@example.com", []string{"support@support.example.com"}, signedMail(t, priv, "example.com", "alice@example.com", "dkim-4@example.com")); err != nil {
		t.Fatalf("with DNS failing: %v", err)
	}
	in := l.filer.lastInbound()
	if in.Auth.DKIMAligned || in.Auth.DMARCPass || !strings.Contains(in.Auth.Summary, "temperror") {
		t.Errorf("with DNS failing: auth = %+v", in.Auth)
	}
	var n int
	l.db.Get(&n, `SELECT count(*) FROM messages WHERE message_id = 'dkim-4@example.com'`)
	if n != 1 {
		t.Errorf("with DNS failing the message was not filed")
	}
}

// The listener's limits: recipients (452), header size (552), connections
// per IP (421), a panic while filing (421, and the server lives), and
// STARTTLS with the configured certificate.
func TestListenerLimits(t *testing.T) {
	cert := selfSigned(t)
	l := startListener(t, SMTPOptions{MaxRecipients: 2, MaxHeaderBytes: 4000, MaxConnsPerIP: 3,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}})
	l.filer.panicOn = "please panic"
	mailText := crlf("From: ada@customer.example\nTo: support@support.example.com\nSubject: hello\nMessage-ID: <lim-1@x>\n\nbody\n")

	// Recipients.
	c, err := smtp.Dial(l.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Mail("ada@customer.example", nil)
	c.Rcpt("support@support.example.com", nil)
	c.Rcpt("support+a@support.example.com", nil)
	if err := c.Rcpt("support+b@support.example.com", nil); code(err) != 452 {
		t.Errorf("third recipient: %v, want 452", err)
	}
	c.Close()

	// Header size.
	huge := append(crlf("X-Junk: "+strings.Repeat("a", 900)+"\n"), mailText...)
	for i := 0; i < 5; i++ {
		huge = append(crlf("X-Junk: "+strings.Repeat("a", 900)+"\n"), huge...)
	}
	if err := sendMail(t, l.addr, "ada@customer.example", []string{"support@support.example.com"}, huge); code(err) != 552 {
		t.Errorf("huge header: %v, want 552", err)
	}

	// A panic while filing: 421, and the next session works.
	panicky := bytes.Replace(mailText, []byte("Subject: hello"), []byte("Subject: please panic"), 1)
	if err := sendMail(t, l.addr, "ada@customer.example", []string{"support@support.example.com"}, panicky); code(err) != 421 {
		t.Errorf("panic while filing: %v, want 421", err)
	}
	if err := sendMail(t, l.addr, "ada@customer.example", []string{"support@support.example.com"}, mailText); err != nil {
		t.Errorf("after a panic: %v", err)
	}

	// STARTTLS with our certificate.
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	tc, err := smtp.DialStartTLS(l.addr, &tls.Config{RootCAs: pool, ServerName: "casegate.test"})
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	tlsMail := bytes.Replace(mailText, []byte("lim-1@x"), []byte("lim-tls@x"), 1)
	if err := tc.SendMail("ada@customer.example", []string{"support@support.example.com"}, bytes.NewReader(tlsMail)); err != nil {
		t.Errorf("send over TLS: %v", err)
	}
	if st, ok := tc.TLSConnectionState(); !ok || !st.HandshakeComplete {
		t.Errorf("no TLS after STARTTLS")
	}
	tc.Close()

	// Connections per IP: three open sessions, the fourth is refused.
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	// The sessions above end asynchronously on the server side: wait
	// (bounded) until three fresh ones are all welcome.
	for wait := time.Now().Add(30 * time.Second); ; {
		ok := true
		for i := 0; i < 3; i++ {
			conn, line := greeting(t, l.addr)
			open = append(open, conn)
			ok = ok && strings.HasPrefix(line, "220")
		}
		if ok {
			break
		}
		for _, c := range open {
			c.Close()
		}
		open = nil
		if time.Now().After(wait) {
			t.Fatal("three sessions from one IP are not all welcome")
		}
		time.Sleep(50 * time.Millisecond)
	}
	conn, line := greeting(t, l.addr)
	conn.Close()
	if !strings.HasPrefix(line, "421") {
		t.Errorf("fourth connection got %q, want 421", line)
	}
	// Once one closes, a new one is welcome again (bounded polling: the
	// server notices the close asynchronously).
	open[0].Close()
	open = open[1:]
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, line := greeting(t, l.addr)
		conn.Close()
		if strings.HasPrefix(line, "220") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a close, still %q", line)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// greeting opens a connection and reads the server's first line.
func greeting(t *testing.T, addr string) (net.Conn, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return conn, line
}

func selfSigned(t *testing.T) tls.Certificate { return testcert.New(t).TLS }

// A slow but steady upload outlasting the read timeout is accepted; a
// client that stalls for the read timeout is cut off and nothing is filed.
func TestSlowSteadyUploadIsAccepted(t *testing.T) {
	l := startListener(t, SMTPOptions{ReadTimeout: 2 * time.Second})
	upload := func(id string, pause func(i int) time.Duration) error {
		c, err := smtp.Dial(l.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Mail("ada@customer.example", nil); err != nil {
			return err
		}
		if err := c.Rcpt("support@support.example.com", nil); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := w.Write(crlf("From: ada@customer.example\nSubject: slow\nMessage-ID: <" + id + ">\n\n")); err != nil {
			return err
		}
		// Each chunk is larger than the client's write buffer, so it goes
		// out when written.
		chunk := crlf(strings.Repeat(strings.Repeat("x", 70)+"\n", 100))
		for i := 0; i < 20; i++ {
			time.Sleep(pause(i))
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		return w.Close()
	}
	// 20 × 250 ms = 5 s, well past the 2 s read timeout, never idle for long.
	if err := upload("slow-1@x", func(int) time.Duration { return 250 * time.Millisecond }); err != nil {
		t.Errorf("slow steady upload: %v", err)
	}
	// Idle for 5 s in the middle: cut off.
	if err := upload("stall-1@x", func(i int) time.Duration {
		if i == 10 {
			return 5 * time.Second
		}
		return 0
	}); err == nil {
		t.Errorf("a stalled upload was accepted")
	}
	var n int
	l.db.Get(&n, `SELECT count(*) FROM messages WHERE message_id IN ('slow-1@x', 'stall-1@x')`)
	if n != 1 {
		t.Errorf("filed %d of the slow and the stalled message, want 1", n)
	}
}

// Hostile and broken messages through the listener: every one is accepted
// and filed with its raw bytes, and problems are recorded.
func TestHostileMailIsFiled(t *testing.T) {
	l := startListener(t, SMTPOptions{})
	sent := 0
	for i, seed := range hostileSeeds() {
		raw := crlf(seed)
		if len(bytes.TrimSpace(raw)) == 0 {
			continue // an empty DATA is not a message
		}
		raw = append(crlf(fmt.Sprintf("X-Seed: %d\n", i)), raw...)
		if err := sendMail(t, l.addr, "x@customer.example", []string{"support@support.example.com"}, raw); err != nil {
			t.Errorf("seed %d: %v", i, err)
			continue
		}
		sent++
		var stored []byte
		err := l.db.Get(&stored, `SELECT raw FROM messages WHERE raw = $1 UNION ALL SELECT raw FROM quarantine WHERE raw = $1`, raw)
		if err != nil || !bytes.Equal(stored, raw) {
			t.Errorf("seed %d: raw bytes not kept (%v)", i, err)
		}
	}
	var withProblems int
	l.db.Get(&withProblems, `SELECT count(*) FROM messages WHERE direction = 'inbound' AND cardinality(problems) > 0`)
	if withProblems < 5 {
		t.Errorf("problems recorded on %d messages, want at least 5", withProblems)
	}
	var names []string
	l.db.Select(&names, `SELECT unnest(problems) FROM messages`)
	t.Logf("%d hostile messages filed; problems: %q", sent, names)
}

// A line beyond any reason gets a clear permanent error, never a 451 the
// sender would retry for days.
func TestOverlongLineIsRefusedClearly(t *testing.T) {
	l := startListener(t, SMTPOptions{})
	long := crlf("From: ada@customer.example\nSubject: long\nMessage-ID: <long-1@x>\nX-Long: " + strings.Repeat("x", 20000) + "\n\nbody\n")
	if err := sendMail(t, l.addr, "ada@customer.example", []string{"support@support.example.com"}, long); err != nil {
		t.Errorf("20000-character header line: %v", err)
	}
	absurd := crlf("From: ada@customer.example\nSubject: absurd\nMessage-ID: <long-2@x>\n\n" + strings.Repeat("y", 70000) + "\n")
	if err := sendMail(t, l.addr, "ada@customer.example", []string{"support@support.example.com"}, absurd); code(err) != 552 {
		t.Errorf("70000-character line: %v, want 552", err)
	}
}

// Attachment names cannot carry a path, control characters or absurd
// lengths, however they are encoded (RFC 2231 here); the bytes are kept.
func TestAttachmentNamesAreSanitised(t *testing.T) {
	in := Parse(crlf("From: a@b\nSubject: files\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\nsee attached\n" +
		"--q\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename*=utf-8''..%2F..%2Fetc%2Fpasswd\n\nroot:x:0:0\n" +
		"--q\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"C:\\\\evil\\\\a\x07b.exe\"\n\nMZ\n" +
		"--q\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"" + strings.Repeat("n", 500) + ".txt\"\n\nlong\n--q--\n"))
	if len(in.Attachments) != 3 {
		t.Fatalf("attachments = %d, want 3 (%v)", len(in.Attachments), in.Problems)
	}
	for i, want := range []string{"passwd", "ab.exe", strings.Repeat("n", 200)} {
		if got := in.Attachments[i].Filename; got != want {
			t.Errorf("attachment %d name %q, want %q", i, got, want)
		}
	}
	if string(in.Attachments[0].Data) != "root:x:0:0\r\n" && string(in.Attachments[0].Data) != "root:x:0:0" {
		t.Errorf("attachment bytes %q", in.Attachments[0].Data)
	}
}

// The rest of spf.DNSResolver for dnsZone: nothing but TXT records exist.
func (z *dnsZone) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (z *dnsZone) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (z *dnsZone) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
}

// With SPF on (casegate is the MX), an SPF pass for the envelope sender,
// aligned with From, under a DMARC policy, is a DMARC pass without DKIM;
// an SPF fail or an unaligned pass is not.
func TestSPFAlignment(t *testing.T) {
	zone := &dnsZone{txt: map[string][]string{
		"example.com":        {"v=spf1 ip4:127.0.0.1 -all"},
		"_dmarc.example.com": {"v=DMARC1; p=quarantine"},
		"elsewhere.example":  {"v=spf1 ip4:127.0.0.1 -all"},
		"strict.example":     {"v=spf1 -all"},
	}}
	l := startListener(t, SMTPOptions{Auth: NewAuthenticator(AuthOptions{LookupTXT: zone.LookupTXT, SPF: true, SPFResolver: zone})})
	for _, tc := range []struct {
		envelope, from string
		pass           bool
		summary        string
	}{
		{"bounces@example.com", "alice@example.com", true, "spf=pass"},
		{"x@elsewhere.example", "alice@example.com", false, "spf=pass smtp.mailfrom=elsewhere.example"},
		{"x@strict.example", "bob@strict.example", false, "spf=fail"},
	} {
		raw := crlf(fmt.Sprintf("From: %s\nTo: support@support.example.com\nSubject: spf\nMessage-ID: <spf-%s>\n\nbody\n", tc.from, tc.envelope))
		if err := sendMail(t, l.addr, tc.envelope, []string{"support@support.example.com"}, raw); err != nil {
			t.Fatal(err)
		}
		in := l.filer.lastInbound()
		if in.Auth.DMARCPass != tc.pass || in.Auth.DKIMAligned || !strings.Contains(in.Auth.Summary, tc.summary) {
			t.Errorf("%s / %s: auth = %+v", tc.envelope, tc.from, in.Auth)
		}
	}
}
