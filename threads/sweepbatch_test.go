package threads

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// The set-based sweep must leave exactly what the per-case path leaves:
// the same firings, events (in order), digests and holding replies (to the
// byte, Message-IDs aside), participants, priorities and timers. The cases
// cover chained rules (a priority raise makes another rule fire in the same
// evaluation), several rules due at once, a second digest to a PR already
// on the case, a robot's case, staff having answered, a rule whose cycle
// fired in an earlier sweep, and a resolved case whose follow-up takes the
// per-case path inside a batch.
func TestBatchSweepMatchesCaseByCase(t *testing.T) {
	batch := runSweepScenario(t, false)
	reference := runSweepScenario(t, true)
	if len(batch) != len(reference) {
		t.Errorf("batch left %d rows, case by case %d", len(batch), len(reference))
	}
	for i := 0; i < max(len(batch), len(reference)); i++ {
		var b, r string
		if i < len(batch) {
			b = batch[i]
		}
		if i < len(reference) {
			r = reference[i]
		}
		if b != r {
			t.Errorf("row %d differs:\nbatch:        %s\ncase by case: %s", i, b, r)
		}
	}
	for _, want := range []string{"escalations|", "rule \"hot\"", "holding-reply", "escalation-skipped", "followup", "To: <boss@example.com>"} {
		if !strings.Contains(strings.Join(batch, "\n"), want) {
			t.Errorf("the scenario left no %q: it no longer covers what it should", want)
		}
	}
}

