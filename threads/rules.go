package threads

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"casegate/calendar"
	"casegate/vocab"
)

// ParseRisk reads a risk level.
func ParseRisk(s string) (vocab.Risk, error) {
	switch r := vocab.Risk(strings.ToLower(strings.TrimSpace(s))); r {
	case vocab.RiskNone, vocab.RiskMedium, vocab.RiskHigh:
		return r, nil
	}
	return "", fmt.Errorf("%w: %q (use none, medium or high)", ErrBadRule, s)
}

// When is the timer condition of a rule: what its deadline counts from.
type When string

// Timer conditions of rules.
const (
	// WhenOpened counts from the opening of the case: with After "0s" the
	// rule fires as soon as its other conditions hold.
	WhenOpened When = "opened"
	// WhenNoStaffReply counts from the customer's first mail that staff
	// have not answered yet (the opening mail, or the first after staff
	// last acted); it is met, and the deadline cleared, when staff act.
	WhenNoStaffReply When = "no_staff_reply"
	// WhenUnresolved counts from the opening of the case until it is
	// resolved or closed.
	WhenUnresolved When = "unresolved"
	// WhenCustomerMessages fires when Count customer mails are unanswered,
	// After past the Count-th.
	WhenCustomerMessages When = "customer_messages_at_least"
)

// ActionKind names what a rule does when it fires.
type ActionKind string

// Rule actions.
const (
	ActionCCPR         ActionKind = "cc_pr"         // digest to the PR mailbox, which joins the case
	ActionNotify       ActionKind = "notify"        // digest to an address
	ActionPriority     ActionKind = "priority"      // raise the priority
	ActionHoldingReply ActionKind = "holding_reply" // tell the customer it has been escalated
)

// Action is one action of a rule.
type Action struct {
	Kind     ActionKind
	Address  string         // notify
	Priority vocab.Priority // priority
}

func (a Action) String() string {
	switch a.Kind {
	case ActionNotify:
		return "notify:" + a.Address
	case ActionPriority:
		return "priority:" + string(a.Priority)
	}
	return string(a.Kind)
}

// ErrBadRule means a rule cannot be used as written.
var ErrBadRule = errors.New("threads: bad escalation rule")

// ParseAction reads "cc_pr", "notify:<address>", "priority:<level>" or
// "holding_reply".
func ParseAction(s string) (Action, error) {
	kind, arg, _ := strings.Cut(strings.TrimSpace(s), ":")
	switch ActionKind(kind) {
	case ActionCCPR, ActionHoldingReply:
		if arg != "" {
			return Action{}, fmt.Errorf("%w: action %q takes no argument", ErrBadRule, s)
		}
		return Action{Kind: ActionKind(kind)}, nil
	case ActionNotify:
		a, err := mail.ParseAddress(arg)
		if err != nil {
			return Action{}, fmt.Errorf("%w: action %q: %v", ErrBadRule, s, err)
		}
		return Action{Kind: ActionNotify, Address: strings.ToLower(a.Address)}, nil
	case ActionPriority:
		p, err := vocab.ParsePriority(arg)
		if err != nil {
			return Action{}, fmt.Errorf("%w: action %q: %v", ErrBadRule, s, err)
		}
		return Action{Kind: ActionPriority, Priority: p}, nil
	}
	return Action{}, fmt.Errorf("%w: unknown action %q (use cc_pr, notify:<address>, priority:<level>, holding_reply)", ErrBadRule, s)
}

// Rule is one escalation rule: conditions on the case, a timer, actions.
// Empty conditions match any case.
type Rule struct {
	Name     string
	Category vocab.Category   // "" = any
	Risk     vocab.Risk       // at least this risk; "" = any
	Priority vocab.Priority   // exactly; "" = any
	Status   vocab.CaseStatus // exactly; "" = any
	When     When
	Count    int           // WhenCustomerMessages: how many unanswered mails
	After    time.Duration // business time on Calendar
	Calendar *calendar.Calendar
	Actions  []Action
}

// Validate checks one rule on its own.
func (r *Rule) Validate() error {
	if r.Name == "" {
		return fmt.Errorf("%w: a rule needs a name", ErrBadRule)
	}
	switch r.Category {
	case "", vocab.CategoryCustomer, vocab.CategoryJournalist, vocab.CategoryVIP:
	default:
		return fmt.Errorf("%w: rule %q: category %q (use customer, journalist or vip)", ErrBadRule, r.Name, r.Category)
	}
	if r.Risk != "" {
		if _, err := ParseRisk(string(r.Risk)); err != nil {
			return fmt.Errorf("rule %q: %w", r.Name, err)
		}
	}
	if r.Priority != "" {
		if _, err := vocab.ParsePriority(string(r.Priority)); err != nil {
			return fmt.Errorf("rule %q: %w", r.Name, err)
		}
	}
	if r.Status != "" {
		if _, ok := allowed[r.Status]; !ok {
			return fmt.Errorf("%w: rule %q: status %q", ErrBadRule, r.Name, r.Status)
		}
	}
	switch r.When {
	case WhenOpened, WhenNoStaffReply, WhenUnresolved:
		if r.Count != 0 {
			return fmt.Errorf("%w: rule %q: count applies only to when = %q", ErrBadRule, r.Name, WhenCustomerMessages)
		}
	case WhenCustomerMessages:
		if r.Count < 1 {
			return fmt.Errorf("%w: rule %q: count must be at least 1", ErrBadRule, r.Name)
		}
	default:
		return fmt.Errorf("%w: rule %q: when %q (use opened, no_staff_reply, unresolved or customer_messages_at_least)", ErrBadRule, r.Name, r.When)
	}
	if r.After < 0 {
		return fmt.Errorf("%w: rule %q: after must not be negative", ErrBadRule, r.Name)
	}
	if len(r.Actions) == 0 {
		return fmt.Errorf("%w: rule %q: no actions", ErrBadRule, r.Name)
	}
	return nil
}

