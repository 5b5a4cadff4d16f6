package templates

import "time"

// Kinds of the mail that lets staff work a case by mail.
const (
	Notification  Kind = "notification"   // NotificationData: a case's news, to staff
	Relayed       Kind = "relayed"        // RelayedData: a staff reply, relayed to the customer
	StatusReply   Kind = "status"         // StatusData: answer to a participant's "status"
	CommandError  Kind = "command-error"  // CommandErrorData: a staff command that was not applied
	NotAuthorised Kind = "not-authorised" // NotAuthorisedData: mail that claimed staff authority without proof
	Escalation    Kind = "escalation"     // EscalationData: digest of an escalated case, to PR
)

// NotificationData tells staff of a new case or a customer's new message.
type NotificationData struct {
	Case        int64
	Subject     string // the case's subject
	NewCase     bool   // the message opened the case
	Category    string // customer, journalist, vip
	Priority    string
	Status      string
	From        string   // the author, "Name <address>"
	Text        string   `template:"multiline"` // what the author wrote
	Attachments []string // names of the attached files (attached to the notification too)
	Deadlines   []string // "first response due Mon, 23 Nov 2026 13:00 UTC", when there are any
	NoteAddress string   // where a reply becomes an internal note
	Team        string
	// Risk is how likely the case is to go public (none, medium, high),
	// RiskWords what in the customer's mail said so, PRAlerted whether PR
	// was brought in: staff see it on every mail about the case.
	Risk      string
	RiskWords []string
	PRAlerted bool
}

// RelayedData is a staff reply as the customer receives it.
type RelayedData struct {
	Case      int64
	Subject   string
	Text      string `template:"multiline"` // the staff member's new text: commands, quote and signature removed
	StaffName string // the staff member's display name, only when the config shows names
	Team      string
	// Resolved: the reply also resolved the case (#resolve), so the one
	// mail ends with a short line saying so.
	Resolved bool
}

// StatusData answers a participant's status request, in plain words: no
// rule names, times in the case's zone.
type StatusData struct {
	Case       int64
	Subject    string
	Status     string  // new, open, pending, resolved, closed: the template says it in words
	ReceivedAt *Moment // when the case was opened
	// LastStaffAction is what staff last did: "replied", "changed-status"
	// or "took-case"; "" when staff have not acted yet.
	LastStaffAction   string
	LastStaffActionAt *Moment // when; nil when staff have not acted yet
	// AnswerBy is when the customer can expect an answer (the deadline a
	// rule gives staff); nil when none is set or staff are not the ones
	// to act (the case waits on the customer, or is resolved).
	AnswerBy *Moment
	Assigned bool   // someone has the case
	Assignee string // who, shown only with show_names; may be empty when Assigned
	Team     string
}

// CommandErrorData tells a staff member why their commands were not applied.
type CommandErrorData struct {
	Case    int64
	Subject string
	Errors  []string
	Team    string
}

// NotAuthorisedData tells staff that mail claiming staff authority was
// filed as an ordinary message.
type NotAuthorisedData struct {
	Case    int64
	Subject string
	From    string
	Reasons []string
	Team    string
}

// EscalationData is the short digest the PR mailbox gets on #escalate.
type EscalationData struct {
	Case     int64
	Subject  string
	Customer string
	Status   string
	Priority string
	By       string // who escalated
	Text     string `template:"multiline"` // the customer's latest words
	Team     string
}

var (
	sampleNotification = NotificationData{Case: 1042, Subject: "Printer on fire", NewCase: true, Category: "customer",
		Priority: "normal", Status: "new", From: "Ada <ada@customer.example>", Text: "My printer is on fire.",
		Attachments: []string{"photo.jpg"}, Deadlines: []string{"first response due Mon, 23 Nov 2026 13:00 UTC"},
		NoteAddress: "support+1042-note-0123456789ab@example.com", Team: "Example Support",
		Risk: "high", RiskWords: []string{"risk_words: go public (3)"}, PRAlerted: true}
	sampleRelayed = RelayedData{Case: 1042, Subject: "Printer on fire", Text: "Unplug it.", StaffName: "Alice", Team: "Example Support", Resolved: true}
	sampleStatus  = StatusData{Case: 1042, Subject: "Printer on fire", Status: "open",
		ReceivedAt:      NewMoment(sampleNow.Add(-26*time.Hour), sampleZone, sampleNow),
		LastStaffAction: "replied", LastStaffActionAt: NewMoment(sampleNow.Add(-25*time.Hour), sampleZone, sampleNow),
		AnswerBy: NewMoment(sampleNow.Add(3*time.Hour), sampleZone, sampleNow), Assigned: true, Assignee: "Alice", Team: "Example Support"}
	sampleCommandError  = CommandErrorData{Case: 1042, Subject: "Printer on fire", Errors: []string{`line 1: unknown command "#reslove"`}, Team: "Example Support"}
	sampleNotAuthorised = NotAuthorisedData{Case: 1042, Subject: "Printer on fire", From: "alice@example.com", Reasons: []string{"no proof of origin"}, Team: "Example Support"}
	sampleEscalation    = EscalationData{Case: 1042, Subject: "Printer on fire", Customer: "ada@customer.example", Status: "open", Priority: "urgent", By: "alice@example.com", Text: "It is still burning.", Team: "Example Support"}
)
