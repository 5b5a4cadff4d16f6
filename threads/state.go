package threads

import (
	"encoding/json"
	"strings"
	"time"

	"casegate/vocab"
)

// caseState is one case as a decision sees it: its row, its participants,
// its pending timers, the escalation cycles that fired, and the
// bookkeeping decisions keep in cases.state. One statement reads it
// (casegate_case_state in schema.sql); a plan writes back the whole
// changed state, guarded by Version.
type caseState struct {
	ID               int64            `json:"id"`
	Version          int64            `json:"version"`
	Subject          string           `json:"subject"`
	Status           vocab.CaseStatus `json:"status"`
	Priority         vocab.Priority   `json:"priority"`
	Category         vocab.Category   `json:"category"`
	Risk             vocab.Risk       `json:"risk"`
	Customer         string           `json:"customer"` // lower case
	Assignee         string           `json:"assignee"`
	Language         string           `json:"language"`
	TimeZone         string           `json:"timezone"` // of mail to the customer; "" for the configured zone
	OpenedAt         time.Time        `json:"opened_at"`
	UpdatedAt        time.Time        `json:"updated_at"`
	ResolvedAt       time.Time        `json:"resolved_at"` // zero: not resolved
	ClosedAt         time.Time        `json:"closed_at"`
	StaffRespondedAt time.Time        `json:"staff_responded_at"` // zero: staff never acted
	MergedInto       int64            `json:"merged_into"`
	Participants     []participant    `json:"participants"`
	Timers           []Deadline       `json:"timers"`
	Fired            []cycle          `json:"fired"`
	Book             bookkeeping      `json:"state"`
}

// participant is an address on a case.
type participant struct {
	Address    string                `json:"address"`
	Name       string                `json:"name"`
	Role       vocab.ParticipantRole `json:"role"`
	NoFollowup bool                  `json:"no_followup"`
}

// cycle is one firing of a rule: a rule fires at most once per case and
// cycle (the escalations key).
type cycle struct {
	Rule  string    `json:"rule"`
	Since time.Time `json:"since"`
}

// bookkeeping is what decisions remember about a case beyond its columns,
// stored as cases.state: kept up to date by every plan, so that a decision
// reads it in the case's one row instead of recomputing it from messages
// and events.
type bookkeeping struct {
	// Unanswered holds when the customer side's new words arrived since
	// staff last responded, oldest first: what no_staff_reply and
	// customer_messages_at_least count. Status questions, automatic mail,
	// ratings and thanks are not new words.
	Unanswered []time.Time `json:"unanswered,omitempty"`
	// CustomerWrote: the customer sent a mail a person wrote (RFC 3834:
	// only such a customer gets automatic mail on the case).
	CustomerWrote bool `json:"customer_wrote,omitempty"`
	// CustomerThread lists Message-IDs the customer has (her mail and what
	// casegate sent her), oldest first: mail to her threads under them.
	CustomerThread []string `json:"customer_thread,omitempty"`
	// StaffThread lists the Message-IDs of mail to staff about the case,
	// the first notification first: every later one threads under it.
	StaffThread []string `json:"staff_thread,omitempty"`
	// LastStaffAction is what status replies tell: staff's last visible action.
	LastStaffAction *staffAction `json:"last_staff_action,omitempty"`
	// AutoAnswers holds when automatic answers went out on this case in the
	// last 24 hours (the per-case cap).
	AutoAnswers []time.Time `json:"auto_answers,omitempty"`
	// HoldingReplies lists the deadlines ("rule@since") that got a holding
	// reply: at most one per deadline.
	HoldingReplies []string `json:"holding_replies,omitempty"`
	// PromisedBy is when the last holding reply said she will hear back;
	// zero once staff answered. No second holding reply repeats it.
	PromisedBy time.Time `json:"promised_by,omitzero"`
	// RiskWords is what raised the risk (classification evidence), shown to
	// staff on every later mail of the case.
	RiskWords []string `json:"risk_words,omitempty"`
	// PRAlerted is when PR was first brought in (a rule's cc_pr, #escalate).
	PRAlerted time.Time `json:"pr_alerted,omitzero"`
	// FollowupAsked is when the follow-up of the resolution at ResolvedAt
	// was asked (or skipped); zero while not yet.
	FollowupAsked time.Time `json:"followup_asked,omitzero"`
	// MergedFrom lists the cases merged into this one.
	MergedFrom []int64 `json:"merged_from,omitempty"`
}

