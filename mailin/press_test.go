package mailin

import (
	"casegate/vocab"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
)

func TestClassify(t *testing.T) {
	c, err := NewClassifier(ClassifyOptions{
		PressDomains: []string{"Daily-Planet.example"},
		VIP:          []string{"ceo@bigcorp.example", "partner.example"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, from, subject, text string
		automatic                 bool
		category                  vocab.Category
		risk                      vocab.Risk
		evidence                  string
	}{
		{"plain customer", "ada@customer.example", "Printer on fire", "Please help.", false, "", "", ""},
		{"press domain", "lois@news.daily-planet.example", "Hello", "Quick question.", false, vocab.CategoryJournalist, "", "press_domains: daily-planet.example"},
		{"reporter wording in signature", "jo@freemail.example", "Your recall", "Could you comment?\n\n-- \nJo Bloggs\nReporter, Evening Post\nOn deadline: 5pm", false, vocab.CategoryJournalist, "", `"on deadline" (2), "reporter" (2)`},
		{"request for comment alone", "jo@freemail.example", "Request for comment: outage", "See subject.", false, vocab.CategoryJournalist, "", "request for comment"},
		{"one weak word is not enough", "sam@customer.example", "Editor crashes", "The editor crashes on save.", false, "", "", ""},
		{"phrase in capitals across punctuation", "jo@freemail.example", "Hi", "Writing FOR A—Story, due today.", false, vocab.CategoryJournalist, "", `"for a story" (3)`},
		{"text ends inside a phrase", "sam@customer.example", "Hi", "What I need it for a", false, "", "", ""},
		{"editor is not creditor", "sam@customer.example", "Refund", "My creditor and my auditor.", false, "", "", ""},
		{"vip address", "CEO@bigcorp.example", "Hi", "Call me.", false, vocab.CategoryVIP, "", "vip: ceo@bigcorp.example"},
		{"vip domain", "anyone@eu.partner.example", "Hi", "Call me.", false, vocab.CategoryVIP, "", "vip: partner.example"},
		{"medium risk", "ada@customer.example", "Still broken", "I will leave a review.", false, "", vocab.RiskMedium, `"review" (1)`},
		{"high risk", "ada@customer.example", "Still broken", "My lawyer will\ncontact the press.", false, "", vocab.RiskHigh, `"contact the press" (3), "lawyer" (3)`},
		// Classification runs on every message (issue 16 item 5): a press
		// release tool's Precedence: bulk makes mail automatic, not less
		// a journalist's.
		{"automatic mail is classified too", "lois@daily-planet.example", "Request for comment", "Sent with Precedence: bulk; my lawyer", true, vocab.CategoryJournalist, vocab.RiskHigh, "press_domains: daily-planet.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &vocab.Inbound{From: mail.Address{Address: tc.from}, Subject: tc.subject, Text: tc.text, NewText: tc.text, Automatic: tc.automatic}
			c.Classify(in)
			ev := strings.Join(in.Evidence, "; ")
			if in.Category != tc.category || in.Risk != tc.risk || !strings.Contains(ev, tc.evidence) || tc.evidence == "" && ev != "" {
				t.Errorf("got category %q risk %q evidence %q; want %q %q containing %q", in.Category, in.Risk, ev, tc.category, tc.risk, tc.evidence)
			}
		})
	}
	var nilClassifier *Classifier
	nilClassifier.Classify(&vocab.Inbound{Subject: "lawyer"}) // must not panic
	if _, err := NewClassifier(ClassifyOptions{RiskWords: map[string]int{"x": 0}}); err == nil {
		t.Error("zero weight accepted")
	}
}
