// Package threads owns cases. Filing one message is decide, then write:
// one statement reads the snapshot the decision needs (snapshot.go),
// plain Go decides everything — which case, staff authority, caps,
// escalation, the follow-up, which mails to send — into a plan
// (decide*.go), and one statement writes the plan (write.go). A committer
// writes the plans of every message waiting at that moment together and
// only then answers each (committer.go). The mails a plan causes are
// committed with it as intents and rendered afterwards, in batches
// (compose.go). The sweeper (sweeper.go) and the admin commands (admin.go)
// decide with the same code on the same snapshot.
package threads

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate/internal/sqlfile"
	"casegate/mailout"
	"casegate/templates"
	"casegate/vocab"
)

//go:embed queries.sql
var queriesSQL string

// queries are the statements of queries.sql, prepared at start.
type queries struct {
	Snapshot  sqlfile.Query `query:"snapshot"`
	CaseState sqlfile.Query `query:"case-state"`
	Write     sqlfile.Query `query:"write"`
	// After the commit: rendering intents (compose.go).
	ClaimIntents    sqlfile.Query `query:"claim-intents"`
	DigestTimelines sqlfile.Query `query:"digest-timelines"`
	DigestMessages  sqlfile.Query `query:"digest-messages"`
	LastCustomer    sqlfile.Query `query:"last-customer-message"`
	MarkRendered    sqlfile.Query `query:"mark-rendered"`
	// The sweeper (sweeper.go).
	ClaimDueTimers sqlfile.Query `query:"claim-due-timers"`
	PostponeTimers sqlfile.Query `query:"postpone-timers"`
	PruneAnswers   sqlfile.Query `query:"prune-auto-answers"`
	CaseOfOutbox   sqlfile.Query `query:"case-of-outbox"`
	RecordFailure  sqlfile.Query `query:"record-failure-notice"`
	MarkRefiled    sqlfile.Query `query:"mark-refiled"`
	CaseHeader     sqlfile.Query `query:"case-header"`
	GetQuarantined sqlfile.Query `query:"get-quarantined"`
}

// Options configures a Store. Fields other than DB, Templates, Outbox,
// Support and Secret have documented defaults.
type Options struct {
	DB        *sqlx.DB
	Templates *templates.Set
	// Outbox is where rendered mail goes (mailout owns it).
	Outbox  *mailout.Outbox
	Support mail.Address // the support address and the name mail is sent under
	// Domains are the domains mail for the support mailbox arrives at
	// ([smtp] domains): support@ and support+…@ at each is casegate's own
	// address, never answered. The support address's domain always is.
	Domains []string
	Secret  []byte // HMAC key of reply tokens and bounce addresses
	// PreviousSecrets are keys rotated out: tokens they signed are
	// recognised as stale (their senders are told), never obeyed.
	PreviousSecrets [][]byte
	// TokenTTL is how long after a case is resolved or closed its reply
	// tokens still work; default 30 days.
	TokenTTL time.Duration
	Team     string // signature of automatic mail; default Support.Name, else "Support"
	Now      func() time.Time
	Logger   *slog.Logger
	// AfterCommit runs after a commit that rendered mail into the outbox
	// (e.g. the Sender's Wake). It must not block.
	AfterCommit func()
	// BatchSize is the most messages written in one statement while Run is
	// running (group commit); default 128, 1 turns batching off.
	BatchSize int
	// Committers is how many batches may be written at once; default 4.
	// Each sender's mail always goes to the same committer, so decisions
	// about one sender (its automatic-answer cap) are taken in order.
	Committers int
	// BatchTimeout bounds one batch's statements; default 30 seconds.
	BatchTimeout time.Duration
	// Attachments reads the attachments of a stored raw message again, for
	// the mails that carry them (staff notifications, relayed replies);
	// mailin's parser in the gateway. nil sends none.
	Attachments func(raw []byte) []vocab.Attachment

	// Staff work by mail.
	StaffAddresses    []string      // the staff directory at start (Reload replaces it); notifications go here
	ShowNames         bool          // relayed replies carry the staff member's name (never their address)
	AddCCParticipants bool          // addresses the customer copies become participants
	Safety            SafetyOptions // loops, bounces, caps
	// ThanksWords are what a bare thank-you says: such a mail needs no
	// answer, reopens nothing and restarts no deadline.
	ThanksWords []string

	// Rules are the escalation rules, evaluated in order (see rules.go).
	Rules []Rule
	// RiskPriority is the priority public-risk wording (risk high) raises a
	// case to; default high, "normal" for none.
	RiskPriority vocab.Priority
	// HoldingReplyWithin is when a holding reply promises an answer:
	// this much business time of the escalating rule's calendar; default
	// 4 hours, negative for no promise.
	HoldingReplyWithin time.Duration
	// PR is the PR mailbox: cc_pr and #escalate bring it in, and it counts
	// as staff; empty for none.
	PR mail.Address
	// Followup is what happens after a resolution.
	Followup FollowupOptions
	// DefaultLanguage is the template language for customers whose mail
	// names none; "" for the default files.
	DefaultLanguage string
	// TimeZone is the zone times in customer mail are shown in, unless
	// the customer's own Date header says otherwise; default UTC.
	TimeZone *time.Location
}

