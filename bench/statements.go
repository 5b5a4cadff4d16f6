package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"casegate/internal/sqlfile"
)

// What the database did for a run: the statements the gateway sent
// (pg_stat_statements, when the server loads it: scripts/bench.sh starts
// PostgreSQL with it), the transactions it committed and the WAL it
// wrote. Statements are counted per database, and every scenario gives the
// gateway a database of its own, so what is counted is the gateway's work
// (and nothing of the bench's, which reads its figures from the admin
// database or after the counters are read).

// dbCounters are the cumulative counters of one database.
type dbCounters struct {
	commits  int64 // pg_stat_database.xact_commit
	walBytes int64 // pg_stat_wal.wal_bytes (the whole cluster)
}

// dbStats reads the counters of the database behind dbURL and resets its
// pg_stat_statements entries.
type dbStats struct {
	admin    *sql.DB
	name     string
	counting bool  // pg_stat_statements is loaded and usable
	fkChecks int64 // deferred foreign-key checks at commit, left out of the counts
}

func newDBStats(adminURL, dbURL string) (*dbStats, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, err
	}
	admin, err := sql.Open("postgres", adminURL)
	if err != nil {
		return nil, err
	}
	s := &dbStats{admin: admin, name: strings.TrimPrefix(u.Path, "/")}
	var libs string
	if err := admin.QueryRow(`SELECT current_setting('shared_preload_libraries')`).Scan(&libs); err != nil {
		admin.Close()
		return nil, err
	}
	if strings.Contains(libs, "pg_stat_statements") {
		if _, err := admin.Exec(`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
			admin.Close()
			return nil, fmt.Errorf("pg_stat_statements: %w", err)
		}
		s.counting = true
	}
	return s, nil
}

func (s *dbStats) close() { s.admin.Close() }

// reset forgets the statements counted so far in the database (the
// migration, the gateway's start).
func (s *dbStats) reset() error {
	if !s.counting {
		return nil
	}
	_, err := s.admin.Exec(`SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = $1), 0)`, s.name)
	return err
}

func (s *dbStats) counters() (dbCounters, error) {
	var c dbCounters
	// The statistics collector's view is cached for a transaction; each
	// Query here is its own.
	err := s.admin.QueryRow(`SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = $1),
		(SELECT CAST(wal_bytes AS bigint) FROM pg_stat_wal)`, s.name).Scan(&c.commits, &c.walBytes)
	return c, err
}

// statementCount is what pg_stat_statements counted for one statement.
type statementCount struct {
	name   string // the query's name in a queries.sql, or its opening words
	filing bool   // part of filing a message, before the 250
	write  bool   // the filing's write (its commit)
	calls  int64
	execMS float64 // PostgreSQL's execution time, all calls
}

// statements returns the statements counted in the database since reset,
// most called first.
func (s *dbStats) statements() (top, nested []statementCount, err error) {
	if !s.counting {
		return nil, nil, nil
	}
	s.fkChecks = 0
	// pg_stat_statements is read through the admin database's copy of
	// the view; its entries are the cluster's. Nested statements (those
	// of the casegate_* functions) are there only when the database
	// tracks them (bench -nested).
	rows, err := s.admin.Query(`SELECT query, calls, total_exec_time, toplevel FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)`, s.name)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	names := queryNames()
	byName := map[string]*statementCount{}
	for rows.Next() {
		var q string
		var calls int64
		var execMS float64
		var toplevel bool
		if err := rows.Scan(&q, &calls, &execMS, &toplevel); err != nil {
			return nil, nil, err
		}
		if strings.Contains(q, strings.TrimSpace(benchMark)) {
			continue
		}
		if !toplevel {
			nested = append(nested, statementCount{name: nameOf(q, nil), calls: calls, execMS: execMS})
			continue
		}
		if isForeignKeyCheck(q) {
			// A deferred foreign key is checked at the commit, and
			// pg_stat_statements then sees the check's query as a
			// statement of its own; it is work of the write (its
			// commit), not a statement the gateway sent.
			s.fkChecks += calls
			continue
		}
		n := nameOf(q, names)
		c := byName[n]
		if c == nil {
			c = &statementCount{name: n, filing: isFiling(q), write: strings.Contains(q, "casegate_write(")}
			byName[n] = c
		}
		c.calls += calls
		c.execMS += execMS
	}
	top = make([]statementCount, 0, len(byName))
	for _, c := range byName {
		top = append(top, *c)
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].calls != top[j].calls {
			return top[i].calls > top[j].calls
		}
		return top[i].name < top[j].name
	})
	sort.Slice(nested, func(i, j int) bool { return nested[i].execMS > nested[j].execMS })
	return top, nested, rows.Err()
}

// trackNested has the database count the statements run inside
// functions too (pg_stat_statements.track = all) for connections made
// from now on: a diagnosis of where the casegate_* functions spend their
// time, which itself costs time (bench -nested).
func trackNested(adminURL, dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	admin, err := sql.Open("postgres", adminURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	_, err = admin.Exec(`ALTER DATABASE ` + strings.TrimPrefix(u.Path, "/") + ` SET pg_stat_statements.track = 'all'`)
	return err
}

// isFiling reports a statement filing runs before its 250: the batch's
// snapshot and its write (threads/queries.sql snapshot and write), which
// is also the commit. A batch with a bounce writes in a transaction of its
// own (BEGIN, the write, the bounce's mark, COMMIT); the bench sends none.
func isFiling(q string) bool {
	return strings.Contains(q, "casegate_snapshot(") || strings.Contains(q, "casegate_write(")
}

// isForeignKeyCheck reports the query PostgreSQL runs to check a foreign
// key (ri_triggers.c): SELECT 1 FROM ONLY "schema"."table" x WHERE … FOR KEY SHARE OF x.
func isForeignKeyCheck(q string) bool {
	return strings.Contains(q, `FROM ONLY "`) && strings.Contains(q, "FOR KEY SHARE OF x")
}