// staffAction is one visible action of staff, for status replies.
type staffAction struct {
	Kind string    `json:"kind"` // replied, changed-status, changed-priority, took-case, acted (the status template words them)
	At   time.Time `json:"at"`
}

// clone returns a copy of c that a decision may change without touching c.
func (c *caseState) clone() *caseState {
	d := *c
	d.Participants = append([]participant(nil), c.Participants...)
	d.Timers = append([]Deadline(nil), c.Timers...)
	d.Fired = append([]cycle(nil), c.Fired...)
	b, _ := json.Marshal(c.Book)
	d.Book = bookkeeping{}
	json.Unmarshal(b, &d.Book)
	return &d
}

// participant returns the participant with address addr, or nil.
func (c *caseState) participant(addr string) *participant {
	addr = strings.ToLower(addr)
	for i := range c.Participants {
		if c.Participants[i].Address == addr {
			return &c.Participants[i]
		}
	}
	return nil
}

// role is addr's role on the case, "" for none.
func (c *caseState) role(addr string) vocab.ParticipantRole {
	if p := c.participant(addr); p != nil {
		return p.Role
	}
	return ""
}

// customerSide reports whether addr is the customer or someone she copied.
func (c *caseState) customerSide(addr string) bool {
	r := c.role(addr)
	return r == vocab.ParticipantCustomer || r == vocab.ParticipantCC
}

// customerName is the customer's display name, "" when unknown.
func (c *caseState) customerName() string {
	if p := c.participant(c.Customer); p != nil {
		return p.Name
	}
	return ""
}

// withRole lists the participants with role, oldest first.
func (c *caseState) withRole(role vocab.ParticipantRole) []participant {
	var out []participant
	for _, p := range c.Participants {
		if p.Role == role {
			out = append(out, p)
		}
	}
	return out
}

// fired reports whether the rule's cycle since fired before.
func (c *caseState) fired(rule string, since time.Time) bool {
	for _, f := range c.Fired {
		if f.Rule == rule && f.Since.Equal(since) {
			return true
		}
	}
	return false
}

// ruleState is what the escalation rules look at.
func (c *caseState) ruleState() CaseState {
	return CaseState{Status: c.Status, Priority: c.Priority, Category: c.Category, Risk: c.Risk,
		OpenedAt: c.OpenedAt, StaffRespondedAt: c.StaffRespondedAt, Unanswered: c.Book.Unanswered}
}

// keepRecent trims a thread list to its root and its newest entries: some
// servers refuse very long References headers.
func keepRecent(ids []string, n int) []string {
	if len(ids) <= n {
		return ids
	}
	return append([]string{ids[0]}, ids[len(ids)-n+1:]...)
}

// threadHeaders returns In-Reply-To and References for a mail that
// continues the thread ids (oldest first).
func threadHeaders(ids []string) (string, []string) {
	if len(ids) == 0 {
		return "", nil
	}
	return ids[len(ids)-1], keepRecent(ids, 20)
}

// addressState is what a snapshot knows of an address casegate may write to.
type addressState struct {
	AutoAnswers24h int    `json:"auto_answers"` // automatic answers sent to it in the last 24 hours
	Suppressed     string `json:"suppressed"`   // the vocab.DSN status of a hard bounce still in force, "" for none
	CappedToday    bool   `json:"capped_today"` // staff were told today that it reached the cap
}