// FollowupOptions configures what happens after a case is resolved; zero
// values are the defaults.
type FollowupOptions struct {
	// Delay after the resolution before the customer is asked whether it
	// is fixed; default 72 hours.
	Delay time.Duration
	// CloseAfter is how long after the follow-up an unanswered resolved
	// case closes; default 168 hours.
	CloseAfter time.Duration
	// ReopenAtOrBelow is the highest rating that reopens the case; default 2.
	ReopenAtOrBelow int
}

func (o FollowupOptions) withDefaults() FollowupOptions {
	if o.Delay <= 0 {
		o.Delay = 72 * time.Hour
	}
	if o.CloseAfter <= 0 {
		o.CloseAfter = 168 * time.Hour
	}
	if o.ReopenAtOrBelow == 0 {
		o.ReopenAtOrBelow = 2
	}
	return o
}

// DefaultThanksWords are the thank-yous Options.ThanksWords defaults to.
var DefaultThanksWords = []string{"thanks", "thank you", "thank you very much", "thanks a lot", "many thanks", "thx", "ty",
	"danke", "vielen dank", "danke schön", "danke sehr", "merci", "gracias", "grazie"}

// Errors of case changes and the read side.
var (
	ErrNoCase            = errors.New("threads: no such case")
	ErrInvalidTransition = errors.New("threads: status change not allowed")
	ErrNotStaff          = errors.New("threads: not in the staff directory")
	ErrBadMerge          = errors.New("threads: cases cannot be merged")
	ErrConflict          = errors.New("threads: the case kept changing; try again")
)

// Store files messages into cases in PostgreSQL.
type Store struct {
	opts        Options
	q           queries
	supportBase string // local part of the support address, before any "+"
	domain      string
	secrets     [][]byte // the current secret first
	ownDomains  map[string]bool
	live        atomic.Pointer[Settings]

	// Group commit (committer.go).
	mu         sync.RWMutex // guards running against Run's shutdown
	running    bool
	committers []chan fileRequest
	// Rendering after the commit (compose.go). composing is set while
	// RunComposer runs in this process; without it, plans ask a running
	// service to render their mail (NOTIFY).
	composeWake chan struct{}
	composing   atomic.Bool
	// filing counts File calls waiting for their commit: while sessions
	// wait for a 250, the composer yields to them (compose.go).
	filing atomic.Int64
}