func isWrite(q string) bool {
	return strings.Contains(q, "casegate_snapshot(") || strings.Contains(q, "casegate_write(")
}

var (
	sqlComment = regexp.MustCompile(`(?m)--.*$`)
	sqlLiteral = regexp.MustCompile(`'(?:[^']|'')*'|\$\d+|\b\d+\b`)
	sqlSpace   = regexp.MustCompile(`\s+`)
)

// shape is a query's text with comments, constants and parameters
// blanked (pg_stat_statements shows constants as $n) and white space
// collapsed.
func shape(q string) string {
	q = sqlComment.ReplaceAllString(q, "")
	q = sqlLiteral.ReplaceAllString(q, "?")
	q = strings.TrimSpace(sqlSpace.ReplaceAllString(q, " "))
	return strings.TrimSpace(strings.TrimSuffix(q, ";"))
}

// queryNames maps the shapes of the named queries of every queries.sql in
// the repository (the bench runs from its root) to "package/name".
func queryNames() map[string]string {
	out := map[string]string{}
	files, _ := filepath.Glob("*/queries.sql")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		qs, err := sqlfile.Parse(string(src))
		if err != nil {
			continue
		}
		for name, q := range qs {
			out[shape(q)] = filepath.Dir(f) + "/" + name
		}
	}
	return out
}

func nameOf(q string, names map[string]string) string {
	sh := shape(q)
	if n, ok := names[sh]; ok {
		return n
	}
	if len(sh) > 70 {
		sh = sh[:70] + "…"
	}
	return sh
}

// statementFigures are the figures of one measured run.
type statementFigures struct {
	filing, after, all float64 // statements per filed message
	filingMS, afterMS  float64 // PostgreSQL's execution time per filed message
	perCommit          float64 // messages per filing write (group commit)
	commits            float64 // transactions committed per filed message, all work
	walKB              float64 // WAL per filed message
	fkChecks           float64 // deferred foreign-key checks per filed message
	filed              int
	top                []statementCount
	nested             []statementCount // inside functions, with bench -nested
}

// figures turns the counters before and after a run in which filed
// messages were filed into figures; benchCommits are the bench's own
// transactions on the database meanwhile.
func (s *dbStats) figures(before, after dbCounters, benchCommits int64, filed int) (statementFigures, error) {
	var f statementFigures
	if filed == 0 {
		return f, fmt.Errorf("no message filed")
	}
	n := float64(filed)
	f.filed = filed
	f.commits = float64(after.commits-before.commits-benchCommits) / n
	f.walKB = float64(after.walBytes-before.walBytes) / 1024 / n
	counts, nested, err := s.statements()
	if err != nil {
		return f, err
	}
	f.nested = nested
	var writes int64
	for _, c := range counts {
		if c.filing {
			f.filing += float64(c.calls) / n
			f.filingMS += c.execMS / n
		} else {
			f.after += float64(c.calls) / n
			f.afterMS += c.execMS / n
		}
		if c.write {
			writes += c.calls
		}
	}
	f.all = f.filing + f.after
	if writes > 0 {
		f.perCommit = n / float64(writes)
	}
	f.top = counts
	f.fkChecks = float64(s.fkChecks) / n
	return f, nil
}

// benchMark starts every query the bench itself runs on a gateway's
// database, so that the statement counts leave them out.
const benchMark = "/* casegate-bench */ "

// waitSettled waits until the gateway has done what a filing leaves for
// after its commit: every intent rendered, every delivery handed over,
// every message indexed. It returns how long that took and how many
// transactions its own polling committed (to leave out of the counts).
func waitSettled(ctx context.Context, dbURL string, limit time.Duration) (took time.Duration, polls int64, err error) {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	start := time.Now()
	for {
		var left int64
		polls++
		err := db.QueryRowContext(ctx, benchMark+`SELECT
			(SELECT count(*) FROM intents WHERE rendered_at IS NULL) +
			(SELECT count(*) FROM deliveries WHERE status = 'queued') +
			(SELECT count(*) FROM search_queue)`).Scan(&left)
		if err != nil {
			return 0, polls, err
		}
		if left == 0 {
			return time.Since(start), polls, nil
		}
		if time.Since(start) > limit {
			return 0, polls, fmt.Errorf("%d intents, deliveries and index entries still pending after %s", left, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
