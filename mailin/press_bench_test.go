package mailin

import (
	"casegate/vocab"
	"strings"
	"testing"
)

// BenchmarkClassify classifies a 10 KB customer mail, as the SMTP
// listener does for every message.
func BenchmarkClassify(b *testing.B) {
	c, err := NewClassifier(ClassifyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("the printer order invoice delivery broken refund please help account password reset login error screen again still waiting since monday, ", 70)
	b.ReportAllocs()
	for b.Loop() {
		in := &vocab.Inbound{Subject: "Problem with my order", Text: text, NewText: text}
		in.From.Address = "ada@customer.example"
		c.Classify(in)
	}
}
