package threads

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"casegate/vocab"
)

// A filing is two prepared statements, the snapshot and the write, and
// PL/pgSQL keeps a generic plan of each query inside them. Whatever the
// plan, a filing's reads must go from the few ids a message names to an
// index: a query that reads a whole table makes every filing slower as
// mail accumulates (threading through the intents did, before it looked
// ids up as an array).
func TestFilingReadsNoTableWhole(t *testing.T) {
	s, db, clock := newStore(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO cases (subject, customer, opened_at, updated_at)
		 SELECT 'case ' || g, 'c' || g || '@customer.example', now(), now() FROM generate_series(1, 5000) g`,
		`INSERT INTO participants (case_id, address, role, added_at) SELECT id, customer, 'customer', now() FROM cases`,
		`INSERT INTO messages (case_id, direction, message_id, body_sha256, raw, source, received_at)
		 SELECT c.id, 'inbound', 'm' || c.id || '@customer.example', sha256(int8send(c.id)), '\x00', 'smtp', now() FROM cases c`,
		`INSERT INTO intents (case_id, kind, message_id, created_at, spec)
		 SELECT c.id, 'ack', 'ack' || c.id || '@support.example.com', now(), '{}' FROM cases c`,
		`INSERT INTO outbox (message_id, raw, automatic, created_at)
		 SELECT 'out' || g || '@support.example.com', '\x00', true, now() FROM generate_series(1, 5000) g`,
		`INSERT INTO deliveries (outbox_id, recipient, next_attempt_at) SELECT id, 'c' || id || '@customer.example', now() FROM outbox`,
		`ANALYZE`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var first int64
	if err := db.GetContext(ctx, &first, `SELECT min(id) FROM cases`); err != nil {
		t.Fatal(err)
	}
	requests := []snapshotRequest{
		{MessageID: "r1@customer.example", Hash: "00", From: "c9@customer.example",
			References: []string{"ack" + strconv.FormatInt(first+7, 10) + "@support.example.com", "m" + strconv.FormatInt(first+8, 10) + "@customer.example"},
			Tags:       []int64{first + 9}, Mentions: []int64{first + 10}, Addresses: []string{"c9@customer.example"}},
		{MessageID: "r2@customer.example", Hash: "00", From: "nobody@else.example",
			Tags: []int64{first + 11}, Mentions: []int64{first + 12}, Addresses: []string{"nobody@else.example"}},
		{MessageID: "b1@mx.example", Hash: "00", From: "mailer-daemon@mx.example", Bounce: true,
			DSNMessage: "out5@support.example.com", DSNRcpts: []string{"c5@customer.example"}},
		{MessageID: "b2@mx.example", Hash: "00", From: "mailer-daemon@mx.example", Bounce: true, Delivery: 17},
	}
	body, err := json.Marshal(requests)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// The plan PostgreSQL settles on after a few executions of a prepared
	// statement, at once.
	if _, err := tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	// The counters of this connection, which may still hold the set-up's
	// scans (PostgreSQL reports a backend's counts in batches).
	wholeReads := func() map[string]int64 {
		var rows []struct {
			Table string `db:"relname"`
			Scans int64  `db:"seq_scan"`
		}
		if err := tx.SelectContext(ctx, &rows, `SELECT relname, seq_scan FROM pg_stat_xact_user_tables
			WHERE relname IN ('cases', 'participants', 'messages', 'intents', 'outbox', 'deliveries')`); err != nil {
			t.Fatal(err)
		}
		m := map[string]int64{}
		for _, r := range rows {
			m[r.Table] = r.Scans
		}
		return m
	}
	before := wholeReads()
	var out []byte
	for i := 0; i < 3; i++ {
		if err := tx.GetContext(ctx, &out, `SELECT casegate_snapshot(CAST($1 AS jsonb), $2, 5)`, body, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var snap struct {
		Messages []struct {
			Thread   *struct{ ID int64 } `json:"thread"`
			How      string              `json:"thread_how"`
			Delivery *struct{ ID int64 } `json:"delivery"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(out, &snap); err != nil || len(snap.Messages) != 4 {
		t.Fatalf("snapshot %s: %v", out, err)
	}
	if m := snap.Messages[0]; m.Thread == nil || m.Thread.ID != first+7 || m.How != "references" {
		t.Errorf("a reply to an acknowledgement threads to %+v (%s), want case %d by its references", m.Thread, m.How, first+7)
	}
	if m := snap.Messages[1]; m.Thread != nil {
		t.Errorf("a stranger naming cases threads to %+v (%s)", m.Thread, m.How)
	}
	if m := snap.Messages[2]; m.Delivery == nil {
		t.Errorf("the DSN's delivery was not found")
	}
	if m := snap.Messages[3]; m.Delivery == nil || m.Delivery.ID != 17 {
		t.Errorf("the VERP bounce's delivery = %+v, want 17", m.Delivery)
	}
	// Filing: new cases, a reply to an acknowledgement, a stranger naming
	// a case, each decided and written as the committer does.
	for round := 0; round < 3; round++ {
		r := strconv.Itoa(round)
		msgs := []*vocab.Inbound{
			inbound("new"+r+"@customer.example", "new"+r+"@customer.example", "Printer on fire", "It burns."),
			inbound("reply"+r+"@customer.example", "c9@customer.example", "Re: case 9", "Still burning."),
			inbound("stranger"+r+"@else.example", "stranger@else.example", "[#"+strconv.FormatInt(first+3, 10)+"] hello", "Me too."),
		}
		msgs[1].InReplyTo = []string{"ack" + strconv.FormatInt(first+9, 10) + "@support.example.com"}
		set := s.settings()
		reqs := make([]snapshotRequest, len(msgs))
		for i, in := range msgs {
			reqs[i], _ = s.request(in, set)
		}
		snaps, err := s.snapshots(ctx, tx, reqs, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		d := s.decider(clock.Now())
		var plans []*plan
		for i, in := range msgs {
			plans = append(plans, d.inbound(in, snaps[i]))
		}
		out, err := s.write(ctx, tx, plans, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range out {
			if w.Outcome != "filed" {
				t.Errorf("round %d message %d: %s", round, i, w.Outcome)
			}
		}
		if round == 0 && out[1].Case != first+9 {
			t.Errorf("the reply to an acknowledgement went to case %d, want %d", out[1].Case, first+9)
		}
	}
	for table, n := range wholeReads() {
		if n > before[table] {
			t.Errorf("filing read table %s whole (%d times)", table, n-before[table])
		}
	}
}
