// Package pgtest gives tests a real PostgreSQL: a fresh, migrated database per
// test. It uses the server named by CASEGATE_TEST_DATABASE_URL (make test
// starts one) or else starts a throwaway cluster from the installed binaries
// once per test process. It fails the test loudly when it can do neither;
// it never skips.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"casegate"
)

var (
	setupOnce sync.Once
	setupErr  error
	adminURL  string
	template  string
	shared    *Cluster // started by this process when no URL was given
	createMu  sync.Mutex
)

// Main runs the tests of a package and stops the cluster pgtest may have
// started. Use it from TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.stop()
		os.RemoveAll(shared.Dir)
	}
	os.Exit(code)
}

func setup() error {
	adminURL = os.Getenv("CASEGATE_TEST_DATABASE_URL")
	if adminURL == "" {
		c, err := startCluster()
		if err != nil {
			return fmt.Errorf("no CASEGATE_TEST_DATABASE_URL and cannot start PostgreSQL: %w", err)
		}
		shared = c
		adminURL = c.URL("postgres")
	}
	template = "casegate_tmpl_" + randomName()
	admin, err := sql.Open("postgres", adminURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE DATABASE ` + template); err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	tdb, err := sql.Open("postgres", withDatabase(adminURL, template))
	if err != nil {
		return err
	}
	defer tdb.Close()
	if _, err := casegate.Migrate(context.Background(), tdb); err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	return nil
}

// URL returns the connection URL of a new, migrated, empty database that is
// dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	setupOnce.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("pgtest: %v", setupErr)
	}
	name := "casegate_t_" + randomName()
	admin, err := sql.Open("postgres", adminURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer admin.Close()
	createMu.Lock()
	_, err = admin.Exec(`CREATE DATABASE ` + name + ` TEMPLATE ` + template)
	createMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("postgres", adminURL)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	})
	return withDatabase(adminURL, name)
}

// DB returns a connection pool to a new, migrated database (see URL).
func DB(t testing.TB) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("postgres", URL(t))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	db.SetMaxIdleConns(20) // as casegate serve does; the default of 2 reconnects constantly
	t.Cleanup(func() { db.Close() })
	return db
}

func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(fmt.Sprintf("pgtest: bad database URL: %v", err))
	}
	u.Path = "/" + name
	return u.String()
}

func randomName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Cluster is a throwaway PostgreSQL server in a temporary directory, for
// tests that must stop and start the database under a running gateway.
type Cluster struct {
	Dir  string
	Port int
	bin  string
}

// StartCluster starts a private cluster for one test and removes it at the
// end. Most tests want DB or URL instead.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := startCluster()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		c.stop()
		os.RemoveAll(c.Dir)
	})
	return c
}

// URL is the connection URL of database name on the cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, name)
}

// CreateDatabase creates database name on the cluster, migrates it and
// returns its connection URL.
func (c *Cluster) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	admin := sqlx.MustOpen("postgres", c.URL("postgres"))
	defer admin.Close()
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	db := sqlx.MustOpen("postgres", c.URL(name))
	defer db.Close()
	if _, err := casegate.Migrate(context.Background(), db.DB); err != nil {
		t.Fatalf("pgtest: migrate: %v", err)
	}
	return c.URL(name)
}

// Stop shuts the server down at once, as a crash would (pg_ctl -m immediate).
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if out, err := c.pgctl("stop", "-m", "immediate", "-w"); err != nil {
		t.Fatalf("pgtest: stop: %v\n%s", err, out)
	}
}

// Start starts the server again after Stop.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	if err := c.start(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

func startCluster() (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "casegate-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: bin}
	if err := c.chownToPostgres(); err != nil {
		return nil, err
	}
	if out, err := c.run(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if c.Port, err = freePort(); err != nil {
		return nil, err
	}
	if err := c.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start() error {
	// CASEGATE_PG_OPTIONS adds server options, as for scripts/postgres.sh
	// (the bench's smoke test loads pg_stat_statements with it).
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 %s",
		c.Port, c.Dir, os.Getenv("CASEGATE_PG_OPTIONS"))
	out, err := c.pgctl("start", "-w", "-t", "60", "-l", filepath.Join(c.Dir, "log"), "-o", opts)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "log"))
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return nil
}

func (c *Cluster) stop() {
	c.pgctl("stop", "-m", "immediate", "-w")
}

func (c *Cluster) pgctl(args ...string) ([]byte, error) {
	return c.run(filepath.Join(c.bin, "pg_ctl"), append([]string{"-D", filepath.Join(c.Dir, "data")}, args...)...)
}

// run runs a PostgreSQL binary, as the postgres user when we are root:
// the server refuses to run as root.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	return cmd.CombinedOutput()
}

func (c *Cluster) chownToPostgres() error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs a postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chmod(c.Dir, 0o755); err != nil {
		return err
	}
	return os.Chown(c.Dir, uid, gid)
}

// BinDir finds the PostgreSQL server binaries: CASEGATE_PG_BIN, else the
// newest /usr/lib/postgresql/*/bin (Debian), else initdb on PATH.
func BinDir() (string, error) {
	if d := os.Getenv("CASEGATE_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) < pgMajor(dirs[j]) })
	if len(dirs) > 0 {
		return dirs[len(dirs)-1], nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("PostgreSQL server binaries not found (install postgresql or set CASEGATE_PG_BIN)")
}

func pgMajor(dir string) int {
	n, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(dir, "/usr/lib/postgresql/"), "/")[0])
	return n
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
