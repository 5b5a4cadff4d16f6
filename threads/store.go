// Package threads owns cases: it decides which case a message belongs to
// (reply token, then In-Reply-To/References, then subject tag, else a new
// case), applies the change, records every decision as an event, and queues
// the mail the change causes through mailout in the same transaction.
package threads

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"casegate/internal/sqlfile"
	"casegate/mailout"
	"casegate/templates"
)

//go:embed queries.sql
var queriesSQL string

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

// Inbound is one received message, parsed and classified by mailin, ready
// to be filed.
type Inbound struct {
	Raw          []byte    // exactly as received
	BodySHA256   []byte    // hash of the body, with MessageID the exactly-once key
	Source       string    // "smtp", "imap:<account>/<mailbox>", …
	EnvelopeFrom string    // MAIL FROM; "" for the null path
	Recipients   []string  // RCPT TO (or the mailbox's address for IMAP)
	ReceivedAt   time.Time // when we took it

	MessageID  string       // without angle brackets; never empty (mailin synthesises one)
	InReplyTo  []string     // ids in In-Reply-To (normally one)
	References []string     // ids in References, oldest first
	From       mail.Address // the one author
	// To and Cc are the addresses of those header fields, display names
	// decoded (mailin reads them as leniently as From).
	To, Cc  []mail.Address
	Subject string // decoded, valid UTF-8
	Text    string // decoded text body, valid UTF-8
	// NewText is Text without quoted history and signature: what the
	// author added in this message.
	NewText     string
	Attachments []Attachment
	Auth        Authentication // what mailin could prove about the sender
	Automatic   bool           // auto-submitted, bulk, list, bounce: never answered (RFC 3834)
	Why         string         // why Automatic is set, for the case timeline
	Problems    []string       // what could not be parsed or decoded
	// Mail safety (threads/safety.go).
	MultipleFrom bool   // more than one From address: never staff authority
	DSN          *DSN   // the delivery-status report, when the message is one
	Quarantine   string // why the message must not be filed on a case (e.g. a mail loop)
	// Classification by mailin, stored on a new case (escalation rules);
	// empty means customer and no risk.
	Category Category
	Risk     Risk
	Evidence []string // what matched, e.g. "press_domains: example-news.com"
	// Language is the customer's language from Content-Language or
	// Accept-Language ("de-at"), lower case; "" when the mail names none.
	Language string
}

// Attachment is one attached file of a message, decoded.
type Attachment struct {
	Filename    string // sanitised: no path, no control characters, bounded length
	ContentType string
	Size        int    // decoded bytes
	Data        []byte // nil when too large to hold (see Load)
	// Load decodes a large attachment (Data nil) from the raw message
	// again, for the rare path that sends it on (a staff relay).
	Load func() ([]byte, error)
}

// Bytes returns the decoded attachment, loading it when it was not held.
func (a Attachment) Bytes() ([]byte, error) {
	if a.Data != nil || a.Load == nil {
		return a.Data, nil
	}
	return a.Load()
}

// Len is the decoded size.
func (a Attachment) Len() int {
	if a.Data != nil || a.Size == 0 {
		return len(a.Data)
	}
	return a.Size
}

// Authentication is what mailin could prove about a message's sender. A From
// header alone proves nothing (DESIGN.md, "Who is staff?").
type Authentication struct {
	DKIMAligned bool   // a valid DKIM signature whose d= aligns with the From domain
	DMARCPass   bool   // DMARC pass, ours or from a trusted upstream Authentication-Results
	SMTPAuth    string // SMTP AUTH identity, when the client authenticated
	Trusted     bool   // from a source the admin marks internal (trusted network, trusted mailbox)
	Summary     string // human-readable verdicts, kept with the message
}

// Filed says what filing did with a message.
type Filed struct {
	Case      int64 // case number
	Message   int64 // messages.id of the stored message
	NewCase   bool  // the message opened the case
	Duplicate bool  // the message was filed before; nothing was changed or sent
	// Quarantined: the message was kept in quarantine, on no case (Case may
	// be 0).
	Quarantined bool
	Bounce      int64 // the delivery a bounce reported on; no case was opened
}

