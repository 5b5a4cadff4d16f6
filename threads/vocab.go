package threads

import "casegate/vocab"

// The case vocabulary lives in package vocab, which mailin speaks too.
// These names let threads' own code read as before.
type (
	Inbound         = vocab.Inbound
	Attachment      = vocab.Attachment
	Authentication  = vocab.Authentication
	DSN             = vocab.DSN
	DSNRecipient    = vocab.DSNRecipient
	Filed           = vocab.Filed
	CaseStatus      = vocab.CaseStatus
	Priority        = vocab.Priority
	Category        = vocab.Category
	Risk            = vocab.Risk
	ParticipantRole = vocab.ParticipantRole
	Role            = vocab.Role
)

const (
	StatusNew      = vocab.StatusNew
	StatusOpen     = vocab.StatusOpen
	StatusPending  = vocab.StatusPending
	StatusResolved = vocab.StatusResolved
	StatusClosed   = vocab.StatusClosed

	PriorityLow    = vocab.PriorityLow
	PriorityNormal = vocab.PriorityNormal
	PriorityHigh   = vocab.PriorityHigh
	PriorityUrgent = vocab.PriorityUrgent

	CategoryCustomer   = vocab.CategoryCustomer
	CategoryJournalist = vocab.CategoryJournalist
	CategoryVIP        = vocab.CategoryVIP

	RiskNone   = vocab.RiskNone
	RiskMedium = vocab.RiskMedium
	RiskHigh   = vocab.RiskHigh

	ParticipantCustomer = vocab.ParticipantCustomer
	ParticipantCC       = vocab.ParticipantCC
	ParticipantStaff    = vocab.ParticipantStaff
	ParticipantPR       = vocab.ParticipantPR

	RoleCustomer = vocab.RoleCustomer
	RoleStaff    = vocab.RoleStaff
	RoleNote     = vocab.RoleNote
)

// ParsePriority reads a priority name.
func ParsePriority(s string) (Priority, error) { return vocab.ParsePriority(s) }
