package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"
	"github.com/jmoiron/sqlx"

	"casegate/internal/pgtest"
)

// Issue 15 item 8: duplicates after crashes. The real gateway process
// (built from this package) files a continuous stream of new cases while
// the test kills it with SIGKILL several times and starts it again; the
// clients retry what got no 250, as MTAs do. Afterwards every message must
// be filed once, and its acknowledgement and staff notification delivered
// at least once — exactly once with the Maildir sink (each delivery is
// one file, written again under the same name); through a relay, a
// delivery cut between its handoff and its record is sent again (the same
// bytes and Message-ID), and the test reports how often that happened.
//
// CASEGATE_CRASH_MESSAGES (default 200) and CASEGATE_CRASH_KILLS (5)
// scale it.

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// casegateBinary builds the casegate command once per test process.
func casegateBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "casegate-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "casegate")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// crashProcess is one `casegate serve` process, started again after each kill.
type crashProcess struct {
	t      *testing.T
	bin    string
	config string
	addr   string
	log    *os.File
	cmd    *exec.Cmd
}

func (p *crashProcess) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, "serve", "-config", p.config)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("casegate did not listen on %s within 30s; see %s", p.addr, p.log.Name())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *crashProcess) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

func (p *crashProcess) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.kill()
		p.t.Error("casegate did not stop within 30s of SIGTERM")
	}
}

// relayCounter is a relay (go-smtp server) that keeps every mail it
// accepted: recipient, Message-ID, Subject.
type relayCounter struct {
	mu   sync.Mutex
	got  []delivered
	addr string
}

type delivered struct{ rcpt, messageID, subject string }

func (r *relayCounter) NewSession(*smtp.Conn) (smtp.Session, error) { return &relaySink{r: r}, nil }

type relaySink struct {
	r     *relayCounter
	rcpts []string
}

func (s *relaySink) Mail(string, *smtp.MailOptions) error { return nil }
func (s *relaySink) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, strings.ToLower(to))
	return nil
}
func (s *relaySink) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	mr, err := mail.CreateReader(bytes.NewReader(b))
	if err != nil {
		return err
	}
	id, _ := mr.Header.MessageID()
	subject, _ := mr.Header.Subject()
	s.r.mu.Lock()
	for _, rcpt := range s.rcpts {
		s.r.got = append(s.r.got, delivered{rcpt, id, subject})
	}
	s.r.mu.Unlock()
	return nil
}
func (s *relaySink) Reset()        { s.rcpts = nil }
func (s *relaySink) Logout() error { return nil }

func startRelayCounter(t *testing.T) *relayCounter {
	t.Helper()
	r := &relayCounter{}
	srv := smtp.NewServer(r)
	srv.Domain = "relay.example"
	srv.AllowInsecureAuth = true
	srv.ErrorLog = log.New(io.Discard, "", 0) // a killed client resets its connection
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return r
}

// maildirDeliveries reads what the Maildir sink delivered.
func maildirDeliveries(t *testing.T, dir string) []delivered {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
	var out []delivered
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		mr, err := mail.CreateReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s does not parse: %v", f, err)
		}
		id, _ := mr.Header.MessageID()
		subject, _ := mr.Header.Subject()
		out = append(out, delivered{strings.ToLower(mr.Header.Get("Delivered-To")), id, subject})
	}
	return out
}