// Options configures a Store. Fields other than DB, Templates, Support and
// Secret have documented defaults.
type Options struct {
	DB        *sqlx.DB
	Templates *templates.Set
	Support   mail.Address // the support address and the name mail is sent under
	Secret    []byte       // HMAC key of reply tokens
	Team      string       // signature of automatic mail; default Support.Name, else "Support"
	Now       func() time.Time
	Logger    *slog.Logger
	// AfterCommit runs after a commit that queued mail (e.g. the Sender's
	// Wake). It must not block.
	AfterCommit func()
	// BatchSize is the most messages filed in one transaction while Run is
	// running (group commit); default 64, 1 turns batching off.
	BatchSize int
	// Committers is how many batches may be filed at once; default 16.
	// A batch's filings run one after another on one connection, so more
	// committers let PostgreSQL work on more of them at a time; each still
	// shares its commit with whatever queued while the last one ran.
	Committers int
	// BatchTimeout bounds one shared transaction; default 30 seconds.
	BatchTimeout time.Duration

	// Staff work by mail (staff.go).
	StaffAddresses    []string      // the staff directory at start (Reload replaces it); notifications go here
	ShowNames         bool          // relayed replies carry the staff member's name (never their address)
	AddCCParticipants bool          // addresses the customer copies become participants
	Safety            SafetyOptions // loops, bounces, unproven staff senders

	// Rules are the escalation rules, evaluated in order (see rules.go).
	Rules []Rule
	// PR is the PR mailbox: cc_pr and #escalate bring it in, and it counts
	// as staff; empty for none.
	PR mail.Address
	// Followup is what happens after a resolution (followup.go).
	Followup FollowupOptions
	// DefaultLanguage is the template language for customers whose mail
	// names none; "" for the default files.
	DefaultLanguage string
}

// Store files messages into cases in PostgreSQL.
type Store struct {
	opts        Options
	prepared    map[string]*sqlx.Stmt // by name, after Prepare
	requests    chan fileRequest
	mu          sync.RWMutex // guards running against Run's shutdown
	running     bool
	q           map[string]string
	supportBase string // local part of the support address, before any "+"
	domain      string
	live        atomic.Pointer[Settings] // what SIGHUP may replace (reload.go)
	// Filing transactions' state (deferred.go), by *sqlx.Tx.
	txStates    sync.Map
	readsEvents map[string]bool // queries that must see buffered events
}

// NewStore checks opts and returns a Store.
func NewStore(opts Options) (*Store, error) {
	q, err := sqlfile.Parse(queriesSQL, append([]string{"find-duplicate", "case-exists", "is-participant",
		"open-case", "lock-case", "touch-case", "insert-inbound", "queue-on-case", "add-event", "add-events",
		"set-status", "set-priority", "set-assignee", "case-header",
		// Staff work by mail (staff.go).
		"touch-case-quiet", "add-participant", "participant-role", "relay-recipients",
		"last-customer-message", "last-staff-action",
		"list-cases", "case-participants", "case-messages", "case-events", // cases.go
		"list-quarantine", "get-quarantined", "mark-refiled",
		// Mail safety (safety.go).
		"case-by-message-ids-safe", "bounced-delivery", "deliveries-by-message-id", "mark-bounced", "suppress-address",
		"address-suppressed", "auto-reply-check", "record-capped", "quarantine",
		"case-deadlines"}, append(escalationQueries, append(followupQueries, append(reportQueries, failureQueries...)...)...)...)...)
	if err != nil {
		return nil, fmt.Errorf("threads/queries.sql: %w", err)
	}
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
	if opts.BatchSize == 0 {
		opts.BatchSize = 64
	}
	if opts.Committers == 0 {
		opts.Committers = 16
	}
	if opts.BatchTimeout == 0 {
		opts.BatchTimeout = defaultBatchTimeout
	}
	if opts.Safety.MaxAutoRepliesPerDay == 0 {
		opts.Safety.MaxAutoRepliesPerDay = 5
	}
	if opts.Safety.BounceSuppression == 0 {
		opts.Safety.BounceSuppression = 7 * 24 * time.Hour
	}
	base, _, _ := strings.Cut(local, "+")
	s := &Store{opts: opts, q: q, requests: make(chan fileRequest, 256), supportBase: strings.ToLower(base), domain: strings.ToLower(domain),
		readsEvents: readsEvents(q)}
	s.Reload(Settings{Templates: opts.Templates, Staff: opts.StaffAddresses})
	return s, nil
}