// runSweepScenario files the cases, sweeps twice (batches of 3) and dumps
// what the sweeps left.
func runSweepScenario(t *testing.T, caseByCase bool) []string {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	clock := &testClock{now: t0}
	rules := []Rule{
		{Name: "first", When: WhenNoStaffReply, After: time.Hour, Actions: []Action{mustAction(t, "cc_pr")}},
		{Name: "nag", When: WhenCustomerMessages, Count: 2, After: 30 * time.Minute, Actions: []Action{
			mustAction(t, "priority:high"), mustAction(t, "holding_reply"), mustAction(t, "notify:boss@example.com")}},
		{Name: "hot", Priority: PriorityHigh, When: WhenOpened, Actions: []Action{mustAction(t, "cc_pr"), mustAction(t, "notify:boss@example.com")}},
		{Name: "resolve", When: WhenUnresolved, After: 3 * time.Hour, Actions: []Action{mustAction(t, "priority:urgent"), mustAction(t, "holding_reply")}},
	}
	s := escalationStore(t, nil, clock, rules)
	s.opts.Followup = FollowupOptions{Delay: 90 * time.Minute}
	ctx := context.Background()
	a := mustFile(t, s, inbound("a1@x", "ada@customer.example", "Printer on fire", "one"))
	b := mustFile(t, s, inbound("b1@x", "bob@customer.example", "Refund", "one"))
	robot := inbound("c1@x", "mailer-daemon@customer.example", "Undeliverable", "bounce")
	robot.Automatic, robot.Why = true, "bounce"
	mustFile(t, s, robot)
	d := mustFile(t, s, inbound("d1@x", "dora@customer.example", "Thanks", "one"))
	e := mustFile(t, s, inbound("e1@x", "eve@customer.example", "Question", "one"))
	clock.Advance(10 * time.Minute)
	mustFile(t, s, inbound("b2@x", "bob@customer.example", fmt.Sprintf("Re: Refund [#%d]", b.Case), "two"))
	clock.Advance(10 * time.Minute)
	if err := s.StaffResponded(ctx, e.Case); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Minute)
	if err := s.ChangeStatus(ctx, d.Case, StatusResolved, "alice@example.com", ""); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder // the batch must not have fallen back to the per-case path
	w := NewSweeper(s, SweeperOptions{BatchSize: 3, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	w.caseByCase = caseByCase
	defer func() {
		if strings.Contains(log.String(), "batch failed") {
			t.Errorf("a batch fell back to the per-case path:\n%s", log.String())
		}
	}()
	sweepAll := func() {
		t.Helper()
		for {
			n, err := w.SweepOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
		}
	}
	clock.Advance(90 * time.Minute) // t0+2h: first (a, b), nag and hot (b), the follow-up of d
	sweepAll()
	clock.Advance(time.Minute)
	mustFile(t, s, inbound("a2@x", "ada@customer.example", fmt.Sprintf("Re: Printer on fire [#%d]", a.Case), "two"))
	clock.Advance(2 * time.Hour) // t0+4h: nag and hot (a), resolve (all open cases)
	sweepAll()
	return dumpSweep(t, s.opts.DB)
}

var (
	ourMessageID = regexp.MustCompile(`casegate\.[0-9a-f]+@support\.example\.com`)
	mimeBoundary = regexp.MustCompile(`\b[0-9a-f]{60}\b`) // go-message's random multipart boundaries
)

// dumpSweep lists the rows a sweep writes, one string each, with our
// Message-IDs replaced by their place among the case's messages.
func dumpSweep(t *testing.T, db *sqlx.DB) []string {
	t.Helper()
	var out []string
	query := func(table, q string) {
		rows, err := db.Queryx(q)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		defer rows.Close()
		for rows.Next() {
			cols, err := rows.SliceScan()
			if err != nil {
				t.Fatal(err)
			}
			line := table
			for _, c := range cols {
				switch v := c.(type) {
				case []byte:
					line += "|" + string(v)
				case time.Time:
					line += "|" + v.UTC().Format(time.RFC3339Nano)
				default:
					line += fmt.Sprintf("|%v", v)
				}
			}
			out = append(out, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	var ids []struct {
		Case int64  `db:"case_id"`
		ID   string `db:"message_id"`
	}
	if err := db.Select(&ids, `SELECT case_id, message_id FROM messages WHERE direction = 'outbound' ORDER BY case_id, id`); err != nil {
		t.Fatal(err)
	}
	label := make(map[string]string)
	for i, m := range ids {
		label[m.ID] = fmt.Sprintf("<case %d mail %d>", m.Case, i)
	}
	query("cases", `SELECT id, status, priority, updated_at FROM cases ORDER BY id`)
	query("escalations", `SELECT case_id, rule, since, due_at, fired_at, actions FROM escalations ORDER BY case_id, rule, since`)
	query("followups", `SELECT case_id, step, since, fired_at, outcome FROM followups ORDER BY case_id, step`)
	query("timers", `SELECT case_id, rule, since, due_at FROM timers ORDER BY case_id, rule`)
	query("participants", `SELECT case_id, address, name, role, added_at FROM participants ORDER BY case_id, added_at, address`)
	query("events", `SELECT case_id, at, kind, actor, detail, message_id IS NOT NULL FROM events ORDER BY case_id, id`)
	query("messages", `SELECT case_id, direction, message_id, from_address, subject, text_body, in_reply_to, automatic, received_at
		FROM messages ORDER BY case_id, id`)
	query("outbox", `SELECT m.case_id, o.automatic, o.created_at, o.raw,
		(SELECT string_agg(recipient, ',' ORDER BY recipient) FROM deliveries d WHERE d.outbox_id = o.id)
		FROM outbox o JOIN messages m ON m.outbox_id = o.id ORDER BY m.case_id, m.id`)
	for i, line := range out {
		line = mimeBoundary.ReplaceAllString(line, "<boundary>")
		out[i] = ourMessageID.ReplaceAllStringFunc(line, func(id string) string {
			if l, ok := label[id]; ok {
				return l
			}
			return "<unknown>"
		})
	}
	return out
}

// A sweep that dies in the middle of a batch (its connection killed after
// the firings are recorded, before the mail is queued) leaves nothing: the
// next sweep fires every rule once, with one digest each.
func TestSweepKilledMidBatchLosesAndDoublesNothing(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	s := escalationStore(t, nil, clock, []Rule{{Name: "first", When: WhenNoStaffReply, After: time.Hour, Actions: []Action{{Kind: ActionCCPR}}}})
	db := s.opts.DB
	const cases = 20
	for i := 0; i < cases; i++ {
		mustFile(t, s, inbound(fmt.Sprintf("k%d@x", i), fmt.Sprintf("k%d@customer.example", i), "Help", fmt.Sprintf("body %d", i)))
	}
	clock.Advance(2 * time.Hour)
	// The batch stalls when it queues its digests: after it recorded the
	// escalations and events.
	db.MustExec(`CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(600); RETURN NULL; END $$`)
	db.MustExec(`CREATE TRIGGER stall BEFORE INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION stall()`)
	w := NewSweeper(s, SweeperOptions{BatchSize: 100})
	done := make(chan error, 1)
	go func() {
		_, err := w.SweepOnce(context.Background())
		done <- err
	}()
	var pid int
	for deadline := time.Now().Add(60 * time.Second); pid == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the sweep never reached the outbox")
		}
		db.Get(&pid, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'`)
	}
	if n := countRows(t, db, `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.pid = $1 AND l.relation = 'escalations'::regclass`, pid); n == 0 {
		t.Fatal("the stalled sweep has not written escalations yet: the test kills it too early to mean anything")
	}
	db.MustExec(`SELECT pg_terminate_backend($1)`, pid)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the killed sweep reported success")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the killed sweep did not return")
	}
	for what, q := range map[string]string{
		"escalations": `SELECT count(*) FROM escalations`,
		"outbox":      `SELECT count(*) FROM outbox WHERE message_id LIKE 'casegate.%' AND raw::text LIKE '%Escalated%'`,
		"events":      `SELECT count(*) FROM events WHERE kind IN ('escalated', 'digest')`,
	} {
		if n := countRows(t, db, q); n != 0 {
			t.Errorf("the killed sweep left %d %s", n, what)
		}
	}
	if n := countRows(t, db, `SELECT count(*) FROM timers WHERE due_at <= $1`, clock.Now()); n != cases {
		t.Errorf("%d due timers after the killed sweep, want %d", n, cases)
	}
	db.MustExec(`DROP TRIGGER stall ON outbox`)
	for {
		n, err := w.SweepOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if n := countRows(t, db, `SELECT count(*) FROM escalations`); n != cases {
		t.Errorf("escalations = %d, want %d", n, cases)
	}
	if n := outboxTo(t, db, "pr@example.com"); n != cases {
		t.Errorf("digests = %d, want %d", n, cases)
	}
	if n := countRows(t, db, `SELECT count(*) FROM events WHERE kind = 'digest'`); n != cases {
		t.Errorf("digest events = %d, want %d", n, cases)
	}
}
