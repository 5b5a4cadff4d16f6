package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jmoiron/sqlx"

	"casegate/internal/gatewaytest"
	"casegate/internal/pgtest"
)

// service is a gateway started with testConfig plus extra TOML, with every
// bound address: SMTP first, then LMTP and HTTP when extra configures them.
type serviceGateway struct {
	dir     string
	config  string
	addrs   []net.Addr
	maildir string
	db      *sqlx.DB
	stop    func() error
}

func startService(t *testing.T, dbURL, extra string) *serviceGateway {
	t.Helper()
	return startServiceOn(t, dbURL, fmt.Sprintf(testConfig, dbURL)+extra, nil)
}

// startServiceOn runs a gateway on dbURL with the configuration conf in a
// short temporary directory, on clock when not nil.
func startServiceOn(t *testing.T, dbURL, conf string, clock *movableClock) *serviceGateway {
	t.Helper()
	dir := shortTempDir(t, "cg-svc-")
	gw, c := runGateway(t, dir, dbURL, conf, clock.nowFunc())
	return &serviceGateway{dir: dir, config: c.path, addrs: gw.addrs, maildir: gw.maildir, db: gw.db, stop: gw.stop}
}

func (g *serviceGateway) smtp() string { return g.addrs[0].String() }

// get fetches an HTTP path from the gateway's [http] listener.
func (g *serviceGateway) get(t *testing.T, path string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + g.addrs[len(g.addrs)-1].String() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of the sample written exactly as series (name
// and labels in the exposition format's sorted order), or -1.
func (g *serviceGateway) metric(t *testing.T, series string) float64 {
	t.Helper()
	code, body := g.get(t, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return f
		}
	}
	return -1
}

// waitMetric polls /metrics until series has value want.
func (g *serviceGateway) waitMetric(t *testing.T, series string, want float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v := g.metric(t, series)
		if v == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", series, v, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fakeNotifySocket is systemd's end of sd_notify: a unixgram socket named
// by NOTIFY_SOCKET, with the watchdog enabled for this process.
func fakeNotifySocket(t *testing.T, watchdog time.Duration) <-chan string {
	dir := shortTempDir(t, "cg-notify-")
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", strconv.FormatInt(watchdog.Microseconds(), 10))
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	msgs := make(chan string, 1000)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			select {
			case msgs <- string(buf[:n]):
			default: // a test that stopped reading; systemd would drop too
			}
		}
	}()
	return msgs
}

// waitNotify reads notifications until one contains want.
func waitNotify(t *testing.T, msgs <-chan string, want string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatalf("notify socket closed before %q", want)
			}
			if strings.Contains(m, want) {
				return m
			}
		case <-timeout:
			t.Fatalf("no %q notification", want)
		}
	}
}

