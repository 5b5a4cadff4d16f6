package threads

import (
	"casegate/vocab"
	"context"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// TestSweepScale measures a sweep over open cases of which 1 % have a due
// deadline, and an empty sweep. make test runs it at 20,000 cases; make
// bench at 1,000,000, which takes minutes (CASEGATE_SWEEP_SCALE=1, or =N
// open cases):
//
//	CASEGATE_SWEEP_SCALE=1 go test ./threads -run TestSweepScale -v -timeout 30m
//
// CASEGATE_SWEEP_BATCH and CASEGATE_SWEEP_WORKERS override the sweeper's
// defaults, to compare settings.
func TestSweepScale(t *testing.T) {
	open := 20_000
	switch env := os.Getenv("CASEGATE_SWEEP_SCALE"); {
	case env == "":
	case env == "1":
		open = 1_000_000
	default:
		if n, err := strconv.Atoi(env); err == nil && n > 100 {
			open = n
		}
	}
	due := open / 100
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	clock := &testClock{now: now}
	rules := []Rule{
		{Name: "first-response", When: WhenNoStaffReply, After: 4 * time.Hour, Actions: []Action{{Kind: ActionCCPR}}},
		{Name: "resolution", When: WhenUnresolved, After: 24 * time.Hour, Actions: []Action{{Kind: ActionCCPR}, {Kind: ActionPriority, Priority: vocab.PriorityHigh}}},
	}
	s := escalationStore(t, nil, clock, rules)
	db := s.opts.DB

	start := time.Now()
	// Every 100th case opened 5 hours ago (its first-response deadline has
	// passed); the rest an hour ago. Each has its customer, its first mail,
	// its events and both timers, as filing would have left them.
	bulk := []string{
		`INSERT INTO cases (subject, customer, opened_at, updated_at, state)
		 SELECT 'Case ' || g, 'c' || g || '@customer.example', t, t,
		        jsonb_build_object('unanswered', jsonb_build_array(t), 'customer_wrote', true)
		 FROM generate_series(1, $1) g, LATERAL (SELECT CAST($2 AS timestamptz) - CASE WHEN g % 100 = 0 THEN interval '5 hours' ELSE interval '1 hour' END AS t) o`,
		`INSERT INTO participants (case_id, address, name, role, added_at)
		 SELECT id, customer, 'Customer', 'customer', opened_at FROM cases`,
		`INSERT INTO messages (case_id, direction, message_id, body_sha256, raw, source, from_address, subject, text_body, received_at)
		 SELECT id, 'inbound', 'm' || id || '@customer.example', sha256(id::text::bytea), convert_to('Subject: ' || subject, 'UTF8'),
		        'smtp', customer, subject, 'My printer is on fire, case ' || id, opened_at FROM cases`,
		`INSERT INTO events (case_id, at, kind, actor, detail)
		 SELECT id, opened_at, 'opened', customer, 'new case from smtp' FROM cases`,
		`INSERT INTO timers (case_id, rule, since, due_at)
		 SELECT id, 'first-response', opened_at, opened_at + interval '4 hours' FROM cases
		 UNION ALL
		 SELECT id, 'resolution', opened_at, opened_at + interval '24 hours' FROM cases`,
		`ANALYZE`,
	}
	for i, q := range bulk {
		var err error
		if i == 0 {
			_, err = db.ExecContext(ctx, q, open, now)
		} else {
			_, err = db.ExecContext(ctx, q)
		}
		if err != nil {
			t.Fatalf("bulk load: %v\n%s", err, q)
		}
	}
	t.Logf("loaded %d open cases, %d timers, %d due, in %s", open, 2*open, due, time.Since(start).Round(time.Millisecond))

	// An empty sweep: nothing due yet (two hours earlier).
	clock.Advance(-2 * time.Hour)
	w := NewSweeper(s, SweeperOptions{})
	var empty []time.Duration
	for i := 0; i < 20; i++ {
		t0 := time.Now()
		n, err := w.SweepOnce(ctx)
		if err != nil || n != 0 {
			t.Fatalf("empty sweep: %d, %v", n, err)
		}
		empty = append(empty, time.Since(t0))
	}
	sort.Slice(empty, func(i, j int) bool { return empty[i] < empty[j] })
	t.Logf("empty sweep (no due timers among %d): median %s, max %s", 2*open, empty[len(empty)/2], empty[len(empty)-1])

	// The full sweep: every due deadline fires, as the sweeper's Run
	// fires them.
	clock.Advance(2 * time.Hour)
	opts := SweeperOptions{}
	opts.BatchSize, _ = strconv.Atoi(os.Getenv("CASEGATE_SWEEP_BATCH"))
	opts.Workers, _ = strconv.Atoi(os.Getenv("CASEGATE_SWEEP_WORKERS"))
	w = NewSweeper(s, opts)
	t0 := time.Now()
	evaluated, err := w.SweepDue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	if n, err := w.SweepOnce(ctx); err != nil || n != 0 {
		t.Errorf("after the sweep: %d cases still due (%v)", n, err)
	}
	fired := countRows(t, db, `SELECT count(*) FROM escalations`)
	digests := outboxTo(t, s, "pr@example.com")
	t.Logf("sweep of %d due among %d open cases: %s (batches of %d, %d workers, %.0f escalations/s, %s per escalation); %d cases evaluated, %d escalations, %d digests",
		due, open, took.Round(time.Millisecond), w.opts.BatchSize, w.opts.Workers, float64(fired)/took.Seconds(),
		(took / time.Duration(max(fired, 1))).Round(time.Microsecond), evaluated, fired, digests)
	if fired != due || digests != due {
		t.Errorf("fired %d, digests %d; want %d each", fired, digests, due)
	}
	explain(t, db, s.q.ClaimDueTimers.SQL, clock.Now(), 50)
	if os.Getenv("CASEGATE_SWEEP_EXPLAIN") != "" {
		t.Log("case-state")
		explain(t, db, s.q.CaseState.SQL, 1099)
	}
}

func explain(t *testing.T, db *sqlx.DB, q string, args ...any) {
	rows, err := db.Queryx(`EXPLAIN (ANALYZE, BUFFERS) `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		rows.Scan(&line)
		t.Log(line)
	}
}
