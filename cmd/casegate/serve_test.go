package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate"
	"casegate/internal/gatewaytest"
	"casegate/internal/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(journalChildEnv) != "" {
		journalChild() // a child process of TestErrorLinesReachJournalWithPriority
		return
	}
	pgtest.Main(m)
}

// gateway is a casegate serving in-process, as `casegate serve` would, on a
// real database with outbound mail in a Maildir.
type gateway struct {
	addr    string     // the first SMTP listener
	addrs   []net.Addr // every bound address: SMTP, then LMTP and HTTP when configured
	maildir string
	db      *sqlx.DB
	stop    func() error
}

const testConfig = `
[database]
url = %q
[smtp]
listen = ["127.0.0.1:0"]
domains = ["support.example.com"]
max_message_bytes = 200000
[addresses]
support = "Example Support <support@support.example.com>"
pr = "pr@example.com"
staff = ["alice@example.com"]
[staff]
secret = "test-secret-0123456789"
[outbound]
maildir = "maildir"
`

func startGateway(t testing.TB, dbURL string) *gateway {
	t.Helper()
	return startGatewayWith(t, dbURL, "")
}

// startGatewayWith starts a gateway whose configuration is testConfig
// followed by extra (further TOML tables).
func startGatewayWith(t testing.TB, dbURL, extra string) *gateway {
	g, _ := runGateway(t, "", dbURL, fmt.Sprintf(testConfig, dbURL)+extra, nil)
	return g
}

// shortTempDir is a temporary directory with a short path, removed when
// the test ends: unix socket paths are limited to 108 bytes, and
// t.TempDir's are longer.
func shortTempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// runGateway runs casegate serve in-process with the configuration conf
// (written to a file in dir, a test temporary directory when empty, and
// read as serve reads it) and, when now is not nil, on that clock. It
// stops the gateway when the test ends.
func runGateway(t testing.TB, dir, dbURL, conf string, now func() time.Time) (*gateway, *Config) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "casegate.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if now != nil {
		c.now = now
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan []net.Addr, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	go func() { done <- serve(ctx, c, log, ready) }()
	var addrs []net.Addr
	select {
	case addrs = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("gateway did not start")
	}
	db := sqlx.MustOpen("postgres", dbURL)
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("gateway did not stop")
		}
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		db.Close()
	})
	return &gateway{addr: addrs[0].String(), addrs: addrs, maildir: filepath.Join(dir, "maildir"), db: db, stop: stop}, c
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// send submits raw over SMTP as a real client does and returns the server's
// verdict (nil for 250).
func send(t *testing.T, addr, from string, to []string, raw string) error {
	t.Helper()
	return gatewaytest.Send(t, addr, from, to, raw)
}

func smtpCode(err error) int { return gatewaytest.SMTPCode(err) }

// waitMaildir waits until dir/new holds n files and returns them parsed.
func waitMaildir(t *testing.T, dir string, n int) []*mail.Reader {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
		if len(files) == n {
			var out []*mail.Reader
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				r, err := mail.CreateReader(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("outbound mail does not parse: %v", err)
				}
				out = append(out, r)
			}
			return out
		}
		if len(files) > n || time.Now().After(deadline) {
			t.Fatalf("maildir has %d mails, want %d", len(files), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// count runs a count query once the mail the filings so far decided has
// been rendered into the outbox (the composer works after the commit).
func count(t *testing.T, db *sqlx.DB, query string, args ...any) int {
	t.Helper()
	return gatewaytest.Count(t, db, query, args...)
}

// rendered waits until the running gateway's composer has rendered every
// intent committed so far into the outbox.
func rendered(t *testing.T, db *sqlx.DB) {
	t.Helper()
	gatewaytest.Rendered(t, db)
}

func TestServeRefusesUnmigratedDatabase(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "casegate.toml")
	os.WriteFile(path, []byte(fmt.Sprintf(testConfig, cluster.URL("postgres"))), 0o600)
	err := run(context.Background(), []string{"serve", "-config", path}, func(string) string { return "" }, io.Discard, io.Discard)
	if !errors.Is(err, casegate.ErrSchemaBehind) {
		t.Fatalf("serve on an empty database: %v, want ErrSchemaBehind", err)
	}
	var out bytes.Buffer
	for i := 0; i < 2; i++ { // idempotent
		out.Reset()
		if err := run(context.Background(), []string{"migrate", "-config", path}, func(string) string { return "" }, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(out.String(), "up to date") {
		t.Errorf("second migrate said %q", out.String())
	}
	db := sqlx.MustOpen("postgres", cluster.URL("postgres"))
	defer db.Close()
	// The same version with other server functions (functions.sql of
	// another build): serve refuses until migrate puts this binary's back.
	db.MustExec(`CREATE OR REPLACE FUNCTION casegate_case_state(want bigint) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$`)
	db.MustExec(`UPDATE schema_functions SET sha256 = 'another build'`)
	if err := casegate.CheckSchema(context.Background(), db.DB); !errors.Is(err, casegate.ErrSchemaBehind) {
		t.Errorf("other server functions: %v, want ErrSchemaBehind", err)
	}
	if err := run(context.Background(), []string{"migrate", "-config", path}, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := casegate.CheckSchema(context.Background(), db.DB); err != nil {
		t.Errorf("after migrate: %v", err)
	}
	var body string
	db.Get(&body, `SELECT prosrc FROM pg_proc WHERE proname = 'casegate_case_state'`)
	if !strings.Contains(body, "jsonb_build_object") {
		t.Errorf("migrate did not restore casegate_case_state: %s", body)
	}
	db.MustExec(`INSERT INTO schema_version (version) VALUES (9999)`)
	if err := casegate.CheckSchema(context.Background(), db.DB); !errors.Is(err, casegate.ErrSchemaAhead) {
		t.Errorf("newer schema: %v, want ErrSchemaAhead", err)
	}
}
