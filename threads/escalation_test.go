package threads

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate/calendar"
	"casegate/internal/pgtest"
	"casegate/templates"
	"casegate/vocab"
)

func mustAction(t *testing.T, s string) Action {
	t.Helper()
	a, err := ParseAction(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func officeCalendar(t *testing.T) *calendar.Calendar {
	t.Helper()
	c, err := calendar.New("office", calendar.Spec{Timezone: "Europe/Berlin", Hours: map[string]string{
		"mon": "09:00-17:00", "tue": "09:00-17:00", "wed": "09:00-17:00", "thu": "09:00-17:00", "fri": "09:00-17:00"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPlan(t *testing.T) {
	office := officeCalendar(t)
	utc := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	rules := []Rule{
		{Name: "press", Category: vocab.CategoryJournalist, When: WhenOpened},
		{Name: "risk", Risk: vocab.RiskMedium, When: WhenOpened, After: time.Hour},
		{Name: "first", When: WhenNoStaffReply, After: 4 * time.Hour, Calendar: office},
		{Name: "resolve", When: WhenUnresolved, After: 24 * time.Hour, Calendar: office},
		{Name: "nagging", When: WhenCustomerMessages, Count: 3, After: 30 * time.Minute},
		{Name: "urgent", Priority: vocab.PriorityHigh, Status: vocab.StatusOpen, When: WhenNoStaffReply, After: time.Hour},
	}
	opened := utc("2026-11-27 18:30") // Friday 19:30 in Berlin
	for _, tc := range []struct {
		name string
		st   CaseState
		want []string // rule@due (UTC)
	}{
		{"new customer case", CaseState{Status: vocab.StatusNew, Priority: vocab.PriorityNormal, Category: vocab.CategoryCustomer, Risk: vocab.RiskNone, OpenedAt: opened, Unanswered: []time.Time{opened}},
			[]string{"first@2026-11-30 12:00", "resolve@2026-12-02 16:00"}},
		{"journalist at high risk", CaseState{Status: vocab.StatusNew, Priority: vocab.PriorityNormal, Category: vocab.CategoryJournalist, Risk: vocab.RiskHigh, OpenedAt: opened, Unanswered: []time.Time{opened}},
			[]string{"press@2026-11-27 18:30", "risk@2026-11-27 19:30", "first@2026-11-30 12:00", "resolve@2026-12-02 16:00"}},
		{"staff answered: no reply deadline gone", CaseState{Status: vocab.StatusOpen, Priority: vocab.PriorityNormal, Category: vocab.CategoryCustomer, Risk: vocab.RiskNone, OpenedAt: opened},
			[]string{"resolve@2026-12-02 16:00"}},
		{"pending on the customer: only resolution counts", CaseState{Status: vocab.StatusPending, Priority: vocab.PriorityNormal, Category: vocab.CategoryCustomer, OpenedAt: opened, Unanswered: []time.Time{opened}},
			[]string{"resolve@2026-12-02 16:00"}},
		{"resolved: nothing", CaseState{Status: vocab.StatusResolved, Priority: vocab.PriorityNormal, Category: vocab.CategoryJournalist, OpenedAt: opened, Unanswered: []time.Time{opened}}, nil},
		{"three unanswered mails, priority high and open", CaseState{Status: vocab.StatusOpen, Priority: vocab.PriorityHigh, Category: vocab.CategoryCustomer, OpenedAt: opened,
			Unanswered: []time.Time{opened, opened.Add(time.Hour), opened.Add(2 * time.Hour)}},
			[]string{"first@2026-11-30 12:00", "resolve@2026-12-02 16:00", "nagging@2026-11-27 21:00", "urgent@2026-11-27 19:30"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, d := range Plan(rules, tc.st) {
				got = append(got, d.Rule+"@"+d.Due.UTC().Format("2006-01-02 15:04"))
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("plan = %v\nwant   %v", got, tc.want)
			}
		})
	}
}

func TestRuleValidation(t *testing.T) {
	ok := Rule{Name: "x", When: WhenOpened, Actions: []Action{{Kind: ActionCCPR}}}
	for _, tc := range []struct {
		name  string
		edit  func(r *Rule)
		rules int
	}{
		{"no name", func(r *Rule) { r.Name = "" }, 1},
		{"bad when", func(r *Rule) { r.When = "someday" }, 1},
		{"count without customer_messages_at_least", func(r *Rule) { r.Count = 2 }, 1},
		{"customer_messages_at_least without count", func(r *Rule) { r.When = WhenCustomerMessages }, 1},
		{"bad category", func(r *Rule) { r.Category = "press" }, 1},
		{"bad risk", func(r *Rule) { r.Risk = "huge" }, 1},
		{"negative after", func(r *Rule) { r.After = -time.Second }, 1},
		{"no actions", func(r *Rule) { r.Actions = nil }, 1},
		{"duplicate names", func(r *Rule) {}, 2},
	} {
		r := ok
		tc.edit(&r)
		rules := []Rule{r}
		if tc.rules == 2 {
			rules = append(rules, r)
		}
		if err := checkRules(rules, "pr@example.com"); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if err := checkRules([]Rule{ok}, ""); err == nil {
		t.Error("cc_pr without a PR address accepted")
	}
	for _, s := range []string{"cc_pr:x", "notify:", "notify:not an address", "priority:extreme", "call_the_ceo"} {
		if _, err := ParseAction(s); err == nil {
			t.Errorf("action %q accepted", s)
		}
	}
}

// escalationStore is a Store with rules, on db (a new one when nil).
func escalationStore(t *testing.T, db *sqlx.DB, clock *testClock, rules []Rule) *Store {
	t.Helper()
	if db == nil {
		db = pgtest.DB(t)
	}
	tpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStore(Options{
		DB: db, Templates: tpl, Now: clock.Now, Rules: rules,
		Support: mail.Address{Name: "Example Support", Address: "support@support.example.com"},
		PR:      mail.Address{Name: "Press Office", Address: "pr@example.com"},
		Secret:  []byte("test-secret-0123456789"),
		// Staff hear of every case; alice may be given one.
		StaffAddresses: []string{"alice@example.com"},
		Logger:         slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// outboxTo renders what s decided so far and counts the deliveries to addr.
func outboxTo(t *testing.T, s *Store, addr string) int {
	t.Helper()
	compose(t, s)
	var n int
	if err := s.opts.DB.Get(&n, `SELECT count(*) FROM deliveries WHERE recipient = $1`, addr); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestActionsChainAndCopyPR(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	rules := []Rule{
		{Name: "nagging", When: WhenCustomerMessages, Count: 2, Actions: []Action{
			mustAction(t, "priority:high"), mustAction(t, "holding_reply"), mustAction(t, "notify:Boss@Example.com")}},
		// Fires only once the first rule raised the priority.
		{Name: "hot", Priority: vocab.PriorityHigh, When: WhenOpened, Actions: []Action{mustAction(t, "cc_pr")}},
	}
	s := escalationStore(t, nil, clock, rules)
	db := s.opts.DB
	ctx := context.Background()
	f := mustFile(t, s, inbound("n1@x", "ada@customer.example", "Help", "one"))
	if n := countRows(t, db, `SELECT count(*) FROM escalations`); n != 0 {
		t.Fatalf("escalated after one mail")
	}
	clock.Advance(time.Minute)
	mustFile(t, s, inbound("n2@x", "ada@customer.example", fmt.Sprintf("Re: Help [#%d]", f.Case), "two"))
	c, _ := s.GetCase(ctx, f.Case)
	if c.Priority != vocab.PriorityHigh {
		t.Errorf("priority = %s, want high", c.Priority)
	}
	if n := countRows(t, db, `SELECT count(*) FROM escalations`); n != 2 {
		t.Errorf("escalations = %d, want nagging and then hot", n)
	}
	// The holding reply went to the customer before PR joined; the digest
	// to the boss and to PR each once.
	if outboxTo(t, s, "boss@example.com") != 1 || outboxTo(t, s, "pr@example.com") != 1 {
		t.Errorf("boss got %d, PR got %d mails; want 1 each", outboxTo(t, s, "boss@example.com"), outboxTo(t, s, "pr@example.com"))
	}
	var holding []byte
	if err := db.Get(&holding, `SELECT o.raw FROM outbox o JOIN intents i ON i.outbox_id = o.id
		WHERE i.kind = 'holding-reply'`); err != nil {
		t.Fatalf("no holding reply: %v", err)
	}
	// A rule due at once answers her mail (RFC 3834 §5: auto-replied); a
	// deadline that passed would be auto-generated.
	if !strings.Contains(string(holding), "Auto-Submitted: auto-replied") || !strings.Contains(string(holding), "To: <ada@customer.example>") {
		t.Errorf("holding reply:\n%s", holding)
	}
	// Staff act: the next customer mail starts a new cycle; at two mails
	// the nagging rule fires again and its holding reply copies PR.
	clock.Advance(time.Minute)
	if err := s.Assign(ctx, f.Case, "alice@example.com", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	mustFile(t, s, inbound("n3@x", "ada@customer.example", fmt.Sprintf("Re: Help [#%d]", f.Case), "three"))
	clock.Advance(time.Minute)
	mustFile(t, s, inbound("n4@x", "ada@customer.example", fmt.Sprintf("Re: Help [#%d]", f.Case), "four"))
	if n := countRows(t, db, `SELECT count(*) FROM escalations WHERE rule = 'nagging'`); n != 2 {
		t.Errorf("nagging fired %d times, want 2 (one per cycle)", n)
	}
	if n := outboxTo(t, s, "pr@example.com"); n != 2 {
		t.Errorf("PR got %d mails, want 2 (digest, then a copy of the second holding reply)", n)
	}
}

func TestRiskRaisedByLaterMail(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	s := escalationStore(t, nil, clock, []Rule{{Name: "public-risk", Risk: vocab.RiskHigh, When: WhenOpened, Actions: []Action{{Kind: ActionCCPR}}}})
	f := mustFile(t, s, inbound("r1@x", "ada@customer.example", "Help", "one"))
	in := inbound("r2@x", "ada@customer.example", fmt.Sprintf("Re: Help [#%d]", f.Case), "my lawyer")
	in.Risk, in.Evidence = vocab.RiskHigh, []string{`risk_words: "lawyer" (3)`}
	clock.Advance(time.Hour)
	mustFile(t, s, in)
	db := s.opts.DB
	if n := countRows(t, db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'risk' AND detail LIKE 'none → high%lawyer%'`, f.Case); n != 1 {
		t.Errorf("no risk event")
	}
	if outboxTo(t, s, "pr@example.com") != 1 {
		t.Errorf("PR got no digest when the risk rose")
	}
	// A later calmer mail lowers nothing and fires nothing again.
	clock.Advance(time.Hour)
	mustFile(t, s, inbound("r3@x", "ada@customer.example", fmt.Sprintf("Re: Help [#%d]", f.Case), "thanks"))
	if c := countRows(t, db, `SELECT count(*) FROM cases WHERE risk = 'high'`); c != 1 {
		t.Errorf("risk lowered by a calmer mail")
	}
	if n := outboxTo(t, s, "pr@example.com"); n != 1 {
		t.Errorf("PR got %d mails, want the one digest", n)
	}
}

func TestHoldingReplyNeverAnswersRobots(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	s := escalationStore(t, nil, clock, []Rule{{Name: "late", When: WhenUnresolved, After: time.Hour, Actions: []Action{{Kind: ActionHoldingReply}}}})
	in := inbound("bounce@x", "mailer-daemon@customer.example", "Undeliverable", "bounce")
	in.Automatic, in.Why = true, "bounce"
	f := mustFile(t, s, in)
	clock.Advance(2 * time.Hour)
	if _, err := NewSweeper(s, SweeperOptions{}).SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	db := s.opts.DB
	if n := outboxTo(t, s, "mailer-daemon@customer.example"); n != 0 {
		t.Errorf("mails to the robot = %d, want 0: a robot got a holding reply", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'escalation-skipped'`, f.Case); n != 1 {
		t.Errorf("no escalation-skipped event")
	}
}

// Many instances sweeping many due cases at once: every rule fires exactly
// once per case, and nobody deadlocks.
func TestConcurrentSweepersFireEachOnce(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	rules := []Rule{
		{Name: "first", When: WhenNoStaffReply, After: time.Hour, Actions: []Action{{Kind: ActionCCPR}}},
		{Name: "resolve", When: WhenUnresolved, After: time.Hour, Actions: []Action{mustAction(t, "priority:high")}},
	}
	a := escalationStore(t, nil, clock, rules)
	b := escalationStore(t, a.opts.DB, clock, rules)
	const cases = 120
	for i := 0; i < cases; i++ {
		mustFile(t, a, inbound(fmt.Sprintf("c%d@x", i), fmt.Sprintf("c%d@customer.example", i), "Help", fmt.Sprintf("body %d", i)))
	}
	clock.Advance(2 * time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 4; i++ {
		for _, s := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if s == b { // as Run sweeps: SweepDue with two workers
					if _, err := NewSweeper(s, SweeperOptions{BatchSize: 7, Workers: 2}).SweepDue(context.Background()); err != nil {
						errs <- err
					}
					return
				}
				w := NewSweeper(s, SweeperOptions{BatchSize: 7})
				for {
					n, err := w.SweepOnce(context.Background())
					if err != nil {
						errs <- err
						return
					}
					if n == 0 {
						return
					}
				}
			}()
		}
		// Customers keep writing meanwhile: filings and sweeps contend.
		mustFile(t, a, inbound(fmt.Sprintf("more%d@x", i), fmt.Sprintf("c%d@customer.example", i), fmt.Sprintf("Re: Help [#%d]", 1000+i), "more"))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Stragglers a skipped case left behind go on the next sweep.
	if _, err := NewSweeper(a, SweeperOptions{BatchSize: 1000}).SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	db := a.opts.DB
	if n := countRows(t, db, `SELECT count(*) FROM escalations WHERE rule = 'first'`); n != cases {
		t.Errorf("first fired %d times, want %d", n, cases)
	}
	if n := countRows(t, db, `SELECT count(*) FROM escalations WHERE rule = 'resolve'`); n != cases {
		t.Errorf("resolve fired %d times, want %d", n, cases)
	}
	if n := outboxTo(t, a, "pr@example.com"); n != cases {
		t.Errorf("PR digests = %d, want %d", n, cases)
	}
	if n := countRows(t, db, `SELECT count(*) FROM timers WHERE due_at <= $1`, clock.Now()); n != 0 {
		t.Errorf("%d due timers left", n)
	}
}

// The sweep reads due timers through the timers_due index: its cost
// follows the due rows, not the open cases.
func TestSweepUsesDueIndex(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	s := escalationStore(t, nil, clock, nil)
	db := s.opts.DB
	db.MustExec(`INSERT INTO cases (subject, customer, opened_at, updated_at)
		SELECT 'case ' || g, 'c' || g || '@customer.example', $1, $1 FROM generate_series(1, 50000) g`, clock.Now())
	db.MustExec(`INSERT INTO timers (case_id, rule, since, due_at)
		SELECT id, 'first', opened_at, opened_at + CASE WHEN id % 1000 = 0 THEN interval '-1 hour' ELSE interval '4 hours' END FROM cases`)
	db.MustExec(`ANALYZE timers`)
	rows, err := db.Queryx(`EXPLAIN `+s.q.ClaimDueTimers.SQL, clock.Now(), 50)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		rows.Scan(&line)
		plan = append(plan, line)
	}
	rows.Close()
	if text := strings.Join(plan, "\n"); !strings.Contains(text, "Index Scan using timers_due") {
		t.Errorf("claim-due-timers does not use timers_due:\n%s", text)
	}
}

// compose renders every pending intent of s into the outbox, as the
// service's composer does right after each commit.
func compose(t *testing.T, s *Store) {
	t.Helper()
	for {
		n, err := s.ComposeOnce(context.Background(), 500)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func countRows(t *testing.T, db *sqlx.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Get(&n, query, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// testLog sends a Store's log lines to the test's log.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Timers of rules removed from the configuration are dropped on the next
// sweep, not claimed forever.
func TestTimersOfRemovedRulesAreDropped(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	old := escalationStore(t, nil, clock, []Rule{
		{Name: "gone", When: WhenUnresolved, After: time.Hour, Actions: []Action{{Kind: ActionCCPR}}},
		{Name: "kept", When: WhenUnresolved, After: 3 * time.Hour, Actions: []Action{{Kind: ActionCCPR}}},
	})
	mustFile(t, old, inbound("a@x", "ada@customer.example", "Help", "one"))
	db := old.opts.DB
	clock.Advance(2 * time.Hour)
	for _, rules := range [][]Rule{{{Name: "kept", When: WhenUnresolved, After: 3 * time.Hour, Actions: []Action{{Kind: ActionCCPR}}}}, nil} {
		s := escalationStore(t, db, clock, rules)
		n, err := NewSweeper(s, SweeperOptions{}).SweepOnce(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("sweep: %d, %v", n, err)
		}
		if n, err := NewSweeper(s, SweeperOptions{}).SweepOnce(context.Background()); err != nil || n != 0 {
			t.Errorf("second sweep evaluated %d cases (%v), want 0", n, err)
		}
		clock.Advance(2 * time.Hour) // "kept" is due now, but is removed next
	}
	if n := countRows(t, db, `SELECT count(*) FROM escalations`); n != 0 {
		t.Errorf("a removed rule fired")
	}
	if n := countRows(t, db, `SELECT count(*) FROM timers`); n != 0 {
		t.Errorf("%d timers left without rules", n)
	}
}

// A case whose firing fails does not hold up the others: it is rolled back
// to its savepoint, its timers move RetryDelay on, and it fires once the
// trouble is gone.
func TestFailingCaseIsPostponedNotBlocking(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	s := escalationStore(t, nil, clock, []Rule{{Name: "late", When: WhenUnresolved, After: time.Hour, Actions: []Action{{Kind: ActionCCPR}}}})
	db := s.opts.DB
	bad := mustFile(t, s, inbound("bad@x", "bad@customer.example", "Help", "one"))
	good := mustFile(t, s, inbound("good@x", "good@customer.example", "Help", "two"))
	// A real failure inside PostgreSQL, for one case only.
	db.MustExec(fmt.Sprintf(`CREATE FUNCTION fail_case() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.case_id = %d THEN RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$`, bad.Case))
	db.MustExec(`CREATE TRIGGER fail_case BEFORE INSERT ON escalations FOR EACH ROW EXECUTE FUNCTION fail_case()`)
	clock.Advance(2 * time.Hour)
	w := NewSweeper(s, SweeperOptions{RetryDelay: 10 * time.Minute})
	if _, err := w.SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM escalations WHERE case_id = $1`, good.Case); n != 1 {
		t.Errorf("the good case did not fire")
	}
	var due time.Time
	db.Get(&due, `SELECT due_at FROM timers WHERE case_id = $1`, bad.Case)
	if want := clock.Now().Add(10 * time.Minute); !due.Equal(want) {
		t.Errorf("failed case due %s, want %s", due, want)
	}
	db.MustExec(`DROP TRIGGER fail_case ON escalations`)
	clock.Advance(10 * time.Minute)
	if _, err := w.SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM escalations`); n != 2 {
		t.Errorf("escalations = %d after the retry, want 2", n)
	}
	if n := outboxTo(t, s, "pr@example.com"); n != 2 {
		t.Errorf("digests = %d, want 2 (one each, none from the failed attempt)", n)
	}
}