func TestNoDuplicatesAfterKill(t *testing.T) {
	bin := casegateBinary(t)
	messages, kills := envInt("CASEGATE_CRASH_MESSAGES", 200), envInt("CASEGATE_CRASH_KILLS", 5)
	for _, sink := range []string{"maildir", "smarthost"} {
		t.Run(sink, func(t *testing.T) {
			dbURL := pgtest.URL(t)
			dir := t.TempDir()
			var relay *relayCounter
			outbound := fmt.Sprintf("maildir = %q", filepath.Join(dir, "maildir"))
			if sink == "smarthost" {
				relay = startRelayCounter(t)
				outbound = fmt.Sprintf("smarthost = %q\nstarttls = false", relay.addr)
			}
			p := &crashProcess{t: t, bin: bin, config: filepath.Join(dir, "casegate.toml"), addr: freeAddr(t)}
			conf := fmt.Sprintf(`[database]
url = %q
[smtp]
listen = [%q]
domains = ["support.example.com"]
max_connections_per_ip = -1
[addresses]
support = "Example Support <support@support.example.com>"
staff = ["alice@example.com"]
[staff]
secret = "test-secret-0123456789"
[safety]
max_auto_replies_per_day = 100000
[outbound]
%s
[log]
level = "warn"
`, dbURL, p.addr, outbound)
			if err := os.WriteFile(p.config, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			var err error
			if p.log, err = os.Create(filepath.Join(dir, "casegate.log")); err != nil {
				t.Fatal(err)
			}
			defer p.log.Close()
			p.start()

			// Clients send each message until it gets a 250, eight at once;
			// the test kills the gateway each time another share of the
			// messages was accepted.
			var mu sync.Mutex
			accepted, attempts := 0, 0
			work := make(chan int, messages)
			for i := 0; i < messages; i++ {
				work <- i
			}
			var clients sync.WaitGroup
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			for w := 0; w < 8; w++ {
				clients.Go(func() {
					for ctx.Err() == nil {
						var i int
						select {
						case i = <-work:
						default:
							return
						}
						raw := fmt.Sprintf("From: <c%d@customer.example>\r\nTo: support@support.example.com\r\nSubject: Load %d\r\nMessage-ID: <load-%d@customer.example>\r\n\r\nMessage %d of the stream.\r\n", i, i, i, i)
						c, err := smtp.Dial(p.addr)
						if err == nil {
							err = c.SendMail(fmt.Sprintf("c%d@customer.example", i), []string{"support@support.example.com"}, strings.NewReader(raw))
							c.Close()
						}
						mu.Lock()
						attempts++
						if err == nil {
							accepted++
						}
						mu.Unlock()
						if err != nil {
							work <- i // retried, as an MTA would
							time.Sleep(20 * time.Millisecond)
						}
					}
				})
			}
			var lastKill time.Time
			for k := 1; k <= kills; k++ {
				for {
					mu.Lock()
					n := accepted
					mu.Unlock()
					if n >= k*messages/(kills+1) || ctx.Err() != nil {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				p.kill()
				lastKill = time.Now()
				time.Sleep(100 * time.Millisecond) // clients meet a dead port
				p.start()
			}
			clients.Wait()
			if ctx.Err() != nil {
				t.Fatalf("only %d of %d messages accepted in 5 minutes", accepted, messages)
			}

			// The last process drains the outbox. Deliveries a killed sender
			// had leased (claimed before the last kill: their lease of 10
			// minutes ends before lastKill + 10m) are retried when the lease
			// ends: the test ends those leases now instead of waiting. The
			// live process's own leases are left alone.
			db := sqlx.MustOpen("postgres", dbURL)
			defer db.Close()
			var leased []struct {
				ID        int64  `db:"id"`
				Recipient string `db:"recipient"`
				MessageID string `db:"message_id"`
			}
			if err := db.Select(&leased, `UPDATE deliveries d SET next_attempt_at = now() FROM outbox o
				WHERE o.id = d.outbox_id AND d.status = 'queued' AND d.next_attempt_at > now() AND d.next_attempt_at < $1
				RETURNING d.id, d.recipient, o.message_id`, lastKill.Add(10*time.Minute)); err != nil {
				t.Fatal(err)
			}
			// How many of them a killed sender had handed over already: the
			// Maildir sink writes them again under the same name (no second
			// copy); the relay gets them again.
			handedOver := 0
			for _, d := range leased {
				if relay == nil {
					if _, err := os.Stat(filepath.Join(dir, "maildir", "new", fmt.Sprintf("d%d.casegate", d.ID))); err == nil {
						handedOver++
					}
					continue
				}
				relay.mu.Lock()
				for _, g := range relay.got {
					if g.rcpt == d.Recipient && g.messageID == d.MessageID {
						handedOver++
						break
					}
				}
				relay.mu.Unlock()
			}
			deadline := time.Now().Add(2 * time.Minute)
			for {
				var pending int
				if err := db.Get(&pending, `SELECT (SELECT count(*) FROM intents WHERE rendered_at IS NULL) + (SELECT count(*) FROM deliveries WHERE status <> 'sent')`); err != nil {
					t.Fatal(err)
				}
				if pending == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d intents or deliveries still pending 2 minutes after the stream; see %s", pending, p.log.Name())
				}
				time.Sleep(50 * time.Millisecond)
			}
			p.stop()

			// Filed once each.
			var inbound, cases int
			if err := db.QueryRow(`SELECT count(*), count(DISTINCT case_id) FROM messages WHERE direction = 'inbound'`).Scan(&inbound, &cases); err != nil {
				t.Fatal(err)
			}
			if inbound != messages || cases != messages {
				t.Errorf("%d inbound messages on %d cases, want %d on %d", inbound, cases, messages, messages)
			}
			var got []delivered
			if relay != nil {
				relay.mu.Lock()
				got = append(got, relay.got...)
				relay.mu.Unlock()
			} else {
				got = maildirDeliveries(t, filepath.Join(dir, "maildir"))
			}
			// Per message: its acknowledgement to the customer, its
			// notification to Alice; the same mail twice is a duplicate.
			perMail := map[delivered]int{}
			acks, notes := map[int]int{}, map[int]int{}
			for _, d := range got {
				perMail[delivered{d.rcpt, d.messageID, ""}]++
				var i, c int
				switch {
				case d.rcpt == "alice@example.com":
					if _, err := fmt.Sscanf(d.subject, "[#%d] Load %d", &c, &i); err == nil {
						notes[i]++
					}
				default:
					if _, err := fmt.Sscanf(d.subject, "Re: Load %d [#%d]", &i, &c); err == nil && d.rcpt == fmt.Sprintf("c%d@customer.example", i) {
						acks[i]++
					}
				}
			}
			duplicates, missing := 0, 0
			for _, n := range perMail {
				duplicates += n - 1
			}
			for i := 0; i < messages; i++ {
				if acks[i] == 0 || notes[i] == 0 {
					missing++
				}
				if acks[i] > 1 || notes[i] > 1 {
					t.Logf("message %d: %d acknowledgements, %d staff notifications", i, acks[i], notes[i])
				}
			}
			t.Logf("%s: %d messages, %d SMTP attempts, %d kills; %d deliveries a killed sender had claimed (%d of them handed over before the kill); %d deliveries, %d duplicates, %d messages missing a mail",
				sink, messages, attempts, kills, len(leased), handedOver, len(got), duplicates, missing)
			if missing > 0 {
				t.Errorf("%d messages lack their acknowledgement or notification", missing)
			}
			if len(got)-duplicates != 2*messages {
				t.Errorf("%d distinct mails delivered, want %d", len(got)-duplicates, 2*messages)
			}
			switch sink {
			case "maildir":
				if duplicates != 0 {
					t.Errorf("%d duplicates with the Maildir sink, want 0", duplicates)
				}
			case "smarthost":
				// At most the deliveries a killed sender had handed over and
				// not yet recorded: eight at once per kill.
				if duplicates > 8*kills {
					t.Errorf("%d duplicates through the relay after %d kills, want at most %d", duplicates, kills, 8*kills)
				}
			}
		})
	}
}