// Prepare checks every query against the database, so a query that does not
// fit the schema stops the gateway at start.
//
// The statements stay prepared for the filing path: PostgreSQL then neither
// parses nor plans them for every message, and each runs in one round trip
// (database/sql prepares them once on each pooled connection).
func (s *Store) Prepare(ctx context.Context) error {
	prepared := make(map[string]*sqlx.Stmt, len(s.q))
	for name, q := range s.q {
		st, err := s.opts.DB.PreparexContext(ctx, q)
		if err != nil {
			for _, p := range prepared {
				p.Close()
			}
			return fmt.Errorf("threads: prepare %s: %w", name, err)
		}
		prepared[name] = st
	}
	s.prepared = prepared
	return nil
}

// row, exec and rows run the named query in tx, prepared when Prepare ran.
// A query that reads events first writes the events tx has buffered.
func (s *Store) row(ctx context.Context, tx *sqlx.Tx, name string, args ...any) *sqlx.Row {
	if s.readsEvents[name] {
		s.flushEvents(ctx, tx) // an error aborts tx, and the query reports it
	}
	if st := s.prepared[name]; st != nil {
		return tx.StmtxContext(ctx, st).QueryRowxContext(ctx, args...)
	}
	return tx.QueryRowxContext(ctx, s.q[name], args...)
}

func (s *Store) exec(ctx context.Context, tx *sqlx.Tx, name string, args ...any) (sql.Result, error) {
	if s.readsEvents[name] {
		if err := s.flushEvents(ctx, tx); err != nil {
			return nil, err
		}
	}
	return s.execNow(ctx, tx, name, args...)
}

func (s *Store) execNow(ctx context.Context, tx *sqlx.Tx, name string, args ...any) (sql.Result, error) {
	if st := s.prepared[name]; st != nil {
		return tx.StmtxContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, s.q[name], args...)
}

func (s *Store) rows(ctx context.Context, tx *sqlx.Tx, name string, args ...any) (*sqlx.Rows, error) {
	if s.readsEvents[name] {
		if err := s.flushEvents(ctx, tx); err != nil {
			return nil, err
		}
	}
	if st := s.prepared[name]; st != nil {
		return tx.StmtxContext(ctx, st).QueryxContext(ctx, args...)
	}
	return tx.QueryxContext(ctx, s.q[name], args...)
}

