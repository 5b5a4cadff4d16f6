package vocab

import (
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
)

// Inbound is one received message, parsed, authenticated and classified by
// mailin, ready to be filed by threads.
type Inbound struct {
	Raw          []byte    // exactly as received
	BodySHA256   []byte    // hash of the body, with MessageID the exactly-once key
	Source       string    // "smtp", "lmtp", "imap:<account>/<mailbox>", …
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
	// NewText is Text without quoted history: what the author added in
	// this message, signature included.
	NewText string
	// Signature is the author's signature at the end of NewText ("-- "
	// and what follows, a closing with name, title and phone lines,
	// "Sent from my iPhone"), exactly as it ends NewText; "" when none
	// was found. A staff reply is relayed without it.
	Signature   string
	Attachments []Attachment
	Auth        Authentication // what mailin could prove about the sender
	Automatic   bool           // auto-submitted, bulk, list, bounce: never answered (RFC 3834)
	Why         string         // why Automatic is set, for the case timeline
	Problems    []string       // what could not be parsed or decoded
	// Mail safety.
	MultipleFrom bool   // more than one From address: never staff authority
	DSN          *DSN   // the delivery-status report, when the message is one
	Quarantine   string // why the message must not be filed on a case (e.g. a mail loop)
	// Classification by mailin, stored on a new case (escalation rules);
	// empty means customer and no risk.
	Category Category
	Risk     Risk
	Evidence []string // what matched, e.g. "press_domains: example-news.com"
	// Languages are the author's languages, most preferred first, lower
	// case ("de-at"): Content-Language, then Accept-Language by q-value,
	// else the language detected in the text; empty when none is known. A
	// new case writes to its customer in the first of them the templates
	// have (templates.Set.Choose).
	Languages []string
	// Date is the message's Date header with the writer's UTC offset;
	// zero when missing or unreadable. A new case takes its time zone
	// from it when the offset differs from the configured zone's.
	Date time.Time
}

// Unsigned is NewText without the author's signature: what a staff reply
// relays, and where commands and a "status" request are read ("status"
// above "Sent from my iPhone" still asks).
func (in *Inbound) Unsigned() string {
	if in.Signature == "" {
		return in.NewText
	}
	return strings.TrimRight(strings.TrimSuffix(in.NewText, in.Signature), " \t\r\n")
}

// Classification is the category and risk mailin found, with the defaults
// (customer, no risk) for none.
func (in *Inbound) Classification() (Category, Risk) {
	category, risk := in.Category, in.Risk
	if category == "" {
		category = CategoryCustomer
	}
	if risk == "" {
		risk = RiskNone
	}
	return category, risk
}

// ThreadingIDs lists the ids a message answers, most relevant first:
// In-Reply-To, then References from the newest.
func (in *Inbound) ThreadingIDs() []string {
	ids := append([]string(nil), in.InReplyTo...)
	for i := len(in.References) - 1; i >= 0; i-- {
		ids = append(ids, in.References[i])
	}
	return ids
}

// ReplyReferences is the References header of a reply to in (RFC 5322
// §3.6.4): in's References (or else its In-Reply-To), then its id.
func (in *Inbound) ReplyReferences() []string {
	refs := append([]string(nil), in.References...)
	if len(refs) == 0 {
		refs = append(refs, in.InReplyTo...)
	}
	return append(refs, in.MessageID)
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

// Authentication is what mailin could prove about a message's sender. A
// From header alone proves nothing (DESIGN.md, "Who is staff?").
type Authentication struct {
	DKIMAligned bool   // a valid DKIM signature whose d= aligns with the From domain
	DMARCPass   bool   // DMARC pass, ours or from a trusted upstream Authentication-Results
	SMTPAuth    string // SMTP AUTH identity, when the client authenticated
	Trusted     bool   // from a source the admin marks internal (trusted network, trusted mailbox)
	Summary     string // human-readable verdicts, kept with the message
	// Forged says why Authentication-Results fields claiming our
	// authserv-id were removed unread (RFC 8601 §5: no trusted relay added
	// them); "" when there were none. Filing records it on the timeline.
	Forged string
}

// ProvesSender reports whether the verdicts prove the sender: an aligned
// DKIM signature, a DMARC pass, SMTP AUTH or a trusted source.
func (a Authentication) ProvesSender() bool {
	return a.DKIMAligned || a.DMARCPass || a.SMTPAuth != "" || a.Trusted
}

// Proof says in words what proves the sender, or "" for nothing.
func (a Authentication) Proof() string {
	switch {
	case a.SMTPAuth != "":
		return "SMTP AUTH as " + a.SMTPAuth
	case a.DKIMAligned:
		return "aligned DKIM"
	case a.DMARCPass:
		return "DMARC pass"
	case a.Trusted:
		return "trusted source"
	}
	return ""
}

// DSN is the machine-readable part of a delivery-status notification
// (RFC 3464), as mailin read it.
type DSN struct {
	OriginalMessageID string // Message-ID of the mail it reports on, from the returned headers
	Recipients        []DSNRecipient
}

// DSNRecipient is one per-recipient block of a DSN (RFC 3464 §2.3).
type DSNRecipient struct {
	Recipient  string // Final-Recipient (or Original-Recipient), an address
	Action     string // failed, delayed, delivered, relayed, expanded
	Status     string // e.g. 5.1.1
	Diagnostic string // Diagnostic-Code, e.g. "smtp; 550 5.1.1 no such user"
}

// Failed reports whether the block reports a permanent failure.
func (r DSNRecipient) Failed() bool {
	return strings.EqualFold(r.Action, "failed") || r.Action == "" && strings.HasPrefix(r.Status, "5")
}

// HasFailure reports whether any block of d reports a failure.
func (d *DSN) HasFailure() bool {
	for _, r := range d.Recipients {
		if r.Failed() {
			return true
		}
	}
	return false
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
