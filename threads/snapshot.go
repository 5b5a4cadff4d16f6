package threads

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"casegate/internal/sqlfile"
	"casegate/vocab"
)

// A snapshot is what one decision reads: whether the message was filed
// before, the cases it may belong to, and the addresses casegate may
// answer. The snapshots of a whole batch of messages are read in one
// statement (casegate_snapshot in schema.sql).
type snapshot struct {
	// Duplicate is the filing of an earlier copy (same Message-ID and body).
	Duplicate *vocab.Filed `json:"duplicate"`
	// TokenCase is the case a reply token among the recipients names, when
	// its MAC is ours (fresh or stale: the decision tells).
	TokenCase *caseState `json:"token_case"`
	// Thread is the case In-Reply-To/References, a subject tag or a case
	// number in a status request thread the message to, for this sender.
	Thread    *caseState `json:"thread"`
	ThreadHow string     `json:"thread_how"`
	// Named lists cases the message names (subject tag, case number) that
	// did not thread it: the sender is not a participant.
	Named []int64 `json:"named"`
	// Extra holds cases a staff command names (#merge).
	Extra []*caseState `json:"extra"`
	// Addresses holds what is known of the addresses the decisions of the
	// batch may write to: the senders, the cases' customers, the staff
	// directory (read once for the batch).
	Addresses map[string]addressState `json:"-"`
	// Delivery is the delivery a bounce reports on.
	Delivery *bouncedDelivery `json:"delivery"`

	token tokenClaim // what the recipients' tokens say (parsed before the read)
}

// address returns what the snapshot knows of addr (zero: nothing sent,
// nothing suppressed).
func (sn *snapshot) address(addr string) addressState {
	if sn == nil {
		return addressState{}
	}
	return sn.Addresses[strings.ToLower(addr)]
}

// extra returns the state of case id among the extra cases, or nil.
func (sn *snapshot) extra(id int64) *caseState {
	for _, c := range sn.Extra {
		if c != nil && c.ID == id {
			return c
		}
	}
	return nil
}

// bouncedDelivery is the delivery a bounce names and the case its mail
// belongs to (0 for none).
type bouncedDelivery struct {
	ID        int64  `json:"id"`
	Recipient string `json:"recipient"`
	MessageID string `json:"message_id"`
	Case      int64  `json:"case"`
}

// snapshotRequest is what the snapshot of one message is read from.
type snapshotRequest struct {
	MessageID  string   `json:"message_id"`
	Hash       string   `json:"hash"` // hex
	From       string   `json:"from"`
	Staff      bool     `json:"staff"` // a proven staff sender may thread by what it names
	TokenCase  int64    `json:"token_case"`
	References []string `json:"refs"`
	Tags       []int64  `json:"tags"`     // [#N] in the subject
	Mentions   []int64  `json:"mentions"` // case numbers in a status request or the first lines
	Extra      []int64  `json:"extra"`
	Addresses  []string `json:"addresses"`
	Delivery   int64    `json:"delivery"`     // from a VERP bounce address
	DSNMessage string   `json:"dsn_message"`  // Message-ID a vocab.DSN reports on
	DSNRcpts   []string `json:"dsn_rcpts"`    // its recipients
	Bounce     bool     `json:"bounce_check"` // look up Delivery/DSN at all
}

// tokenClaim is what the reply tokens among a message's recipients say.
type tokenClaim struct {
	Case int64
	// Roles lists every role a token names for Case; Current is false when
	// they were signed with a previous secret only (a rotated key).
	Roles   []vocab.Role
	Current bool
	// Forged is the case a well-formed reply address names whose MAC no
	// key of ours made (forged, mistyped, or signed with a key casegate
	// no longer has): never obeyed, but said on the timelines.
	Forged int64
}

func (t tokenClaim) has(r vocab.Role) bool {
	for _, x := range t.Roles {
		if x == r {
			return true
		}
	}
	return false
}

var (
	subjectTag = regexp.MustCompile(`\[#(\d{1,18})\]`)
	// caseNumberMention is a case number a customer names: "#1042",
	// "case 1042", "Fall 1042".
	caseNumberMention = regexp.MustCompile(`(?i)(?:#|\b(?:case|ticket|fall|vorgang)\s*(?:no\.?|nr\.?|number|#)?\s*)(\d{3,18})\b`)
)