// ReplyAddress is the address that files a reply on caseID with role.
func (s *Store) ReplyAddress(caseID int64, role Role) string {
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

// File stores in on its case in one transaction: the raw bytes, the case
// change, the events and any mail it causes. It commits before it returns;
// an error means nothing was stored.
func (s *Store) File(ctx context.Context, in *Inbound) (Filed, error) {
	if res, ok := s.fileGrouped(ctx, in); ok {
		return res.filed, res.err
	}
	return s.fileAlone(ctx, in)
}

// fileAlone files in in a transaction of its own.
func (s *Store) fileAlone(ctx context.Context, in *Inbound) (Filed, error) {
	f, queued, err := s.fileTx(ctx, in)
	if isUniqueViolation(err) {
		// A concurrent copy of the same message committed first.
		f, queued, err = s.fileTx(ctx, in)
	}
	if err != nil {
		return Filed{}, fmt.Errorf("file %s: %w", in.MessageID, err)
	}
	if queued && s.opts.AfterCommit != nil {
		s.opts.AfterCommit()
	}
	return f, nil
}

func (s *Store) fileTx(ctx context.Context, in *Inbound) (Filed, bool, error) {
	tx, err := s.opts.DB.BeginTxx(ctx, nil)
	if err != nil {
		return Filed{}, false, err
	}
	defer tx.Rollback()
	defer s.filingTx(tx)()
	f, queued, err := s.fileInTx(ctx, tx, in)
	if err == nil {
		err = s.flushEvents(ctx, tx)
	}
	if err != nil {
		return Filed{}, false, err
	}
	return f, queued, tx.Commit()
}

// fileInTx files one message within tx and reports whether it queued mail.
// A message filed before (same Message-ID and body) changes nothing.
func (s *Store) fileInTx(ctx context.Context, tx *sqlx.Tx, in *Inbound) (f Filed, queued bool, err error) {
	if in.MessageID == "" || len(in.BodySHA256) == 0 {
		return f, false, errors.New("inbound message without Message-ID or body hash")
	}
	err = s.row(ctx, tx, "find-duplicate", in.MessageID, in.BodySHA256).Scan(&f.Case, &f.Message)
	if err == nil {
		f.Duplicate = true
		return f, false, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return f, false, err
	}

	now := s.opts.Now()
	if f, queued, handled, err := s.fileSafety(ctx, tx, in, now); handled || err != nil {
		return f, queued, err
	}
	from := strings.ToLower(in.From.Address)
	caseID, how, err := s.thread(ctx, tx, in)
	if err == nil && caseID == 0 {
		caseID, how, err = s.threadStatusRequest(ctx, tx, in)
	}
	if err != nil {
		return f, false, err
	}
	var r route
	var fr followupReply // an answer to a resolution's follow-up (followup.go)
	if caseID == 0 {
		subject := strings.TrimSpace(in.Subject)
		if subject == "" {
			subject = "(no subject)"
		}
		category, risk := in.classification()
		err := s.row(ctx, tx, "open-case", subject, from, in.From.Name, now, string(category), string(risk), in.Language,
			in.MessageID, in.BodySHA256, in.Raw, in.Source, in.EnvelopeFrom, textArray(in.Recipients), in.Subject, in.Text,
			textArray(in.threadingIDs()), in.Automatic, textArray(in.Problems), in.Auth.Summary).Scan(&caseID, &f.Message)
		if err != nil {
			return f, false, fmt.Errorf("open case: %w", err)
		}
		f.NewCase = true
		s.markOpened(tx, caseID)
	} else {
		if err := s.row(ctx, tx, "lock-case", caseID).Scan(new(string)); err != nil {
			return f, false, fmt.Errorf("lock case %d: %w", caseID, err)
		}
		if r, err = s.route(ctx, tx, caseID, in); err != nil {
			return f, false, err
		}
		if fr, err = s.readFollowupReply(ctx, tx, caseID, in, r); err != nil {
			return f, false, err
		}
		touch := "touch-case"
		if r.keepsStatus(in) || fr.keepsStatus() {
			touch = "touch-case-quiet"
		}
		if _, err := tx.ExecContext(ctx, s.q[touch], caseID, now); err != nil {
			return f, false, fmt.Errorf("update case %d: %w", caseID, err)
		}
	}
	f.Case = caseID

	if !f.NewCase { // open-case stored the first message
		if f.Message, err = s.insertInbound(ctx, tx, caseID, in, now); err != nil {
			return f, false, err
		}
	}
	kind, detail := "received", "threaded by "+how
	if f.NewCase {
		kind, detail = "opened", "new case from "+in.Source
	}
	if err := s.addEvent(ctx, tx, caseID, now, kind, from, f.Message, detail); err != nil {
		return f, false, err
	}
	if err := s.classify(ctx, tx, caseID, in, f.NewCase, now, f.Message); err != nil {
		return f, false, err
	}
	answered, err := s.answerFollowup(ctx, tx, caseID, f.Message, in, fr, now)
	if err != nil {
		return f, false, err
	}
	if f.NewCase {
		// Only the rules: a case opened a moment ago is not resolved and
		// has no follow-up to plan.
		queued, err = s.caseChangedRules(ctx, tx, caseID, now)
	} else {
		queued, err = s.caseChanged(ctx, tx, caseID, now)
	}
	if err != nil {
		return f, false, err
	}

	// On an existing case, workByMail tells staff of an unproven staff
	// claim; a new case has nobody else to do it.
	if f.NewCase {
		told, err := s.checkStaffClaim(ctx, tx, caseID, in, now)
		if err != nil {
			return f, false, err
		}
		queued = queued || told

		var may bool
		var why string
		var notified bool
		if in.Automatic {
			err = s.addEvent(ctx, tx, caseID, now, "not-acknowledged", "casegate", f.Message, "automatic mail is never answered (RFC 3834): "+in.Why)
		} else if may, why, notified, err = s.mayAutoReply(ctx, tx, caseID, in.From.Address, now); err == nil && !may {
			queued = queued || notified
			err = s.addEvent(ctx, tx, caseID, now, "not-acknowledged", "casegate", f.Message, why)
		} else if err == nil {
			err = s.acknowledge(ctx, tx, caseID, in, now)
			queued = queued || err == nil
		}
		if err != nil {
			return f, false, err
		}
	}
	more, err := s.workByMail(ctx, tx, f, in, r, now)
	if err != nil {
		return f, false, err
	}
	return f, queued || more || answered, nil
}

var subjectTag = regexp.MustCompile(`\[#(\d{1,18})\]`)

// thread finds the case in belongs to, or 0 for a new case, and says how.
func (s *Store) thread(ctx context.Context, tx *sqlx.Tx, in *Inbound) (int64, string, error) {
	// 1. A reply token we signed, in a recipient address.
	for _, rcpt := range in.Recipients {
		local, _, _ := strings.Cut(strings.ToLower(rcpt), "@")
		base, detail, hasDetail := strings.Cut(local, "+")
		if !hasDetail || base != s.supportBase {
			continue
		}
		if caseID, _, ok := parseReplyToken(s.opts.Secret, detail); ok {
			err := s.row(ctx, tx, "case-exists", caseID).Scan(&caseID)
			if err == nil {
				return caseID, "reply token", nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return 0, "", err
			}
		}
	}
	// 2. In-Reply-To / References naming a message we stored or sent.
	if ids := in.threadingIDs(); len(ids) > 0 {
		var caseID int64
		err := s.row(ctx, tx, "case-by-message-ids-safe", pq.Array(ids), strings.ToLower(in.From.Address)).Scan(&caseID)
		if err == nil {
			return caseID, "references", nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, "", err
		}
	}
	// 3. A subject tag [#N], when the sender is on case N.
	caseID, err := s.mentionedCase(ctx, tx, subjectTag, in.Subject, in.From.Address)
	if err != nil || caseID == 0 {
		return 0, "", err
	}
	return caseID, "subject tag", nil
}

// mentionedCase returns the first case that re finds in text (its first
// group is the number) and that from is a participant of, or 0: naming a
// case grants nothing to a stranger.
func (s *Store) mentionedCase(ctx context.Context, tx *sqlx.Tx, re *regexp.Regexp, text, from string) (int64, error) {
	for _, m := range re.FindAllStringSubmatch(text, 3) {
		caseID, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			continue
		}
		var ok bool
		if err := s.row(ctx, tx, "is-participant", caseID, strings.ToLower(from)).Scan(&ok); err != nil {
			return 0, err
		}
		if ok {
			return caseID, nil
		}
	}
	return 0, nil
}