// NewStore checks opts and returns a Store; Prepare readies its queries.
func NewStore(opts Options) (*Store, error) {
	local, domain, ok := strings.Cut(opts.Support.Address, "@")
	if !ok || local == "" || domain == "" {
		return nil, fmt.Errorf("threads: support address %q is not an address", opts.Support.Address)
	}
	if len(opts.Secret) < 16 {
		return nil, errors.New("threads: reply-token secret must be at least 16 bytes")
	}
	if opts.Templates == nil || opts.DB == nil {
		return nil, errors.New("threads: DB and Templates are required")
	}
	if err := checkRules(opts.Rules, opts.PR.Address); err != nil {
		return nil, err
	}
	if opts.Team == "" {
		opts.Team = opts.Support.Name
	}
	if opts.Team == "" {
		opts.Team = "Support"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Outbox == nil {
		opts.Outbox = mailout.NewOutbox(opts.DB)
	}

	if opts.BatchSize == 0 {
		opts.BatchSize = 128
	}
	if opts.Committers == 0 {
		opts.Committers = 4
	}
	if opts.BatchTimeout == 0 {
		opts.BatchTimeout = 30 * time.Second
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = 30 * 24 * time.Hour
	}
	if opts.Safety.MaxAutoRepliesPerDay == 0 {
		opts.Safety.MaxAutoRepliesPerDay = 5
	}
	if opts.Safety.MaxAutoRepliesPerCase == 0 {
		opts.Safety.MaxAutoRepliesPerCase = 10
	}
	if opts.ThanksWords == nil {
		opts.ThanksWords = DefaultThanksWords
	}
	if opts.RiskPriority == "" {
		opts.RiskPriority = vocab.PriorityHigh
	}
	if opts.HoldingReplyWithin == 0 {
		opts.HoldingReplyWithin = 4 * time.Hour
	}
	base, _, _ := strings.Cut(local, "+")
	s := &Store{opts: opts, supportBase: strings.ToLower(base), domain: strings.ToLower(domain),
		secrets: append([][]byte{opts.Secret}, opts.PreviousSecrets...), composeWake: make(chan struct{}, 1)}
	s.ownDomains = map[string]bool{s.domain: true}
	for _, dom := range opts.Domains {
		s.ownDomains[strings.ToLower(strings.TrimSpace(dom))] = true
	}
	if err := sqlfile.Bind(queriesSQL, &s.q); err != nil {
		return nil, fmt.Errorf("threads/queries.sql: %w", err)
	}
	s.Reload(Settings{Templates: opts.Templates, Staff: opts.StaffAddresses})
	return s, nil
}

// Prepare has PostgreSQL parse and plan every query, so a query that does
// not fit the schema stops the gateway at start; the statements then stay
// prepared.
func (s *Store) Prepare(ctx context.Context) error {
	if err := sqlfile.Prepare(ctx, s.opts.DB, queriesSQL, &s.q); err != nil {
		return fmt.Errorf("threads: %w", err)
	}
	return s.opts.Outbox.Prepare(ctx)
}

// bounceSuppression is how long a hard-bounced address gets nothing
// automatic.
func (o Options) bounceSuppression() time.Duration {
	if o.Safety.BounceSuppression > 0 {
		return o.Safety.BounceSuppression
	}
	return 7 * 24 * time.Hour
}

// ReplyAddress is the address that files a reply on caseID with role.
func (s *Store) ReplyAddress(caseID int64, role vocab.Role) string {
	return replyLocalPart(s.supportBase, s.opts.Secret, caseID, role) + "@" + s.domain
}

// AcceptsRecipient reports whether mail to addr is ours to file: the
// support mailbox or one of its "+detail" forms. Which domains are ours is
// the listener's business (mailin checks them before asking).
func (s *Store) AcceptsRecipient(addr string) bool {
	local, _, ok := strings.Cut(strings.ToLower(addr), "@")
	if !ok {
		return false
	}
	base, _, _ := strings.Cut(local, "+")
	return base == s.supportBase
}

// isStaffIn reports whether addr is in set's staff directory or is the PR
// mailbox.
func (s *Store) isStaffIn(set *Settings, addr string) bool {
	addr = strings.ToLower(strings.TrimSpace(addr))
	for _, a := range set.Staff {
		if a == addr {
			return true
		}
	}
	return addr != "" && s.opts.PR.Address != "" && strings.EqualFold(s.opts.PR.Address, addr)
}

// IsStaff reports whether addr is in the staff directory in force (the PR
// mailbox counts as staff).
func (s *Store) IsStaff(addr string) bool { return s.isStaffIn(s.settings(), addr) }

func (s *Store) rule(name string) *Rule {
	for i := range s.opts.Rules {
		if s.opts.Rules[i].Name == name {
			return &s.opts.Rules[i]
		}
	}
	return nil
}
