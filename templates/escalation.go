package templates

// DigestData is what an escalation digest to the PR mailbox (or a notify
// address) is rendered from: who, what, the timeline, the last messages,
// why it escalated and how to reply. Times are preformatted in the rule's
// calendar zone.
type DigestData struct {
	Case                   int64
	Subject                string
	Customer, CustomerName string
	Category, Risk         string
	Priority, Status       string
	Opened                 string
	Rule                   string   // name of the rule that fired
	Why                    string   // the rule's condition, in words
	Evidence               []string // what classification matched
	Timeline               []TimelineLine
	LastMessages           []DigestMessage
	ReplyAddress           string // where a reply files as a staff reply
	Team                   string
}

// TimelineLine is one event of a case.
type TimelineLine struct {
	At, Kind, Actor, Detail string
}

// DigestMessage is one message quoted in a digest.
type DigestMessage struct {
	At, Direction, From string
	Text                string `template:"multiline"`
}

var sampleDigest = DigestData{
	Case: 1042, Subject: "Printer on fire", Customer: "ada@customer.example", CustomerName: "Ada",
	Category: "customer", Risk: "high", Priority: "normal", Status: "open", Opened: "2026-11-20 18:02 CET",
	Rule: "public-risk", Why: "risk is high", Evidence: []string{"risk_words: lawyer (3)"},
	Timeline:     []TimelineLine{{At: "2026-11-20 18:02", Kind: "opened", Actor: "ada@customer.example", Detail: "new case from smtp"}},
	LastMessages: []DigestMessage{{At: "2026-11-20 18:02", Direction: "inbound", From: "ada@customer.example", Text: "My lawyer will hear of this."}},
	ReplyAddress: "support+1042-0123456789ab@support.example.com", Team: "Example Support",
}
