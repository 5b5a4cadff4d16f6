package views

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"casegate/threads"
	"casegate/vocab"
)

// casegate cases -overdue and -escalated: a journalist's case escalated at
// once; a customer's case whose first-response deadline passed while no
// sweeper ran is overdue.
func TestListCasesOverdueAndEscalated(t *testing.T) {
	f := newFixture(t, []threads.Rule{
		{Name: "press", Category: vocab.CategoryJournalist, When: threads.WhenOpened, Actions: []threads.Action{{Kind: threads.ActionCCPR}}},
		{Name: "first", When: threads.WhenNoStaffReply, After: 4 * time.Hour, Actions: []threads.Action{{Kind: threads.ActionCCPR}}},
	})
	ctx := context.Background()
	press := inbound("lois@x", "lois@daily-planet.example", "Request for comment", "on deadline")
	press.Category = vocab.CategoryJournalist
	filed, err := f.store.File(ctx, press)
	if err != nil {
		t.Fatal(err)
	}
	journalist := filed.Case
	customer := f.file(t, "ada@x", "ada@customer.example", "Help", "broken")

	if got := f.ids(t, CaseFilter{Escalated: true}); len(got) != 1 || got[0] != journalist {
		t.Errorf("escalated = %v, want [%d]", got, journalist)
	}
	if got := f.ids(t, CaseFilter{Overdue: true}); len(got) != 0 {
		t.Errorf("overdue before any deadline = %v", got)
	}
	f.clock.Add(5 * time.Hour) // past first-response; no sweep has run
	got := f.ids(t, CaseFilter{Overdue: true})
	if len(got) != 2 || got[0] == got[1] {
		t.Errorf("overdue after 5 h = %v, want both cases (%d, %d)", got, journalist, customer)
	}
	if all := f.ids(t, CaseFilter{}); len(all) != 2 {
		t.Errorf("unfiltered = %v", all)
	}
}

// casegate cases -customer, -assignee and -text.
func TestListCasesByCustomerAssigneeAndText(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	printer := f.file(t, "p@x", "Ada@Customer.example", "Printer on fire", "My laser printer is on fire since Tuesday.")
	invoice := f.file(t, "i@x", "grace@customer.example", "Invoice 2026-117", "The invoice lists a fax machine we never ordered.")
	scanner := f.file(t, "s@x", "linus@other.example", "Scanner", "Der Scanner zieht kein Papier ein; Rechnung folgt.")
	// A later mail on the scanner case: the text of every received mail counts.
	f.file(t, "s2@x", "linus@other.example", fmt.Sprintf("Re: Scanner [#%d]", scanner), "Now it smells of burnt toner.")
	if err := f.store.Assign(ctx, invoice, "alice@example.com", "cli:test"); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		filter CaseFilter
		want   []int64
	}{
		{"customer address, any case", CaseFilter{Customer: "ADA@customer.example"}, []int64{printer}},
		{"customer domain", CaseFilter{Customer: "@customer.example"}, []int64{invoice, printer}},
		{"a domain's suffix is not the domain", CaseFilter{Customer: "@example"}, []int64{}},
		{"assignee", CaseFilter{Assignee: "Alice@example.com"}, []int64{invoice}},
		{"unassigned", CaseFilter{Assignee: "-"}, []int64{scanner, printer}},
		{"a word of the subject", CaseFilter{Text: "printer"}, []int64{printer}},
		{"a word of a later mail's text", CaseFilter{Text: "toner"}, []int64{scanner}},
		{"German words", CaseFilter{Text: "papier rechnung"}, []int64{scanner}},
		{"a phrase", CaseFilter{Text: `"fax machine"`}, []int64{invoice}},
		{"a phrase in the wrong order", CaseFilter{Text: `"machine fax"`}, []int64{}},
		{"or", CaseFilter{Text: "fire or toner"}, []int64{scanner, printer}},
		{"not", CaseFilter{Text: "fire -laser"}, []int64{}},
		{"text and customer", CaseFilter{Text: "invoice", Customer: "@customer.example"}, []int64{invoice}},
		{"no match", CaseFilter{Text: "teapot"}, []int64{}},
		{"punctuation is only text", CaseFilter{Text: `'; DROP TABLE cases; --`}, []int64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := f.ids(t, tc.filter)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%+v: cases %v, want %v", tc.filter, got, tc.want)
			}
		})
	}
	if _, err := f.reader.ListCases(ctx, CaseFilter{Customer: "ada"}); !errors.Is(err, ErrBadFilter) {
		t.Errorf("customer without @: %v, want ErrBadFilter", err)
	}
	if _, err := f.reader.ListCases(ctx, CaseFilter{Status: "lost"}); !errors.Is(err, ErrBadFilter) {
		t.Errorf("status lost: %v, want ErrBadFilter", err)
	}
}

// The text search reads the index the indexer builds after filing, and it
// covers the first 4,000 characters of each mail.
func TestTextSearchUsesTheIndex(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	early := f.file(t, "e@x", "ada@customer.example", "Long log", "zebra at the start\n"+strings.Repeat("filler ", 600))
	f.file(t, "l@x", "bob@customer.example", "Longer log", strings.Repeat("filler ", 600)+"\nokapi past the end")
	if got := f.ids(t, CaseFilter{Text: "zebra"}); fmt.Sprint(got) != fmt.Sprint([]int64{early}) {
		t.Errorf("zebra: %v, want [%d]", got, early)
	}
	if got := f.ids(t, CaseFilter{Text: "okapi"}); len(got) != 0 {
		t.Errorf("a word past 4,000 characters was found: %v", got)
	}

	tx, err := f.db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// Enough mail that reading it all would cost (rolled back at the end).
	tx.MustExec(`INSERT INTO messages (case_id, direction, message_id, body_sha256, raw, source, subject, text_body, received_at)
		SELECT $1, 'inbound', 'bulk-' || g, sha256(int8send(g)), '\x00', 'test', 'bulk', 'word' || g, now()
		FROM generate_series(1, 5000) g`, early)
	tx.MustExec(`INSERT INTO message_search (message_id, doc)
		SELECT id, to_tsvector('simple', subject || ' ' || text_body) FROM messages WHERE message_id LIKE 'bulk-%'`)
	// As the index stands once autovacuum has merged its pending list.
	tx.MustExec(`SELECT gin_clean_pending_list('message_search_doc')`)
	tx.MustExec(`ANALYZE messages`)
	tx.MustExec(`ANALYZE message_search`)
	var plan []string
	if err := tx.SelectContext(ctx, &plan, "EXPLAIN "+f.reader.q.ListCases.SQL, "", "", 100, false, false, time.Now(), "zebra", "", ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(plan, "\n"), "message_search_doc") {
		t.Errorf("the search does not use message_search_doc:\n%s", strings.Join(plan, "\n"))
	}
}
