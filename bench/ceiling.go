package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"casegate"
	"casegate/mailin"
	"casegate/vocab"
)

// pgbenchScript is the minimal database work of filing one new message,
// as plain SQL, one commit a message: the case, the message's row with its
// raw 10 KB and its text, the case updated (its state and version, as
// filing leaves them), and one compact intent (the acknowledgement to
// render after the commit, with the spec a real filing writes).
//
// Identifiers come from the new case's id, unique across every run in the
// database (random ones collided after a few hundred thousand rows).
const pgbenchScript = `BEGIN;
INSERT INTO cases (subject, customer, opened_at, updated_at) VALUES ('Problem with my order', 'c@customer.example', now(), now()) RETURNING id AS case_id \gset
INSERT INTO messages (case_id, direction, message_id, body_sha256, raw, source, from_address, subject, text_body, received_at)
  VALUES (:case_id, 'inbound', 'pgbench-' || :case_id, sha256(CAST(:case_id AS text)::bytea), convert_to(repeat('x', 10000), 'UTF8'), 'smtp', 'c@customer.example', 'Problem', repeat('y', 9000), now());
UPDATE cases SET updated_at = now(), version = version + 1, state = '{"unanswered": ["2026-12-03T10:47:55.627989Z"], "customer_wrote": true, "customer_thread": ["m1@customer.example"]}' WHERE id = :case_id;
INSERT INTO intents (case_id, kind, message_id, created_at, spec) VALUES (:case_id, 'acknowledgement', 'ack-' || :case_id || '@support.example.com', now(),
  '{"to": [{"Name": "", "Address": "c@customer.example"}], "auto": "auto-replied", "data": {"Case": 0, "Team": "Example Support", "Subject": "Problem with my order", "CustomerName": ""}, "kind": "acknowledgement", "lang": "en", "reply_to": "customer", "answer_to": "c@customer.example", "references": ["m1@customer.example"], "in_reply_to": "m1@customer.example"}');
COMMIT;
`

// migrate brings the database at dbURL to casegate's schema.
func migrate(ctx context.Context, dbURL string) error {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := casegate.Migrate(ctx, db); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

var (
	tpsLine     = regexp.MustCompile(`tps = ([0-9.]+)`)
	txLine      = regexp.MustCompile(`number of transactions actually processed: ([0-9]+)`)
	latencyLine = regexp.MustCompile(`latency average = ([0-9.]+) ms`)
)

// pgbenchResult is one pgbench run of the filing script.
type pgbenchResult struct {
	tps       float64
	latencyMS float64 // pgbench's latency average
	p99MS     float64 // its transactions' 99th percentile (pgbench --log)
	walKB     float64 // WAL written per transaction
}

// pgbenchRun runs the filing script at conc clients on a fresh database
// with casegate's schema.
func pgbenchRun(ctx context.Context, e *env, conc int) (res pgbenchResult, err error) {
	script := filepath.Join(e.work, "filing.sql")
	if err := os.WriteFile(script, []byte(pgbenchScript), 0o644); err != nil {
		return res, err
	}
	// Full runs last ten seconds; the smoke run does ten transactions per
	// client instead, so a busy machine slows it but cannot make it empty.
	length := []string{"-T", "10"}
	if e.quick {
		length = []string{"-t", "10"}
	}
	dbURL, err := e.freshDatabase("pgbench")
	if err != nil {
		return res, err
	}
	defer e.dropDatabase(dbURL)
	// The schema comes from casegate itself.
	if err := migrate(ctx, dbURL); err != nil {
		return res, err
	}
	stats, err := newDBStats(e.adminURL, dbURL)
	if err != nil {
		return res, err
	}
	defer stats.close()
	before, _ := stats.counters()
	// Each transaction's latency goes to a log of its own (--log), for
	// the percentile the ingest's latency targets are judged by.
	logDir, err := os.MkdirTemp(e.work, "pgbench-log")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(logDir)
	args := append([]string{"-n", "-c", strconv.Itoa(conc), "-j", "2", "--log", "--log-prefix", filepath.Join(logDir, "tx")}, length...)
	cmd := exec.CommandContext(ctx, filepath.Join(e.pgBin, "pgbench"), append(args, "-f", script, dbURL)...)
	cmd.Dir = logDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return res, fmt.Errorf("pgbench: %v: %s", err, out)
	}
	if res.p99MS, err = pgbenchP99(logDir); err != nil {
		return res, err
	}
	after, _ := stats.counters()
	m, n, l := tpsLine.FindSubmatch(out), txLine.FindSubmatch(out), latencyLine.FindSubmatch(out)
	if m == nil || n == nil || l == nil {
		return res, fmt.Errorf("pgbench printed no tps: %s", out)
	}
	res.tps, _ = strconv.ParseFloat(string(m[1]), 64)
	res.latencyMS, _ = strconv.ParseFloat(string(l[1]), 64)
	if txs, _ := strconv.ParseFloat(string(n[1]), 64); txs > 0 {
		res.walKB = float64(after.walBytes-before.walBytes) / 1024 / txs
	}
	return res, nil
}

