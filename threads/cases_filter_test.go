package threads

import (
	"casegate/vocab"
	"context"
	"testing"
	"time"
)

// casegate cases -overdue and -escalated: a journalist's case escalated at
// once; a customer's case whose first-response deadline passed while no
// sweeper ran is overdue.
func TestListCasesOverdueAndEscalated(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	s := escalationStore(t, nil, clock, []Rule{
		{Name: "press", Category: vocab.CategoryJournalist, When: WhenOpened, Actions: []Action{{Kind: ActionCCPR}}},
		{Name: "first", When: WhenNoStaffReply, After: 4 * time.Hour, Actions: []Action{{Kind: ActionCCPR}}},
	})
	ctx := context.Background()
	press := inbound("lois@x", "lois@daily-planet.example", "Request for comment", "on deadline")
	press.Category = vocab.CategoryJournalist
	journalist := mustFile(t, s, press)
	customer := mustFile(t, s, inbound("ada@x", "ada@customer.example", "Help", "broken"))

	ids := func(f CaseFilter) []int64 {
		t.Helper()
		cs, err := s.ListCases(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	if got := ids(CaseFilter{Escalated: true}); len(got) != 1 || got[0] != journalist.Case {
		t.Errorf("escalated = %v, want [%d]", got, journalist.Case)
	}
	if got := ids(CaseFilter{Overdue: true}); len(got) != 0 {
		t.Errorf("overdue before any deadline = %v", got)
	}
	clock.Advance(5 * time.Hour) // past first-response; no sweep has run
	got := ids(CaseFilter{Overdue: true})
	if len(got) != 2 || got[0] == got[1] {
		t.Errorf("overdue after 5 h = %v, want both cases (%d, %d)", got, journalist.Case, customer.Case)
	}
	if all := ids(CaseFilter{}); len(all) != 2 {
		t.Errorf("unfiltered = %v", all)
	}
}
