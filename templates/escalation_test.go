package templates

import (
	"strings"
	"testing"
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
	for kind, want := range map[Kind]string{JournalistAcknowledgement: "press office", HoldingReply: "senior member of our team"} {
		var data any = AcknowledgementData{Case: 7, Subject: "Question", CustomerName: "Jo", Team: "T"}
		if kind == HoldingReply {
			data = HoldingData{Case: 7, Subject: "Question", CustomerName: "Jo", Team: "T"}
		}
		r, err := s.Render(kind, data)
		if err != nil {
			t.Fatal(err)
		}
		if r.Subject != "Re: Question [#7]" || !strings.Contains(r.Text, want) || !strings.Contains(r.Text, "Hello Jo,") {
			t.Errorf("%s: %+v", kind, r)
		}
	}
}
