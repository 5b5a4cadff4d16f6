package reportmail

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate/internal/gatewaytest"
	"casegate/internal/pgtest"
	"casegate/views"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func berlin(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func newMailer(t *testing.T, db *sqlx.DB, c *gatewaytest.Clock) *Mailer {
	t.Helper()
	r, err := views.New(db, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{
		DB: db, Views: r, Now: c.Now, Location: berlin(t), Weekday: time.Monday, Clock: "08:00",
		From:   mail.Address{Name: "Example Support", Address: "support@support.example.com"},
		To:     []mail.Address{{Address: "pr@example.com"}, {Name: "Lead", Address: "lead@example.com"}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func outboxCount(t *testing.T, db *sqlx.DB) int {
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM outbox`); err != nil {
		t.Fatal(err)
	}
	return n
}

// The weekly report goes once per week at its time, whatever number of
// instances look; a missed one goes when an instance looks again within a
// day; it is
// automatic mail to PR and the leads with the figures as text and the
// charts as HTML.
func TestWeeklyReportGoesOncePerWeek(t *testing.T) {
	db := pgtest.DB(t)
	ctx := context.Background()
	loc := berlin(t)
	c := gatewaytest.NewClock(time.Date(2026, 11, 30, 9, 0, 0, 0, loc)) // a Monday
	db.MustExec(`INSERT INTO cases (subject, customer, opened_at, updated_at) VALUES ('Printer on fire', 'ada@customer.example', $1, $1)`, c.Now().Add(-48*time.Hour))
	a, b := newMailer(t, db, c), newMailer(t, db, c) // two instances

	if sent, err := a.SendDue(ctx); err != nil || !sent {
		t.Fatalf("Monday 09:00: sent %v, %v; want the report", sent, err)
	}
	for _, m := range []*Mailer{a, b} {
		if sent, err := m.SendDue(ctx); err != nil || sent {
			t.Errorf("again the same week: sent %v, %v", sent, err)
		}
	}
	c.Set(time.Date(2026, 12, 6, 23, 0, 0, 0, loc)) // Sunday night
	if sent, _ := b.SendDue(ctx); sent {
		t.Error("sent again before the next Monday")
	}
	c.Set(time.Date(2026, 12, 7, 7, 59, 0, 0, loc))
	if sent, _ := b.SendDue(ctx); sent {
		t.Error("sent before 08:00")
	}
	if n := outboxCount(t, db); n != 1 {
		t.Fatalf("outbox = %d mails, want 1", n)
	}

	// 08:00: both instances look at once; one mail.
	c.Set(time.Date(2026, 12, 7, 8, 0, 0, 0, loc))
	var wg sync.WaitGroup
	results := make(chan bool, 2)
	for _, m := range []*Mailer{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent, err := m.SendDue(ctx)
			if err != nil {
				t.Error(err)
			}
			results <- sent
		}()
	}
	wg.Wait()
	close(results)
	sent := 0
	for r := range results {
		if r {
			sent++
		}
	}
	if sent != 1 || outboxCount(t, db) != 2 {
		t.Errorf("two instances at 08:00 sent %d (outbox %d), want one mail", sent, outboxCount(t, db))
	}

	// Down over a whole Monday: that week's report is skipped.
	c.Set(time.Date(2026, 12, 15, 10, 0, 0, 0, loc)) // Tuesday after
	if sent, _ := a.SendDue(ctx); sent {
		t.Error("a report more than a day late was sent")
	}
	// Down at 08:00, back at 11:00: it goes late, once.
	c.Set(time.Date(2026, 12, 14, 11, 0, 0, 0, loc))
	if sent, _ := a.SendDue(ctx); !sent {
		t.Error("the missed report was not sent")
	}
	var scheduled []time.Time
	db.Select(&scheduled, `SELECT scheduled_at FROM report_mails ORDER BY 1`)
	if len(scheduled) != 3 || !scheduled[2].Equal(time.Date(2026, 12, 14, 8, 0, 0, 0, loc)) {
		t.Errorf("scheduled = %v", scheduled)
	}

	var raw []byte
	if err := db.Get(&raw, `SELECT raw FROM outbox ORDER BY id LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	r, err := mail.CreateReader(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if v := r.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", v)
	}
	to, _ := r.Header.AddressList("To")
	if len(to) != 2 || to[0].Address != "pr@example.com" || to[1].Address != "lead@example.com" {
		t.Errorf("To = %v", to)
	}
	var text, html string
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p.Body)
		ct := p.Header.Get("Content-Type")
		switch {
		case strings.HasPrefix(ct, "text/plain"):
			text = string(b)
		case strings.HasPrefix(ct, "text/html"):
			html = string(b)
		}
	}
	if !strings.Contains(text, "opened") || !strings.Contains(text, "resolution rate") {
		t.Errorf("text part lacks the figures:\n%s", text)
	}
	// Five charts always; escalations and staff only with some (none here).
	if strings.Count(html, "<svg") != 5 || !strings.Contains(html, "No escalation to PR in this window") {
		t.Errorf("HTML part has %d charts, want 5", strings.Count(html, "<svg"))
	}
	var deliveries int
	db.Get(&deliveries, `SELECT count(*) FROM deliveries d JOIN outbox o ON o.id = d.outbox_id WHERE o.id = (SELECT min(id) FROM outbox)`)
	if deliveries != 2 {
		t.Errorf("deliveries = %d, want one per recipient", deliveries)
	}
}

// Scheduled is the latest occurrence of the weekly time, in its zone, also
// across a change of the clocks.
func TestScheduled(t *testing.T) {
	loc := berlin(t)
	m := &Mailer{opts: Options{Weekday: time.Monday, Location: loc}, hour: 8}
	for _, tc := range []struct{ now, want time.Time }{
		{time.Date(2026, 11, 30, 8, 0, 0, 0, loc), time.Date(2026, 11, 30, 8, 0, 0, 0, loc)},
		{time.Date(2026, 11, 30, 7, 59, 0, 0, loc), time.Date(2026, 11, 23, 8, 0, 0, 0, loc)},
		{time.Date(2026, 12, 3, 12, 0, 0, 0, loc), time.Date(2026, 11, 30, 8, 0, 0, 0, loc)},
		{time.Date(2026, 3, 30, 9, 0, 0, 0, loc), time.Date(2026, 3, 30, 8, 0, 0, 0, loc)}, // the Monday after the change to CEST
		{time.Date(2026, 3, 30, 6, 30, 0, 0, time.UTC), time.Date(2026, 3, 30, 8, 0, 0, 0, loc)},
	} {
		if got := m.Scheduled(tc.now); !got.Equal(tc.want) {
			t.Errorf("Scheduled(%v) = %v, want %v", tc.now, got, tc.want)
		}
	}
}
