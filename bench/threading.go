package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

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
	// What a filing runs to place a reply: threads/queries.sql's snapshot
	// statement (casegate_snapshot, which calls casegate_thread), prepared
	// as the gateway prepares it, for one message. PostgreSQL may switch a
	// prepared statement, and the statements inside a PL/pgSQL function,
	// to a generic plan; the lookup must stay an index lookup from the few
	// ids a reply names.
	src, err := os.ReadFile(filepath.Join("threads", "queries.sql"))
	if err != nil {
		return fmt.Errorf("the snapshot statement (run the bench from the repository's root): %w", err)
	}
	queries, err := sqlfile.Parse(string(src))
	if err != nil {
		return err
	}
	lookup, ok := queries["snapshot"]
	if !ok {
		return fmt.Errorf("threads/queries.sql has no snapshot query")
	}
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
	// casegate_thread alone, prepared as well: how much of the snapshot's
	// time is the threading lookup.
	threadOnly, err := db.PreparexContext(ctx, `SELECT thread FROM casegate_thread(CAST($1 AS jsonb), '[]', '[]', $2, false)`)
	if err != nil {
		return err
	}
	defer threadOnly.Close()
	rng := rand.New(rand.NewSource(1))
	// A reply names its parent and, in References, two older ones. Half
	// of the replies answer our acknowledgement, half the customer's own
	// earlier mail. The parent's customer replies: case 1000+k belongs to
	// c<k+1>.
	reply := func(i int) (refs []string, from string) {
		parent := 1 + rng.Intn(msgs)
		first := fmt.Sprintf("m%d@customer.example", parent)
		if i%2 == 0 {
			first = fmt.Sprintf("ack%d@support.example.com", 1000+parent%cases)
		}
		return []string{first, fmt.Sprintf("m%d@customer.example", 1+rng.Intn(msgs)), fmt.Sprintf("unknown%d@elsewhere.example", i)},
			fmt.Sprintf("c%d@customer.example", 1+parent%cases)
	}
	perPass := 5000
	if e.quick {
		perPass = 500
	}
	var p50s, p99s, threadP99s []float64
	for pass := 0; pass < e.runs; pass++ {
		var lat, threadLat []time.Duration
		for i := 0; i < perPass; i++ {
			refs, from := reply(i)
			// The request as threads.Store.request builds it (snapshot.go).
			req, _ := json.Marshal([]map[string]any{{
				"message_id": fmt.Sprintf("reply%d-%d@customer.example", pass, i), "hash": fmt.Sprintf("%064x", i),
				"from": from, "staff": false, "token_case": 0, "refs": refs,
				"tags": []int64{}, "mentions": []int64{}, "extra": nil,
				"addresses": []string{from, "alice@example.com"},
				"delivery":  0, "dsn_message": "", "dsn_rcpts": nil, "bounce_check": false,
			}})
			t0 := time.Now()
			var out []byte
			if err := stmt.QueryRowxContext(ctx, string(req), time.Now(), 5).Scan(&out); err != nil {
				return err
			}
			lat = append(lat, time.Since(t0))
			var snap struct {
				Messages []struct {
					Thread *struct {
						ID int64 `json:"id"`
					} `json:"thread"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(out, &snap); err != nil {
				return err
			}
			if len(snap.Messages) != 1 || snap.Messages[0].Thread == nil {
				return fmt.Errorf("reply %d to %s was not placed: %s", i, refs[0], out)
			}
			refs, from = reply(i)
			ids, _ := json.Marshal(refs)
			t0 = time.Now()
			var thread sql.NullInt64
			if err := threadOnly.QueryRowxContext(ctx, string(ids), from).Scan(&thread); err != nil {
				return err
			}
			threadLat = append(threadLat, time.Since(t0))
			if !thread.Valid {
				return fmt.Errorf("reply %d to %s was not threaded", i, refs[0])
			}
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		sort.Slice(threadLat, func(i, j int) bool { return threadLat[i] < threadLat[j] })
		p50s = append(p50s, ms(lat[len(lat)/2]))
		p99s = append(p99s, ms(lat[len(lat)*99/100]))
		threadP99s = append(threadP99s, ms(threadLat[len(threadLat)*99/100]))
	}
	plan, err := genericThreadPlan(ctx, db)
	if err != nil {
		return err
	}
	r.add(section{
		Title: fmt.Sprintf("6. Threading lookup at %d cases / %d messages", cases, msgs),
		Figures: []figure{
			newFigure("p50 to place a reply (the snapshot statement, prepared)", "ms", p50s),
			withBeside(newFigure("p99 to place a reply (the snapshot statement, prepared)", "ms", p99s).withTarget("<=", 2),
				fmt.Sprintf("casegate_thread alone: p99 %s ms", num(newFigure("", "", threadP99s).Median))),
			newFigure("p99 of the threading lookup alone (casegate_thread, prepared)", "ms", threadP99s),
			newFigure("time to load the data set", "s", []float64{load.Seconds()}),
		},
		Notes: []string{
			"No ceiling: the target is absolute. Each reply runs threads/queries.sql's snapshot statement, prepared once and executed 5,000 times a pass on one connection (as the gateway's pool does; a figure per pass), for one message naming its parent (half of them our acknowledgement, half the customer's own mail) and two older ids: the duplicate check, the threading lookup, the case's state and the sender's counters.",
			"Generic plan of the threading lookup inside casegate_thread (In-Reply-To/References → case), the plan a prepared execution may settle on:\n\n" + strings.Join(plan, "\n")},
	})
	return nil
}

// genericThreadPlan explains the first query of casegate_thread (read
// from the database, its parameters made placeholders) with the plan
// PostgreSQL reuses once it settles on a generic plan.
func genericThreadPlan(ctx context.Context, db *sqlx.DB) ([]string, error) {
	var src string
	if err := db.GetContext(ctx, &src, `SELECT prosrc FROM pg_proc WHERE proname = 'casegate_thread'`); err != nil {
		return nil, err
	}
	m := firstThreadQuery.FindStringSubmatch(src)
	if m == nil {
		return []string{"    (casegate_thread's first query was not found: its shape changed)"}, nil
	}
	q := strings.Replace(m[1], " INTO thread", "", 1)
	for i, param := range []string{"ref_ids", "sender", "staff"} {
		q = regexp.MustCompile(`\b`+param+`\b`).ReplaceAllLiteralString(q, fmt.Sprintf("$%d", i+1))
	}
	conn, err := db.Connx(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	for _, q := range []string{
		`PREPARE thread_lookup(text[], text, boolean) AS ` + q,
		`SET plan_cache_mode = force_generic_plan`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("%w: %s", err, q)
		}
	}
	rows, err := conn.QueryContext(ctx, `EXPLAIN EXECUTE thread_lookup('{a@x,b@x}', 'c@customer.example', false)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		plan = append(plan, "    "+line)
	}
	return plan, rows.Err()
}

var firstThreadQuery = regexp.MustCompile(`(?s)(SELECT x\.case_id INTO thread FROM .*?);`)