// acknowledge queues the acknowledgement of a new case, threaded under the
// customer's message (RFC 3834 §3: Auto-Submitted, In-Reply-To, References).
func (s *Store) acknowledge(ctx context.Context, tx *sqlx.Tx, caseID int64, in *Inbound, now time.Time) error {
	text, err := s.settings().Templates.RenderLang(in.acknowledgementKind(), s.language(in.Language), templates.AcknowledgementData{
		Case:         caseID,
		Subject:      stripSubjectPrefixes(in.Subject),
		CustomerName: in.From.Name,
		Team:         s.opts.Team,
	})
	if err != nil {
		return err
	}
	cc, err := s.prCopies(ctx, tx, caseID)
	if err != nil {
		return err
	}
	m := s.automaticMail(caseID, RoleCustomer, mailout.AutoReplied, text)
	m.To, m.Cc = []mail.Address{{Name: in.From.Name, Address: in.From.Address}}, cc
	m.InReplyTo, m.References = in.MessageID, in.replyReferences()
	msgRow, err := s.enqueueOnCase(ctx, tx, caseID, m, []string{in.MessageID}, true, now)
	if err != nil {
		return fmt.Errorf("store acknowledgement: %w", err)
	}
	return s.addEvent(ctx, tx, caseID, now, "acknowledged", "casegate", msgRow, "to "+in.From.Address)
}

