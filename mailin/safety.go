package mailin

import (
	"casegate/vocab"
	"fmt"
	"regexp"
	"strings"

	"github.com/emersion/go-message/mail"
)

// MaxHops is the number of Received fields past which a message is taken
// for a mail loop and quarantined (RFC 5321 §6.3 suggests counting them;
// Postfix's hopcount_limit is 50 too).
const MaxHops = 50

// ownMessageID matches the Message-IDs mailout.NewMessageID gives our own
// mail: seeing one as a message's own id means our mail came back.
var ownMessageID = regexp.MustCompile(`^casegate\.[0-9a-f]{24}@`)

// classifySafety completes classify with the loop signs Zammad and Request
// Tracker also check: X-Loop, our own Message-ID coming back, a null
// Return-Path, and too many hops, which quarantines the message.
func classifySafety(in *vocab.Inbound, h mail.Header) {
	why := func(reason string) {
		if !in.Automatic {
			in.Automatic, in.Why = true, reason
		}
	}
	if h.Has("X-Loop") {
		why("X-Loop: " + oneLine(h.Get("X-Loop")))
	}
	if ownMessageID.MatchString(in.MessageID) {
		why("our own Message-ID came back")
	}
	for _, rp := range h.Values("Return-Path") {
		if strings.TrimSpace(rp) == "<>" {
			why("null Return-Path")
		}
	}
	if n := len(h.Values("Received")); n > MaxHops {
		in.Quarantine = fmt.Sprintf("mail loop: %d Received fields (limit %d)", n, MaxHops)
		why("mail loop")
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(validText([]byte(s))), " ")
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}

// storable makes every text field of in valid UTF-8 without NULs, so that
// no header a sender writes can make filing fail (PostgreSQL text rejects
// both): a message that cannot be stored would be answered 451 for ever.
func storable(in *vocab.Inbound) {
	clean := func(s *string) { *s = validText([]byte(*s)) }
	clean(&in.MessageID)
	clean(&in.From.Address)
	clean(&in.From.Name)
	clean(&in.Subject)
	clean(&in.Why)
	clean(&in.Quarantine)
	for _, list := range [][]string{in.Problems, in.InReplyTo, in.References} {
		for i := range list {
			clean(&list[i])
		}
	}
	for i := range in.Attachments {
		clean(&in.Attachments[i].ContentType)
	}
	if in.MessageID == "" {
		in.MessageID = syntheticMessageID(in.Raw)
	}
}
