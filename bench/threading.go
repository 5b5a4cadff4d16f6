package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"casegate"
	"casegate/internal/sqlfile"
)

// runThreading is scenario 6: how long placing a reply takes when the
// database holds 1,000,000 cases and 5,000,000 messages.
func runThreading(ctx context.Context, e *env, r *report) error {
	cases, msgs := 1_000_000, 5_000_000
	if e.quick {
		cases, msgs = 10_000, 50_000
	}
	dbURL, err := e.freshDatabase("threading")
	if err != nil {
		return err
	}
	defer e.dropDatabase(dbURL)
	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := casegate.Migrate(ctx, db.DB); err != nil {
		return err
	}
	src, err := os.ReadFile("threads/queries.sql")
	if err != nil {
		return fmt.Errorf("run bench from the repository root: %w", err)
	}
	q, err := sqlfile.Parse(stripOthers(string(src), "case-by-message-ids-safe"))
	if err != nil {
		return err
	}
	start := time.Now()
	for _, stmt := range []string{
		fmt.Sprintf(`INSERT INTO cases (subject, customer, opened_at, updated_at)
			SELECT 'Problem ' || g, 'c' || g || '@customer.example', now(), now() FROM generate_series(1, %d) g`, cases),
		fmt.Sprintf(`INSERT INTO messages (case_id, direction, message_id, body_sha256, raw, source, received_at)
			SELECT 1000 + (g %% %d), 'inbound', 'm' || g || '@customer.example', sha256(CAST(CAST(g AS text) AS bytea)), '\x00', 'bench', now()
			FROM generate_series(1, %d) g`, cases, msgs),
		`INSERT INTO participants (case_id, address, role, added_at) SELECT id, customer, 'customer', now() FROM cases`,
		`ANALYZE`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("load: %w", err)
		}
	}
	load := time.Since(start)
	stmt, err := db.PreparexContext(ctx, q["case-by-message-ids-safe"])
	if err != nil {
		return err
	}
	defer stmt.Close()
	rng := rand.New(rand.NewSource(1))
	var lat []time.Duration
	for i := 0; i < 5000; i++ {
		// A reply names its parent and, in References, two older ones.
		parent := 1 + rng.Intn(msgs)
		ids := []string{
			fmt.Sprintf("m%d@customer.example", parent),
			fmt.Sprintf("m%d@customer.example", 1+rng.Intn(msgs)),
			fmt.Sprintf("unknown%d@elsewhere.example", i),
		}
		t0 := time.Now()
		var caseID int64
		// The parent's customer replies: case 1000+k belongs to c<k+1>.
		from := fmt.Sprintf("c%d@customer.example", 1+parent%cases)
		err := stmt.QueryRowxContext(ctx, pq.Array(ids), from).Scan(&caseID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var plan []string
	rows, err := db.QueryContext(ctx, "EXPLAIN "+q["case-by-message-ids-safe"], pq.Array([]string{"a", "b"}), "c@customer.example")
	if err == nil {
		for rows.Next() {
			var line string
			rows.Scan(&line)
			plan = append(plan, "    "+line)
		}
		rows.Close()
	}
	r.add(section{
		Title: fmt.Sprintf("6. Threading lookup at %d cases / %d messages", cases, msgs),
		Figures: []figure{
			newFigure("p50 to place a reply", "ms", []float64{ms(lat[len(lat)/2])}),
			newFigure("p99 to place a reply", "ms", []float64{ms(lat[len(lat)*99/100])}).withTarget("<=", 2),
			newFigure("time to load the data set", "s", []float64{load.Seconds()}),
		},
		Notes: []string{"Plan of the lookup (In-Reply-To/References → case):\n\n" + strings.Join(plan, "\n")},
	})
	return nil
}

// stripOthers keeps only the named query of a queries.sql file.
func stripOthers(src, name string) string {
	var keep []string
	on := false
	for _, line := range strings.SplitAfter(src, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
			on = strings.TrimSpace(rest) == name
		}
		if on {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}
