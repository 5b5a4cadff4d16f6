package threads

import (
	"encoding/json"
	"time"

	"github.com/emersion/go-message/mail"

	"casegate/mailout"
	"casegate/templates"
	"casegate/vocab"
)

// A plan is everything one decision writes: the message, the case's new
// state, its timeline events, timers, firings, and an intent for every
// mail to send. Decisions build plans in plain Go from a snapshot; the
// writer (write.go) stores a batch of plans in one statement. A plan on an
// existing case carries the Version it was decided on: if the case changed
// meanwhile, the plan is not written and the decision is taken again.
type plan struct {
	// Outcome is what the message (if any) comes to; outcomeFiled for
	// plans of the sweeper and admin commands.
	Outcome outcome `json:"outcome"`
	// Case is the case the plan changes: its state after the decision.
	// For a new case its ID is a placeholder (negative) until written.
	Case    *caseState `json:"case,omitempty"`
	NewCase bool       `json:"new_case,omitempty"`
	// Version is the version of Case the decision read (existing cases).
	Version int64 `json:"version"`
	// Message is the inbound message to store on the case.
	Message *messageRow `json:"message,omitempty"`
	// Participants to add or update (role, no_followup), and the new
	// timers of the case (every pending one) when TimersChanged.
	Participants  []participant `json:"participants,omitempty"`
	TimersChanged bool          `json:"timers_changed,omitempty"`
	Events        []event       `json:"events,omitempty"`
	Escalations   []firing      `json:"escalations,omitempty"`
	Followups     []followupRow `json:"followups,omitempty"`
	Rating        *ratingRow    `json:"rating,omitempty"`
	Intents       []intent      `json:"intents,omitempty"`
	// AutoAnswers counts automatic answers for the per-address cap.
	AutoAnswers []autoAnswer `json:"auto_answers,omitempty"`
	// Capped records that staff were told today of an address that
	// reached the cap.
	Capped     []string       `json:"capped,omitempty"`
	Suppress   *suppression   `json:"suppress,omitempty"`
	Quarantine *quarantineRow `json:"quarantine,omitempty"`
	// Merge moves every row of case From into Case (see merge.go).
	Merge *mergeRow `json:"merge,omitempty"`
	// Bounce is the delivery a bounce reports on, marked through mailout
	// in the same transaction.
	Bounce *mailout.Bounce `json:"-"`
	// Wake: other processes (a running service) are told that intents
	// were committed (admin commands).
	Wake bool `json:"wake,omitempty"`

	snap *snapshot // what the decision read
}

type outcome string

const (
	outcomeFiled      outcome = "filed"
	outcomeDuplicate  outcome = "duplicate"
	outcomeQuarantine outcome = "quarantine"
)

// messageRow is an inbound message as stored; Raw and Text travel beside
// the plan's JSON (write.go).
type messageRow struct {
	MessageID    string    `json:"message_id"`
	BodySHA256   []byte    `json:"-"`
	Raw          []byte    `json:"-"`
	Text         string    `json:"-"`
	Source       string    `json:"source"`
	EnvelopeFrom string    `json:"envelope_from"`
	EnvelopeTo   []string  `json:"envelope_to"`
	From         string    `json:"from_address"`
	FromName     string    `json:"from_name"`
	Subject      string    `json:"subject"`
	InReplyTo    []string  `json:"in_reply_to"`
	Automatic    bool      `json:"automatic"`
	Problems     []string  `json:"problems"`
	ReceivedAt   time.Time `json:"received_at"`
	AuthSummary  string    `json:"auth_summary"`
}

// event is one line of a case's timeline. Message marks events about the
// plan's own message; Case (when set) puts the event on another case
// (e.g. why a mail naming it opened a new case instead).
type event struct {
	Case    int64     `json:"case,omitempty"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Actor   string    `json:"actor"`
	Message bool      `json:"message,omitempty"`
	Detail  string    `json:"detail"`
}

// firing records that a rule's cycle fired (the escalations key).
type firing struct {
	Rule    string    `json:"rule"`
	Since   time.Time `json:"since"`
	Due     time.Time `json:"due"`
	At      time.Time `json:"at"`
	Actions []string  `json:"actions"`
}

type followupRow struct {
	Step    string    `json:"step"` // ask, close
	Since   time.Time `json:"since"`
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"`
}

type ratingRow struct {
	Score    int       `json:"score"`
	Comment  string    `json:"comment"`
	Reopened bool      `json:"reopened"`
	At       time.Time `json:"at"`
}

type autoAnswer struct {
	Address string    `json:"address"`
	At      time.Time `json:"at"`
}

type suppression struct {
	Address    string    `json:"address"`
	Status     string    `json:"status"`
	Diagnostic string    `json:"diagnostic"`
	Delivery   int64     `json:"delivery"`
	At         time.Time `json:"at"`
	Until      time.Time `json:"until"`
}

type quarantineRow struct {
	Reason string `json:"reason"`
}

type mergeRow struct {
	From    int64 `json:"from"`
	Version int64 `json:"version"` // of From, checked like Case's
}

// intent is one mail to send, committed with the decision that causes it
// and rendered after the commit (compose.go). It carries what the template
// needs beyond the case number, which is known only once a new case is
// written; the text of a long message is read from the stored message
// (Source) rather than copied.
type intent struct {
	Kind      templates.Kind        `json:"kind"`
	MessageID string                `json:"-"`
	Lang      string                `json:"lang,omitempty"`
	Zone      string                `json:"zone,omitempty"` // IANA zone of times read at rendering (digests)
	Auto      mailout.AutoSubmitted `json:"auto,omitempty"`
	FromName  string                `json:"from_name,omitempty"` // the sender's display name; default the team
	To        []mail.Address        `json:"to"`
	Cc        []mail.Address        `json:"cc,omitempty"`
	// ReplyTo is the role of the case's reply address in Reply-To; "" for none.
	ReplyTo    vocab.Role `json:"reply_to,omitempty"`
	InReplyTo  string     `json:"in_reply_to,omitempty"`
	References []string   `json:"references,omitempty"`
	// Data is the template data (a templates.*Data value); Case is filled
	// in at rendering.
	Data any `json:"data"`
	// Source is the message whose text (SourceText) or attachments
	// (Attach) the mail carries: 0 for none, -1 for the plan's own
	// message, lastCustomerMessage for the customer's latest.
	Source     int64 `json:"source,omitempty"`
	SourceText bool  `json:"source_text,omitempty"`
	Attach     bool  `json:"attach,omitempty"`
	// AnswerTo is set on an automatic answer to inbound mail: the address
	// whose cap it counts against.
	AnswerTo string `json:"answer_to,omitempty"`
}

// marshal is the intent as stored in intents.spec.
func (i *intent) marshal() ([]byte, error) { return json.Marshal(i) }
