package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"casegate"
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
	// What a filing's snapshot runs to place a reply (schema.sql,
	// casegate_thread), prepared as the gateway prepares it: PostgreSQL
	// may switch a prepared statement to a generic plan, and this one must
	// stay an index lookup from the few ids a reply names.
	const lookup = `SELECT thread, how FROM casegate_thread(CAST($1 AS jsonb), '[]', '[]', $2, false)`
	start := time.Now()
	for _, stmt := range []string{
		fmt.Sprintf(`INSERT INTO cases (subject, customer, opened_at, updated_at)
			SELECT 'Problem ' || g, 'c' || g || '@customer.example', now(), now() FROM generate_series(1, %d) g`, cases),
		fmt.Sprintf(`INSERT INTO messages (case_id, direction, message_id, body_sha256, raw, source, received_at)
			SELECT 1000 + (g %% %d), 'inbound', 'm' || g || '@customer.example', sha256(CAST(CAST(g AS text) AS bytea)), '\x00', 'bench', now()
			FROM generate_series(1, %d) g`, cases, msgs),
		`INSERT INTO participants (case_id, address, role, added_at) SELECT id, customer, 'customer', now() FROM cases`,
		// Each case's acknowledgement: a reply to it threads for anyone.
		`INSERT INTO intents (case_id, kind, message_id, created_at, spec)
			SELECT id, 'acknowledgement', 'ack' || id || '@support.example.com', now(), '{}' FROM cases`,
		`ANALYZE`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("load: %w", err)
		}
	}
	load := time.Since(start)
	stmt, err := db.PreparexContext(ctx, lookup)
	if err != nil {
		return err
	}
	defer stmt.Close()
	rng := rand.New(rand.NewSource(1))
	var lat []time.Duration
	for i := 0; i < 5000; i++ {
		// A reply names its parent and, in References, two older ones.
		// Half of the replies answer our acknowledgement, half the
		// customer's own earlier mail.
		parent := 1 + rng.Intn(msgs)
		first := fmt.Sprintf("m%d@customer.example", parent)
		if i%2 == 0 {
			first = fmt.Sprintf("ack%d@support.example.com", 1000+parent%cases)
		}
		ids, _ := json.Marshal([]string{first,
			fmt.Sprintf("m%d@customer.example", 1+rng.Intn(msgs)),
			fmt.Sprintf("unknown%d@elsewhere.example", i),
		})
		t0 := time.Now()
		var caseID sql.NullInt64
		var how sql.NullString
		// The parent's customer replies: case 1000+k belongs to c<k+1>.
		from := fmt.Sprintf("c%d@customer.example", 1+parent%cases)
		if err := stmt.QueryRowxContext(ctx, string(ids), from).Scan(&caseID, &how); err != nil {
			return err
		}
		if !caseID.Valid {
			return fmt.Errorf("reply %d to %s was not placed", i, first)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var plan []string
	// The plan of the lookup's first query inside casegate_thread.
	rows, err := db.QueryContext(ctx, `EXPLAIN SELECT x.case_id FROM (
        SELECT i.case_id, r.n FROM jsonb_array_elements_text($1::jsonb) WITH ORDINALITY AS r(mid, n)
        JOIN intents i ON i.message_id = r.mid WHERE i.case_id IS NOT NULL
        UNION ALL
        SELECT m.case_id, r.n FROM jsonb_array_elements_text($1::jsonb) WITH ORDINALITY AS r(mid, n)
        JOIN messages m ON m.message_id = r.mid
        WHERE m.direction = 'outbound' OR EXISTS (SELECT 1 FROM participants p WHERE p.case_id = m.case_id AND p.address = $2)
    ) x ORDER BY x.n LIMIT 1`, `["a@x", "b@x"]`, "c@customer.example")
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