// request builds what the snapshot of in is read from: the tokens are
// verified here (HMAC, no database), the rest is looked up in SQL.
func (s *Store) request(in *vocab.Inbound, set *Settings) (snapshotRequest, tokenClaim) {
	from := strings.ToLower(in.From.Address)
	r := snapshotRequest{
		MessageID: in.MessageID, Hash: hex.EncodeToString(in.BodySHA256), From: from,
		References: nonNil(in.ThreadingIDs()), Tags: numbers(subjectTag, in.Subject, 3),
		Addresses: []string{from},
	}
	r.Staff = s.isStaffIn(set, from) && in.Auth.ProvesSender() && !in.MultipleFrom
	// A case number the sender names in the subject or the first lines
	// of what she wrote joins that case if she is on it.
	r.Mentions = numbers(caseNumberMention, in.Subject+"\n"+firstLines(in.NewText, 3), 3)
	tok := s.readTokens(in.Recipients)
	r.TokenCase = tok.Case
	r.Delivery = s.bounceDelivery(in.Recipients)
	if in.DSN != nil {
		r.DSNMessage = in.DSN.OriginalMessageID
		for _, d := range in.DSN.Recipients {
			r.DSNRcpts = append(r.DSNRcpts, bareAddress(d.Recipient))
		}
	}
	r.Bounce = r.Delivery != 0 || r.DSNMessage != ""
	if cmds := mergeTargets(in.NewText); len(cmds) > 0 && r.Staff {
		r.Extra = cmds
	}
	if tok.Forged != 0 && tok.Case == 0 {
		// Read whether it exists, for its timeline (decide_inbound.go).
		r.Extra = append(r.Extra, tok.Forged)
	}
	r.Addresses = append(r.Addresses, set.Staff...)
	return r, tok
}

// numbers returns up to n case numbers re finds in text (its first group).
func numbers(re *regexp.Regexp, text string, n int) []int64 {
	var out []int64
	for _, m := range re.FindAllStringSubmatch(text, n) {
		if id, err := strconv.ParseInt(m[1], 10, 64); err == nil && id > 0 {
			out = append(out, id)
		}
	}
	return out
}

// firstLines returns the first n non-empty lines of text.
func firstLines(text string, n int) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
			if len(out) == n {
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// readTokens verifies the reply tokens among rcpts: the first case a valid
// token names, with every role named for it.
func (s *Store) readTokens(rcpts []string) tokenClaim {
	var t tokenClaim
	for _, rcpt := range rcpts {
		local, domain, _ := strings.Cut(strings.ToLower(rcpt), "@")
		base, detail, hasDetail := strings.Cut(local, "+")
		if !hasDetail || base != s.supportBase || domain != s.domain {
			continue
		}
		id, role, current, ok := parseReplyToken(s.secrets, detail)
		if !ok && t.Forged == 0 {
			t.Forged = tokenCaseNumber(detail)
		}
		if !ok || t.Case != 0 && id != t.Case {
			continue
		}
		t.Case = id
		t.Roles = append(t.Roles, role)
		t.Current = t.Current || current
	}
	return t
}

// snapshots reads the snapshots of a batch in one statement, as of now.
func (s *Store) snapshots(ctx context.Context, r sqlfile.Runner, reqs []snapshotRequest, now time.Time) ([]*snapshot, error) {
	b, err := json.Marshal(reqs)
	if err != nil {
		return nil, err
	}
	var doc []byte
	if err := s.q.Snapshot.QueryRow(ctx, r, string(b), now, s.opts.Safety.MaxAutoRepliesPerDay).Scan(&doc); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	var got struct {
		Messages  []*snapshot             `json:"messages"`
		Addresses map[string]addressState `json:"addresses"`
	}
	if err := json.Unmarshal(doc, &got); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if len(got.Messages) != len(reqs) {
		return nil, fmt.Errorf("snapshot: %d answers for %d messages", len(got.Messages), len(reqs))
	}
	for _, sn := range got.Messages {
		sn.Addresses = got.Addresses
	}
	return got.Messages, nil
}
