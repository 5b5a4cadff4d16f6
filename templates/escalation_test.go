package templates

import (
	"strings"
	"testing"
	"time"
)

func TestEscalationTemplates(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	d := sampleDigest
	d.Subject = "Broken\r\nBcc: evil@example.net"
	r, err := s.Render(EscalationDigest, d)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[#1042] Broken Bcc: evil@example.net"; r.Subject != want {
		t.Errorf("digest subject = %q, want %q (no header injection)", r.Subject, want)
	}
	for _, want := range []string{"Escalated: case #1042", "Why: risk is high", "Ada <ada@customer.example>", "Evidence: risk_words: lawyer (3)",
		"opened by ada@customer.example: new case from smtp", "My lawyer will hear of this.", d.ReplyAddress} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("digest lacks %q:\n%s", want, r.Text)
		}
	}
	r, err = s.Render(JournalistAcknowledgement, AcknowledgementData{Case: 7, Subject: "Question", CustomerName: "Jo", Team: "T"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "Re: Question [#7]" || !strings.Contains(r.Text, "press office") || !strings.Contains(r.Text, "Hello Jo,") {
		t.Errorf("journalist acknowledgement: %+v", r)
	}
}

// The holding reply says the case is with a senior person and when the
// customer hears back, in her zone and language, or "as soon as we can".
func TestHoldingReply(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := LoadZone("Europe/Berlin")
	now := time.Date(2026, 11, 27, 18, 30, 0, 0, time.UTC) // Friday 19:30 in Berlin
	d := HoldingReplyData{Case: 7, Subject: "Question", CustomerName: "Jo", Team: "T",
		ReplyBy: NewMoment(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), berlin, now)}
	for lang, want := range map[string][]string{
		"en": {"Hello Jo,", "senior member of our team", "by Monday 30 November, 13:00 CET"},
		"de": {"Hallo Jo,", "erfahrenen Kollegin", "Wir melden uns bis Montag, 30. November, 13:00 Uhr MEZ, in diesem Verlauf"},
	} {
		r, err := s.RenderLang(HoldingReply, lang, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range append(want, "#7") {
			if !strings.Contains(strings.Join(strings.Fields(r.Text), " "), w) {
				t.Errorf("%s holding reply lacks %q:\n%s", lang, w, r.Text)
			}
		}
	}
	// Late: a deadline passed (an apology); else what she wrote brought a
	// senior person in at once (thanks).
	for _, c := range []struct {
		lang string
		late bool
		want string
	}{
		{"en", true, "I am sorry that your case #7 is taking longer than it should:"},
		{"en", false, "Thank you for your message about your case #7; we take it seriously:"},
		{"de", true, "es tut mir leid, dass Ihr Fall #7 länger dauert, als er sollte:"},
		{"de", false, "danke für Ihre Nachricht zu Ihrem Fall #7; wir nehmen sie ernst:"},
	} {
		d.Late = c.late
		r, err := s.RenderLang(HoldingReply, c.lang, d)
		if err != nil || !strings.Contains(r.Text, c.want) {
			t.Errorf("%s holding reply, late %v: %v, lacks %q:\n%s", c.lang, c.late, err, c.want, r.Text)
		}
	}
	d.ReplyBy = nil
	r, _ := s.RenderLang(HoldingReply, "en", d)
	if !strings.Contains(r.Text, "as soon as we can") {
		t.Errorf("holding reply without a time:\n%s", r.Text)
	}
}
