package main

import (
	"casegate/vocab"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"casegate/mailin"
)

// pgbenchScript is what filing one new message costs the database, as
// plain SQL: the raw message, its row, the case found and updated, an
// outbox row and its delivery, one commit.
const pgbenchScript = `\set n random(1, 1000000000)
BEGIN;
INSERT INTO cases (subject, customer, opened_at, updated_at) VALUES ('Problem with my order', 'c@customer.example', now(), now()) RETURNING id AS case_id \gset
INSERT INTO messages (case_id, direction, message_id, body_sha256, raw, source, from_address, subject, text_body, received_at)
  VALUES (:case_id, 'inbound', 'pgbench-' || :n || '-' || :client_id, sha256(CAST(:n AS text)::bytea), convert_to(repeat('x', 10000), 'UTF8'), 'smtp', 'c@customer.example', 'Problem', repeat('y', 9000), now());
UPDATE cases SET updated_at = now() WHERE id = :case_id;
INSERT INTO outbox (message_id, raw, automatic, created_at) VALUES ('ack-' || :n || '-' || :client_id, convert_to(repeat('z', 1500), 'UTF8'), true, now()) RETURNING id AS outbox_id \gset
INSERT INTO deliveries (outbox_id, recipient, next_attempt_at) VALUES (:outbox_id, 'c@customer.example', now());
COMMIT;
`

var tpsLine = regexp.MustCompile(`tps = ([0-9.]+)`)

// runCeilings is scenario 2: what PostgreSQL alone can commit (pgbench) and
// what the listener alone can take (parse, no database).
func runCeilings(ctx context.Context, e *env, r *report) error {
	sec := section{Title: "2. Ceilings: the same database work through pgbench, and the listener without a database"}
	script := filepath.Join(e.work, "filing.sql")
	if err := os.WriteFile(script, []byte(pgbenchScript), 0o644); err != nil {
		return err
	}
	// Full runs last ten seconds; the smoke run does ten transactions per
	// client instead, so a busy machine slows it but cannot make it empty.
	length := []string{"-T", "10"}
	if e.quick {
		length = []string{"-t", "10"}
	}
	var tps32 float64
	for _, conc := range []int{1, 8, 32} {
		var runs []float64
		for run := 0; run < e.runs; run++ {
			dbURL, err := e.freshDatabase("pgbench")
			if err != nil {
				return err
			}
			// The schema comes from casegate itself.
			g, err := startGateway(ctx, e, dbURL, "")
			if err != nil {
				return err
			}
			g.stop()
			args := append([]string{"-n", "-c", strconv.Itoa(conc), "-j", "2"}, length...)
			cmd := exec.CommandContext(ctx, filepath.Join(e.pgBin, "pgbench"), append(args, "-f", script, dbURL)...)
			out, err := cmd.CombinedOutput()
			e.dropDatabase(dbURL)
			if err != nil {
				return fmt.Errorf("pgbench: %v: %s", err, out)
			}
			m := tpsLine.FindSubmatch(out)
			if m == nil {
				return fmt.Errorf("pgbench printed no tps: %s", out)
			}
			v, _ := strconv.ParseFloat(string(m[1]), 64)
			runs = append(runs, v)
		}
		f := newFigure(fmt.Sprintf("pgbench filing transactions/s at %d clients", conc), "tps", runs)
		sec.Figures = append(sec.Figures, f)
		if conc == 32 {
			tps32 = f.Median
		}
	}
	if r.ingest32 > 0 && tps32 > 0 {
		ratio := newFigure("casegate ingest ÷ pgbench ceiling at 32", "×", []float64{r.ingest32 / tps32}).withTarget(">=", 0.9)
		sec.Figures = append(sec.Figures, ratio)
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
	sec.Notes = append(sec.Notes, "The pgbench script does per transaction what filing a new message costs: insert the case, the raw 10 KB message and its row, update the case, insert an outbox row and its delivery, commit. casegate batches concurrent filings into shared commits (group commit), so it can exceed one-commit-per-message pgbench.")
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