func TestReadinessAndWatchdogNotifications(t *testing.T) {
	msgs := fakeNotifySocket(t, 300*time.Millisecond)
	g := startService(t, pgtest.URL(t), "")
	// READY=1 is the first notification, sent once the database, the
	// listeners and the sender are up.
	select {
	case m := <-msgs:
		if !strings.HasPrefix(m, "READY=1") {
			t.Fatalf("first notification = %q, want READY=1", m)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve was up without READY=1 sent")
	}
	// The gateway answers right after READY=1.
	if err := send(t, g.smtp(), "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatalf("send after READY: %v", err)
	}
	// The main loop keeps feeding the watchdog: several pings in a few
	// intervals (the interval is 300 ms; pings come every 100 ms).
	start := time.Now()
	for i := 0; i < 5; i++ {
		waitNotify(t, msgs, "WATCHDOG=1")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("5 watchdog pings took %v", took)
	}
	// SIGHUP: RELOADING=1 with the monotonic time, then READY=1 again.
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	m := waitNotify(t, msgs, "RELOADING=1")
	if !strings.Contains(m, "MONOTONIC_USEC=") {
		t.Errorf("reload notification %q lacks MONOTONIC_USEC", m)
	}
	waitNotify(t, msgs, "READY=1")
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	waitNotify(t, msgs, "STOPPING=1")
}

const reloadTemplate = "Subject: %s [#{{.Case}}]\n\nWe have your mail about {{.Subject}}.\n"

func TestReloadAppliesGoodConfigAndRefusesBad(t *testing.T) {
	dbURL := pgtest.URL(t)
	dir := shortTempDir(t, "cg-tpl-")
	tpl := filepath.Join(dir, "acknowledgement.txt.tmpl")
	os.WriteFile(tpl, []byte(fmt.Sprintf(reloadTemplate, "First version")), 0o644)
	g := startService(t, dbURL, fmt.Sprintf("[templates]\ndir = %q\n[http]\nlisten = \"127.0.0.1:0\"\n", dir))

	// A client connected before the reloads keeps its connection throughout.
	client, err := smtp.Dial(g.smtp())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	sendOn := func(id string) {
		t.Helper()
		raw := strings.ReplaceAll(strings.Replace(gatewaytest.CustomerMail, "first-1", id, 1), "\n", "\r\n")
		raw = strings.Replace(raw, "Printer on fire", "Printer "+id, 1)
		if err := client.SendMail("ada@customer.example", []string{"support@support.example.com"}, strings.NewReader(raw)); err != nil {
			t.Fatalf("send %s on the old connection: %v", id, err)
		}
	}
	ackSubjects := func(n int) []string {
		var out []string
		// Each mail brings an acknowledgement and a staff notification.
		for _, r := range mailTo(t, waitMaildir(t, g.maildir, 2*n), "ada@customer.example") {
			s, _ := r.Header.Subject()
			out = append(out, s)
		}
		return out
	}
	hasSubject := func(subjects []string, prefix string, n int) {
		t.Helper()
		got := 0
		for _, s := range subjects {
			if strings.HasPrefix(s, prefix) {
				got++
			}
		}
		if got != n {
			t.Errorf("acknowledgements starting %q: %d, want %d (all: %q)", prefix, got, n, subjects)
		}
	}

	sendOn("one")
	hasSubject(ackSubjects(1), "First version", 1)

	// Good: a new template text takes effect on SIGHUP.
	os.WriteFile(tpl, []byte(fmt.Sprintf(reloadTemplate, "Second version")), 0o644)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	g.waitMetric(t, `casegate_config_reloads_total{result="ok"}`, 1)
	sendOn("two")
	subjects := ackSubjects(2)
	hasSubject(subjects, "First version", 1)
	hasSubject(subjects, "Second version", 1)

	// Bad template: refused, the second version stays.
	os.WriteFile(tpl, []byte("Subject: {{.Nope}}\n\n{{if}}\n"), 0o644)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	g.waitMetric(t, `casegate_config_reloads_total{result="refused"}`, 1)
	// Bad configuration file: refused too.
	os.WriteFile(tpl, []byte(fmt.Sprintf(reloadTemplate, "Third version")), 0o644)
	good, _ := os.ReadFile(g.config)
	os.WriteFile(g.config, append(append([]byte(nil), good...), "[smtp2]\nlisten = 1\n"...), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	g.waitMetric(t, `casegate_config_reloads_total{result="refused"}`, 2)

	sendOn("three")
	subjects = ackSubjects(3)
	hasSubject(subjects, "Second version", 2)
	hasSubject(subjects, "Third version", 0)

	// Fixed again: the next reload goes through.
	os.WriteFile(g.config, good, 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	g.waitMetric(t, `casegate_config_reloads_total{result="ok"}`, 2)
	sendOn("four")
	hasSubject(ackSubjects(4), "Third version", 1)
}

func TestMetricsHealthAndLMTP(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	url := cluster.CreateDatabase(t, "casegate")
	g := startService(t, url, "[lmtp]\nlisten = \"./lmtp.sock\"\n[http]\nlisten = \"127.0.0.1:0\"\n")
	if len(g.addrs) != 3 {
		t.Fatalf("addresses = %v, want SMTP, LMTP, HTTP", g.addrs)
	}
	sock := filepath.Join(g.dir, "lmtp.sock")
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("LMTP socket: %v %v, want a 0660 socket", fi, err)
	}

	if code, body := g.get(t, "/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := g.get(t, "/readyz"); code != 200 || strings.TrimSpace(body) != "ready" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	// Counters with known labels exist at 0 before anything happened, so
	// alerts on their rates work from the start.
	for _, series := range []string{
		`casegate_messages_received_total{result="failed",source="smtp"}`,
		`casegate_messages_received_total{result="rejected",source="lmtp"}`,
		`casegate_delivery_attempts_total{result="failed"}`,
		`casegate_config_reloads_total{result="refused"}`,
		`casegate_filing_duration_seconds_count{source="lmtp"}`,
	} {
		if v := g.metric(t, series); v != 0 {
			t.Errorf("%s = %v at start, want 0", series, v)
		}
	}
	for _, series := range []string{"casegate_ready", "casegate_outbox_up", "casegate_report_up"} {
		if v := g.metric(t, series); v != 1 {
			t.Errorf("%s = %v, want 1", series, v)
		}
	}

	// One mail by SMTP, its duplicate, one by LMTP to two recipients: LMTP
	// answers once per recipient (RFC 2033 §4.2).
	if err := send(t, g.smtp(), "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatal(err)
	}
	if err := send(t, g.smtp(), "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatal(err)
	}
	lmtpMail := strings.Replace(strings.Replace(gatewaytest.CustomerMail, "first-1", "lmtp-1", 1), "Printer on fire", "Scanner jammed", 1)
	resp, err := sendLMTP(t, sock, []string{"support@support.example.com", "support+hello@support.example.com"}, lmtpMail)
	if err != nil {
		t.Fatalf("LMTP: %v", err)
	}
	if len(resp) != 2 {
		t.Errorf("LMTP replies = %v, want one per recipient", resp)
	}
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE direction = 'inbound' AND source = 'lmtp'`); n != 1 {
		t.Errorf("LMTP messages filed = %d, want 1", n)
	}
	// A recipient that is not ours is refused at RCPT, as over SMTP.
	if _, err := sendLMTP(t, sock, []string{"postmaster@support.example.com"}, lmtpMail); smtpCode(err) != 550 {
		t.Errorf("LMTP to postmaster: %v, want 550", err)
	}
	waitMaildir(t, g.maildir, 4) // two acknowledgements, two staff notifications

	g.waitMetric(t, `casegate_messages_received_total{result="filed",source="smtp"}`, 1)
	g.waitMetric(t, `casegate_messages_received_total{result="duplicate",source="smtp"}`, 1)
	g.waitMetric(t, `casegate_messages_received_total{result="filed",source="lmtp"}`, 1)
	g.waitMetric(t, `casegate_filing_duration_seconds_count{source="smtp"}`, 2)
	g.waitMetric(t, `casegate_delivery_attempts_total{result="sent"}`, 4) // acknowledgements and staff notifications
	g.waitMetric(t, `casegate_outbox_queued`, 0)
	g.waitMetric(t, `casegate_outbox_failed`, 0)

	// A waiting delivery shows in depth and age (pushed into the future
	// so the sender leaves it alone).
	g.db.MustExec(`WITH o AS (INSERT INTO outbox (message_id, raw, automatic, created_at)
		VALUES ('waiting@x', 'x', true, now() - interval '1 hour') RETURNING id)
		INSERT INTO deliveries (outbox_id, recipient, next_attempt_at) SELECT id, 'w@x', now() + interval '1 day' FROM o`)
	g.waitMetric(t, `casegate_outbox_queued`, 1)
	if age := g.metric(t, `casegate_outbox_oldest_age_seconds`); age < 3500 || age > 4000 {
		t.Errorf("oldest age = %v s, want about 3600", age)
	}

	// Database down: /readyz says so, /healthz stays up, SMTP and LMTP
	// answer 451 to every recipient and count the failure.
	cluster.Stop(t)
	if code, body := g.get(t, "/readyz"); code != 503 || !strings.Contains(body, "database") {
		t.Errorf("/readyz with the database down = %d %q", code, body)
	}
	if code, _ := g.get(t, "/healthz"); code != 200 {
		t.Errorf("/healthz with the database down = %d", code)
	}
	// /metrics still answers 200 with every counter; what needs the
	// database says it is missing (…_up 0) and is left out.
	if code, body := g.get(t, "/metrics"); code != 200 {
		t.Errorf("/metrics with the database down = %d %s", code, body)
	} else {
		for _, series := range []string{"casegate_outbox_up 0", "casegate_report_up 0", "casegate_ready 0", `casegate_messages_received_total{result="filed",source="smtp"} 1`} {
			if !strings.Contains(body, "\n"+series+"\n") {
				t.Errorf("/metrics with the database down lacks %q", series)
			}
		}
		for _, absent := range []string{"casegate_outbox_queued ", "casegate_report_cases_opened{"} {
			if strings.Contains(body, "\n"+absent) {
				t.Errorf("/metrics with the database down still has %s", absent)
			}
		}
	}
	down := strings.Replace(lmtpMail, "lmtp-1", "lmtp-2", 1)
	_, err = sendLMTP(t, sock, []string{"support@support.example.com", "support+x@support.example.com"}, down)
	var lerr smtp.LMTPDataError
	if !errors.As(err, &lerr) || len(lerr) != 2 {
		t.Fatalf("LMTP with the database down: %v, want a 451 per recipient", err)
	}
	for rcpt, e := range lerr {
		if e.Code != 451 {
			t.Errorf("LMTP %s: %v, want 451", rcpt, e)
		}
	}
	cluster.Start(t)
	g.waitMetric(t, `casegate_messages_received_total{result="failed",source="lmtp"}`, 1)
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := g.get(t, "/readyz")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d after the database is back", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sendLMTP delivers raw over LMTP on a unix socket as Postfix's lmtp client
// does, returning the per-recipient replies.
func sendLMTP(t *testing.T, sock string, rcpts []string, raw string) (map[string]*smtp.DataResponse, error) {
	t.Helper()
	return gatewaytest.Client{Hello: "mta.example"}.SendLMTP(t, sock, "ada@customer.example", rcpts, raw)
}

// The watchdog is fed only while the listeners accept and the sender runs:
// a gateway that lost them is left to systemd's WatchdogSec to restart.
func TestWatchdogStarvesWhenNotAlive(t *testing.T) {
	msgs := fakeNotifySocket(t, 150*time.Millisecond)
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	s := &service{log: log, metrics: newMetrics(nil, log, time.Now), hup: make(chan os.Signal, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	s.sending.Store(true)            // listeners down, sender up
	quiet := time.After(time.Second) // about 20 ping intervals
	for waiting := true; waiting; {
		select {
		case m := <-msgs:
			if strings.Contains(m, "WATCHDOG=1") {
				t.Fatal("watchdog fed while the listeners are down")
			}
		case <-quiet:
			waiting = false
		}
	}
	s.listening.Store(true)
	waitNotify(t, msgs, "WATCHDOG=1")
}
