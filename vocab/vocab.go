// Package vocab is the small vocabulary that the inbound side (mailin) and
// the case side (threads) both speak: a parsed, authenticated, classified
// inbound message, and the words of a case — its status, priority,
// category, risk and the roles of the addresses on it. Neither package
// returns the other's types; both return these.
//
// The string types mirror PostgreSQL ENUMs of schema.sql.
package vocab

import (
	"errors"
	"fmt"
	"strings"
)

// CaseStatus mirrors the case_status ENUM.
type CaseStatus string

// Case statuses.
const (
	StatusNew      CaseStatus = "new"
	StatusOpen     CaseStatus = "open"
	StatusPending  CaseStatus = "pending" // waiting on the customer
	StatusResolved CaseStatus = "resolved"
	StatusClosed   CaseStatus = "closed"
)

// Priority mirrors the case_priority ENUM.
type Priority string

// Case priorities, lowest first.
const (
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// ErrBadPriority means a priority name is not one of the four.
var ErrBadPriority = errors.New("unknown priority")

// ParsePriority reads a priority name.
func ParsePriority(s string) (Priority, error) {
	switch p := Priority(strings.ToLower(strings.TrimSpace(s))); p {
	case PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent:
		return p, nil
	}
	return "", fmt.Errorf("%w: %q (use low, normal, high or urgent)", ErrBadPriority, s)
}

// Rank orders priorities: low 0 … urgent 3; an unknown one ranks as normal.
func (p Priority) Rank() int {
	switch p {
	case PriorityLow:
		return 0
	case PriorityHigh:
		return 2
	case PriorityUrgent:
		return 3
	}
	return 1
}

// Category mirrors the case_category ENUM.
type Category string

// Case categories, set by classification when a case opens.
const (
	CategoryCustomer   Category = "customer"
	CategoryJournalist Category = "journalist"
	CategoryVIP        Category = "vip"
)

// Risk mirrors the case_risk ENUM: how likely a dispute is to go public.
type Risk string

// Risk levels, lowest first.
const (
	RiskNone   Risk = "none"
	RiskMedium Risk = "medium"
	RiskHigh   Risk = "high"
)

// Rank orders risks: none 0, medium 1, high 2.
func (r Risk) Rank() int {
	switch r {
	case RiskMedium:
		return 1
	case RiskHigh:
		return 2
	}
	return 0
}

// ErrBadRisk means a risk name is not none, medium or high.
var ErrBadRisk = errors.New("unknown risk")

// ParseRisk reads a risk level.
func ParseRisk(s string) (Risk, error) {
	switch r := Risk(strings.ToLower(strings.TrimSpace(s))); r {
	case RiskNone, RiskMedium, RiskHigh:
		return r, nil
	}
	return "", fmt.Errorf("%w: %q (use none, medium or high)", ErrBadRisk, s)
}

// ParticipantRole mirrors the participant_role ENUM: what an address is to
// a case.
type ParticipantRole string

// Participant roles.
const (
	ParticipantCustomer ParticipantRole = "customer"
	ParticipantCC       ParticipantRole = "cc"
	ParticipantStaff    ParticipantRole = "staff"
	ParticipantPR       ParticipantRole = "pr"
)

// Role is what a reply address (a token in support+<case>-<token>@…) lets
// its user do on a case.
type Role string

// Roles bound into reply tokens.
const (
	RoleCustomer Role = "customer" // the customer's replies
	RoleStaff    Role = "staff"    // staff replies, relayed to the customer
	RoleNote     Role = "note"     // internal notes, never relayed
)