// CaseState is what rules look at.
type CaseState struct {
	Status           vocab.CaseStatus
	Priority         vocab.Priority
	Category         vocab.Category
	Risk             vocab.Risk
	OpenedAt         time.Time
	StaffRespondedAt time.Time   // zero: staff never acted
	Unanswered       []time.Time // customer mails since staff last acted, oldest first
}

// Deadline is when a rule fires on a case, and the cycle it belongs to: a
// rule fires at most once per (case, rule, Since).
type Deadline struct {
	Rule  string    `json:"rule"`
	Since time.Time `json:"since"`
	Due   time.Time `json:"due"`
}

// Plan returns the deadlines rules set on a case in state st, in rule
// order. It is a pure function: the same state gives the same deadlines.
func Plan(rules []Rule, st CaseState) []Deadline {
	var out []Deadline
	for i := range rules {
		if d, ok := planRule(&rules[i], st); ok {
			out = append(out, d)
		}
	}
	return out
}

func planRule(r *Rule, st CaseState) (Deadline, bool) {
	if r.Category != "" && r.Category != st.Category ||
		r.Risk != "" && st.Risk.Rank() < r.Risk.Rank() ||
		r.Priority != "" && r.Priority != st.Priority ||
		r.Status != "" && r.Status != st.Status {
		return Deadline{}, false
	}
	waitingOnStaff := st.Status == vocab.StatusNew || st.Status == vocab.StatusOpen
	unresolved := waitingOnStaff || st.Status == vocab.StatusPending
	d := Deadline{Rule: r.Name}
	switch r.When {
	case WhenOpened:
		if !unresolved {
			return d, false
		}
		d.Since, d.Due = st.OpenedAt, r.Calendar.Add(st.OpenedAt, r.After)
	case WhenUnresolved:
		if !unresolved {
			return d, false
		}
		d.Since, d.Due = st.OpenedAt, r.Calendar.Add(st.OpenedAt, r.After)
	case WhenNoStaffReply:
		if !waitingOnStaff || len(st.Unanswered) == 0 {
			return d, false
		}
		d.Since, d.Due = st.Unanswered[0], r.Calendar.Add(st.Unanswered[0], r.After)
	case WhenCustomerMessages:
		if !waitingOnStaff || len(st.Unanswered) < r.Count {
			return d, false
		}
		d.Since, d.Due = st.Unanswered[0], r.Calendar.Add(st.Unanswered[r.Count-1], r.After)
	default:
		return d, false
	}
	return d, true
}

// Describe says in words when r fires, for events, digests and
// `casegate rules check`.
func (r *Rule) Describe() string {
	var cond []string
	if r.Category != "" {
		cond = append(cond, "category is "+string(r.Category))
	}
	if r.Risk != "" {
		cond = append(cond, "risk is "+string(r.Risk)+" or higher")
	}
	if r.Priority != "" {
		cond = append(cond, "priority is "+string(r.Priority))
	}
	if r.Status != "" {
		cond = append(cond, "status is "+string(r.Status))
	}
	var timer string
	after := r.After.String()
	if r.Calendar != nil {
		after += " of business time (" + r.Calendar.Name() + ")"
	}
	switch r.When {
	case WhenOpened:
		timer = "the case opened"
		if r.After > 0 {
			timer = after + " after the case opened"
		}
	case WhenNoStaffReply:
		timer = "no staff reply " + after + " after the customer's unanswered mail"
	case WhenUnresolved:
		timer = "unresolved " + after + " after the case opened"
	case WhenCustomerMessages:
		timer = fmt.Sprintf("%d unanswered customer mails, %s after the last of them", r.Count, after)
	}
	if len(cond) == 0 {
		return timer
	}
	return strings.Join(cond, ", ") + "; " + timer
}

// checkRules validates rules together: each valid, names unique.
func checkRules(rules []Rule, pr string) error {
	seen := make(map[string]bool)
	for i := range rules {
		if err := rules[i].Validate(); err != nil {
			return err
		}
		if seen[rules[i].Name] {
			return fmt.Errorf("%w: rule name %q used twice", ErrBadRule, rules[i].Name)
		}
		seen[rules[i].Name] = true
		for _, a := range rules[i].Actions {
			if a.Kind == ActionCCPR && pr == "" {
				return fmt.Errorf("%w: rule %q: cc_pr needs a PR address", ErrBadRule, rules[i].Name)
			}
		}
	}
	return nil
}

// changesCase reports whether firing r changes what rules look at.
func (r *Rule) changesCase() bool {
	for _, a := range r.Actions {
		if a.Kind == ActionPriority {
			return true
		}
	}
	return false
}
