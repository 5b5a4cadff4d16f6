// Package dovecottest gives tests a real IMAP server: a private Dovecot
// (RFC 9051 / RFC 3501, with IDLE RFC 2177 and MOVE RFC 6851) listening on
// 127.0.0.1, configured in a temporary directory with one test user and a
// Maildir. It fails the test loudly when Dovecot is not installed (make test
// installs dovecot-imapd); it never skips.
package dovecottest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Test account of every server.
const (
	Username = "support@example.com"
	Password = "imap-test-password"
)

// Server is one running Dovecot.
type Server struct {
	Addr    string // 127.0.0.1:port of the IMAP listener (plaintext, STARTTLS offered)
	TLSAddr string // 127.0.0.1:port of the IMAPS listener (implicit TLS)
	// RootCAs holds the server certificate (for 127.0.0.1), which is
	// self-signed and made afresh for each server.
	RootCAs *x509.CertPool
	Dir     string

	t      testing.TB
	conf   string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts a Dovecot for one test and stops it at the end.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/dovecot"); statErr != nil {
			t.Fatalf("dovecottest: dovecot is not installed (scripts/install-deps.sh dovecot-imapd): %v", err)
		}
		bin = "/usr/sbin/dovecot"
	}
	dir, err := os.MkdirTemp("", "casegate-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Dir: dir, t: t, conf: filepath.Join(dir, "dovecot.conf")}
	t.Cleanup(func() {
		s.Stop()
		os.RemoveAll(dir)
	})
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	tlsPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s.TLSAddr = fmt.Sprintf("127.0.0.1:%d", tlsPort)
	if err := s.writeCertificate(); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	if err := s.writeConfig(port, tlsPort); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	s.start(bin)
	return s
}

// writeConfig writes a self-contained configuration: nothing of the
// system's /etc/dovecot is read.
func (s *Server) writeConfig(port, tlsPort int) error {
	// Dovecot refuses mail access as uid 0 and drops privileges when it
	// starts as root, so as root mail belongs to "nobody"; otherwise
	// everything runs as the current user.
	cur, err := user.Current()
	if err != nil {
		return err
	}
	mailUser, internalUser, loginUser := cur, cur.Username, cur.Username
	if os.Geteuid() == 0 {
		if mailUser, err = user.Lookup("nobody"); err != nil {
			return fmt.Errorf("running as root needs a nobody user: %w", err)
		}
		internalUser, loginUser = "dovecot", "dovenull"
	}
	uid, _ := strconv.Atoi(mailUser.Uid)
	gid, _ := strconv.Atoi(mailUser.Gid)
	home := filepath.Join(s.Dir, "home")
	for _, d := range []string{home, filepath.Join(s.Dir, "run"), filepath.Join(s.Dir, "state")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(home, uid, gid); err != nil {
			return err
		}
	}
	passwd := fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s/%%u\n", Username, Password, uid, gid, home)
	if err := os.WriteFile(filepath.Join(s.Dir, "passwd"), []byte(passwd), 0o644); err != nil {
		return err
	}
	conf := fmt.Sprintf(`# casegate test Dovecot (dovecottest)
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <%[1]s/cert.pem
ssl_key = <%[1]s/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = %[2]s
default_login_user = %[3]s
first_valid_uid = %[4]d
last_valid_uid = 0
mail_location = maildir:~/Maildir
# Tests wait for IDLE notifications: check for changes every second
# where inotify is not available.
mailbox_idle_check_interval = 1 secs
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/passwd
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[5]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[6]d
    ssl = yes
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
namespace inbox {
  inbox = yes
  separator = /
}
`, s.Dir, internalUser, loginUser, uid, port, tlsPort)
	return os.WriteFile(s.conf, []byte(conf), 0o644)
}

// writeCertificate makes a self-signed ECDSA certificate for 127.0.0.1.
func (s *Server) writeCertificate() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "casegate test dovecot"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	s.RootCAs = x509.NewCertPool()
	s.RootCAs.AddCert(cert)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

