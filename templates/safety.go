package templates

// SafetyNoticeData is what a notice to staff about a mail-safety event is
// rendered from: a bounce, a sender capped for automatic replies, a forged
// staff sender.
type SafetyNoticeData struct {
	Case    int64  // case number, 0 when the event belongs to no case
	Subject string // the case's subject, may be empty
	Event   string // "bounce", "auto-reply-cap" or "forged-staff"
	Address string // the address concerned
	Detail  string // status code and diagnostic, or why
	Team    string // signature
}
