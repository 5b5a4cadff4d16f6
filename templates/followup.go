package templates

import "time"

// Resolution follow-ups (issue 6): the customer is told of the resolution,
// later asked whether it is fixed and for a rating, and thanked for it.
const (
	Resolution   Kind = "resolution"    // FollowupData
	Followup     Kind = "followup"      // FollowupData
	RatingThanks Kind = "rating-thanks" // FollowupData
	// DeliveryFailure tells staff that a mail could not be delivered.
	DeliveryFailure Kind = "delivery-failure" // DeliveryFailureData
)

// DeliveryFailureData is what the delivery-failure notice to staff is
// rendered from.
type DeliveryFailureData struct {
	Case      int64  // 0 when the mail belonged to no case
	Subject   string // the case's subject
	Recipient string // who did not get it
	MessageID string // of the mail that failed
	Error     string // the relay's last answer
	Team      string
}

var sampleDeliveryFailure = DeliveryFailureData{Case: 1042, Subject: "Printer on fire", Recipient: "ada@customer.example",
	MessageID: "casegate.0123@support.example.com", Error: "550 5.1.1 user unknown", Team: "Example Support"}

// FollowupData is what the resolution notice, the follow-up and the rating
// thanks are rendered from.
type FollowupData struct {
	Case         int64  // case number
	Subject      string // the case's subject, without our tag
	CustomerName string // may be empty
	Team         string // signature
	Score        int    // the rating given, 1–5 (rating thanks only)
	Reopened     bool   // the answer reopened the case (rating thanks only)
	// ResolvedAt is when the case was resolved (the follow-up says "3 days
	// ago"); nil when not known.
	ResolvedAt *Moment
}

var sampleFollowup = FollowupData{Case: 1042, Subject: "Printer on fire", CustomerName: "Ada", Team: "Example Support", Score: 2, Reopened: true,
	ResolvedAt: NewMoment(sampleNow.Add(-72*time.Hour), sampleZone, sampleNow)}
