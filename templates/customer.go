package templates

import "time"

// HoldingReplyData is what the holding reply is rendered from: sent to a
// customer whose case went past a deadline or was escalated, so she is not
// left in silence.
type HoldingReplyData struct {
	Case         int64
	Subject      string // the case's subject, without our tag
	CustomerName string // may be empty
	Team         string
	// ReplyBy is when she will hear back, in her zone; nil means "as soon
	// as we can".
	ReplyBy *Moment
	// Late: a deadline passed (the reply apologises); otherwise what she
	// wrote brought in a senior person at once (it thanks her).
	Late bool
}

// MergedData tells a customer that case MergedCase is now part of Case,
// and that Case is the number to use.
type MergedData struct {
	Case         int64  // the case that remains
	MergedCase   int64  // the case that joined it
	Subject      string // the remaining case's subject
	CustomerName string
	Team         string
}

// The sample data is written at a fixed moment in Berlin, so a template
// that prints a time is test-rendered with one.
var (
	sampleZone = time.FixedZone("CET", 3600)
	sampleNow  = time.Date(2026, 11, 30, 10, 0, 0, 0, sampleZone)

	sampleHoldingReply = HoldingReplyData{Case: 1042, Subject: "Printer on fire", CustomerName: "Ada", Team: "Example Support",
		ReplyBy: NewMoment(sampleNow.Add(3*time.Hour), sampleZone, sampleNow)}
	sampleMerged = MergedData{Case: 1042, MergedCase: 1045, Subject: "Printer on fire", CustomerName: "Ada", Team: "Example Support"}
)