// pgbenchP99 reads the per-transaction logs pgbench --log wrote into dir
// (one line a transaction: client, transaction, latency in µs, …) and
// returns their 99th percentile in milliseconds.
func pgbenchP99(dir string) (float64, error) {
	logs, err := filepath.Glob(filepath.Join(dir, "tx*"))
	if err != nil || len(logs) == 0 {
		return 0, fmt.Errorf("pgbench wrote no transaction log in %s", dir)
	}
	var lat []float64
	for _, name := range logs {
		b, err := os.ReadFile(name)
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 3 {
				if us, err := strconv.ParseFloat(f[2], 64); err == nil {
					lat = append(lat, us/1000)
				}
			}
		}
	}
	if len(lat) == 0 {
		return 0, fmt.Errorf("pgbench's transaction logs in %s are empty", dir)
	}
	sort.Float64s(lat)
	return lat[min(len(lat)-1, len(lat)*99/100)], nil
}

// runCeilings is scenario 2: what PostgreSQL alone can commit (pgbench) and
// what the listener alone can take (parse, no database).
func runCeilings(ctx context.Context, e *env, r *report) error {
	sec := section{Title: "2. Ceilings: the same database work through pgbench, and the listener without a database"}
	for _, conc := range []int{1, 8, 32} {
		name := fmt.Sprintf("pgbench filing transactions/s at %d clients", conc)
		if conc == 32 && len(r.pgbench32) > 0 {
			// Measured between scenario 1's runs.
			f := newFigure(name, "tps", r.pgbench32)
			f.Note = "run after each ingest run of scenario 1"
			sec.Figures = append(sec.Figures, f)
			continue
		}
		var runs, latency, p99 []float64
		for run := 0; run < e.runs; run++ {
			res, err := pgbenchRun(ctx, e, conc)
			if err != nil {
				return err
			}
			runs, latency, p99 = append(runs, res.tps), append(latency, res.latencyMS), append(p99, res.p99MS)
		}
		sec.Figures = append(sec.Figures, newFigure(name, "tps", runs),
			newFigure(fmt.Sprintf("pgbench latency average at %d clients", conc), "ms", latency),
			newFigure(fmt.Sprintf("pgbench latency p99 at %d clients", conc), "ms", p99))
		if conc == 1 {
			// Beside scenario 1's one-connection latency target.
			r.besides(fmt.Sprintf("p99 end of DATA → 250 at %d", conc),
				fmt.Sprintf("pgbench at 1 client: latency average %s ms, p99 %s ms",
					num(newFigure("", "", latency).Median), num(newFigure("", "", p99).Median)))
		}
		if conc == 32 && r.ingest32 > 0 {
			f := newFigure("casegate ingest ÷ pgbench ceiling at 32", "×", []float64{r.ingest32 / newFigure("", "", runs).Median}).withTarget(">=", 0.9)
			sec.Figures = append(sec.Figures, f)
		}
	}

	total := 6000
	if e.quick {
		total = 300
	}
	var parseRuns []float64
	for run := 0; run < e.runs; run++ {
		rate, err := parseOnlyRate(ctx, total)
		if err != nil {
			return err
		}
		parseRuns = append(parseRuns, rate)
	}
	sec.Figures = append(sec.Figures, newFigure("listener + full parse, no database, at 32 connections", "msg/s", parseRuns))
	sec.Notes = append(sec.Notes, "The pgbench script does, one transaction a message (pgbench's simple protocol, one round trip a statement): insert the case; insert the message's row with its raw 10 KB and 9 KB of text; update the case (state, version); insert one compact intent (the acknowledgement's ~370-byte spec); commit. That is the least a durable filing must commit before its 250. casegate batches concurrent filings into shared commits (group commit), so it can exceed one-commit-per-message pgbench. The parse-only figure is the SMTP listener with the full parse and no database: the gateway's ceiling on its own.")
	r.add(sec)
	return nil
}

// discard parses like the gateway and files nothing.
type discard struct{}

func (discard) File(ctx context.Context, in *vocab.Inbound) (vocab.Filed, error) {
	return vocab.Filed{Case: 1}, nil
}
func (discard) AcceptsRecipient(addr string) bool { return strings.HasPrefix(addr, "support") }

func parseOnlyRate(ctx context.Context, total int) (float64, error) {
	srv := mailin.NewSMTPServer(mailin.SMTPOptions{
		Filer:         discard{},
		Domains:       []string{"support.example.com"},
		MaxConnsPerIP: -1, // the load generator is one IP
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	res := generate(l.Addr().String(), "parse", 32, total, 50)
	cancel()
	<-done
	if res.failed > 0 {
		return 0, fmt.Errorf("parse-only listener refused %d messages", res.failed)
	}
	return res.rate(), nil
}