func (s *Server) start(bin string) {
	s.t.Helper()
	cmd := exec.Command(bin, "-F", "-c", s.conf)
	// A file, not a pipe: Wait would otherwise wait for every child that
	// inherited the pipe, long after the master is gone.
	out, err := os.OpenFile(filepath.Join(s.Dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatalf("dovecottest: %v", err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so Stop can kill the master and every imap
	// and login process with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("dovecottest: start dovecot: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
			buf := make([]byte, 64)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if bytes.HasPrefix(buf[:n], []byte("* OK")) {
				return
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "dovecot.log"))
			stdout, _ := os.ReadFile(out.Name())
			s.t.Fatalf("dovecottest: dovecot exited at start:\n%s\n%s", stdout, log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "dovecot.log"))
			stdout, _ := os.ReadFile(out.Name())
			s.t.Fatalf("dovecottest: dovecot did not answer on %s within 30s:\n%s\n%s", s.Addr, stdout, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts Dovecot down as an administrator's restart does (SIGTERM to
// the master, which ends every client connection), then makes sure no
// process of it is left. It is a no-op when the server is not running.
func (s *Server) Stop() { s.stop(syscall.SIGTERM) }

// Kill kills Dovecot and every process of it at once (SIGKILL), as a
// crash would. Its dotlocks stay behind, and Dovecot waits for them to go
// stale (two minutes) after a restart.
func (s *Server) Kill() { s.stop(syscall.SIGKILL) }

func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	if sig == syscall.SIGKILL {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // master and children at once
	} else {
		cmd.Process.Signal(sig)
	}
	select {
	case <-exited:
	case <-time.After(time.Second): // a restart does not wait longer for busy clients
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever is left of its process group
	<-exited
	// Wait until nothing accepts on the port any more.
	for i := 0; i < 200; i++ {
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
}

// Restart starts the server again after Stop, on the same port and data.
func (s *Server) Restart() {
	s.t.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		bin = "/usr/sbin/dovecot"
	}
	s.start(bin)
}

// Log returns Dovecot's log so far (for failure messages).
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "dovecot.log"))
	return string(b)
}

// Client logs the test user in over a new connection, closed at the end
// of the test.
func (s *Server) Client(t testing.TB) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		t.Fatalf("dovecottest: dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(Username, Password).Wait(); err != nil {
		t.Fatalf("dovecottest: login: %v", err)
	}
	return c
}

// Append stores each message in mailbox (created when missing), pipelining
// the APPEND commands so a large backlog is seeded quickly.
func (s *Server) Append(t testing.TB, mailbox string, messages ...[]byte) {
	t.Helper()
	c := s.Client(t)
	defer c.Logout()
	s.CreateMailbox(t, c, mailbox)
	const window = 64
	var pending []*imapclient.AppendCommand
	wait := func(n int) {
		for len(pending) > n {
			if _, err := pending[0].Wait(); err != nil {
				t.Fatalf("dovecottest: append: %v", err)
			}
			pending = pending[1:]
		}
	}
	for _, m := range messages {
		cmd := c.Append(mailbox, int64(len(m)), nil)
		if _, err := cmd.Write(m); err != nil {
			t.Fatalf("dovecottest: append: %v", err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatalf("dovecottest: append: %v", err)
		}
		pending = append(pending, cmd)
		wait(window)
	}
	wait(0)
}

// CreateMailbox creates mailbox unless it exists.
func (s *Server) CreateMailbox(t testing.TB, c *imapclient.Client, mailbox string) {
	t.Helper()
	if mailbox == "INBOX" {
		return
	}
	if _, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait(); err == nil {
		return
	}
	if err := c.Create(mailbox, nil).Wait(); err != nil {
		t.Fatalf("dovecottest: create %s: %v", mailbox, err)
	}
}

// Count is the number of messages in mailbox (0 when it does not exist).
func (s *Server) Count(t testing.TB, mailbox string) int {
	t.Helper()
	c := s.Client(t)
	defer c.Logout()
	st, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		return 0
	}
	return int(*st.NumMessages)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