// enqueueOnCase queues m for delivery and files it on caseID as an
// outbound message answering parents, in one round trip; it returns the
// message row. automatic marks the row as mail no person wrote.
func (s *Store) enqueueOnCase(ctx context.Context, tx *sqlx.Tx, caseID int64, m *mailout.Message, parents []string, automatic bool, now time.Time) (int64, error) {
	raw, rcpts, err := mailout.Render(m, now)
	if err != nil {
		return 0, err
	}
	var row int64
	err = s.row(ctx, tx, "queue-on-case", caseID, m.MessageID, raw, m.Auto != mailout.Human, now, pq.Array(rcpts),
		s.opts.Support.Address, m.Subject, m.Text, textArray(parents), automatic).Scan(&row)
	if err != nil {
		return 0, fmt.Errorf("enqueue %s: %w", m.MessageID, err)
	}
	return row, nil
}

func (s *Store) addEvent(ctx context.Context, tx *sqlx.Tx, caseID int64, at time.Time, kind, actor string, message int64, detail string) error {
	if b := s.eventBuffer(tx); b != nil {
		b.add(caseID, at, kind, actor, message, detail)
		return nil
	}
	var msg sql.NullInt64
	if message != 0 {
		msg = sql.NullInt64{Int64: message, Valid: true}
	}
	if _, err := s.exec(ctx, tx, "add-event", caseID, at, kind, actor, msg, detail); err != nil {
		return fmt.Errorf("add %s event: %w", kind, err)
	}
	return nil
}

var replyPrefix = regexp.MustCompile(`(?i)^\s*((re|fwd?|aw|wg|sv|vs)\s*(\[\d+\])?\s*:\s*)+`)

// stripSubjectPrefixes removes "Re:", "Fwd:" and their common translations
// and our own case tag, so a subject is not repeated as "Re: Re: …".
func stripSubjectPrefixes(s string) string {
	s = subjectTag.ReplaceAllString(s, "")
	s = replyPrefix.ReplaceAllString(s, "")
	s = strings.TrimSpace(s)
	if s == "" {
		return "(no subject)"
	}
	return s
}

// replyReferences is the References header of a reply to in (RFC 5322
// §3.6.4): in's References (or else its In-Reply-To), then its id.
func (in *Inbound) replyReferences() []string {
	refs := append([]string(nil), in.References...)
	if len(refs) == 0 {
		refs = append(refs, in.InReplyTo...)
	}
	return append(refs, in.MessageID)
}

// threadingIDs lists the ids a message answers, most relevant first:
// In-Reply-To, then References from the newest.
func (in *Inbound) threadingIDs() []string {
	ids := append([]string(nil), in.InReplyTo...)
	for i := len(in.References) - 1; i >= 0; i-- {
		ids = append(ids, in.References[i])
	}
	return ids
}

// textArray passes s as a text[]; nil becomes '{}', not NULL.
func textArray(s []string) any {
	if s == nil {
		s = []string{}
	}
	return pq.Array(s)
}

func isUniqueViolation(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23505"
}
