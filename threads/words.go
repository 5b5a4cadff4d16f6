package threads

import (
	"regexp"
	"strconv"
	"strings"

	"casegate/vocab"
)

// What decisions read in the words of a message: status requests, answers
// to the follow-up, subject prefixes.

// isStatusRequest reports whether in asks for its case's status: the word
// "status" as the whole subject (after "Re:" and the case tag) or as the
// whole new text.
func isStatusRequest(in *vocab.Inbound) bool {
	word := func(s string) bool {
		s = strings.Trim(strings.TrimSpace(s), ".!?:")
		return strings.EqualFold(s, "status")
	}
	// "status" and a case number or two fit in a few words: a longer text
	// is not a status request, and is not run through the regexp.
	short := func(s string) bool { return len(s) <= 200 && strings.Contains(strings.ToLower(s), "status") }
	if short(in.Subject) {
		if word(caseNumberMention.ReplaceAllString(stripSubjectPrefixes(in.Subject), "")) {
			return true
		}
	}
	text := in.Unsigned()
	return short(text) && word(caseNumberMention.ReplaceAllString(text, ""))
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

// followupReply is what a customer's mail on a resolved case says about
// its resolution.
type followupReply struct {
	score   int    // 1–5, 0 for no rating
	comment string // the rest of the answer
	reopen  bool   // "reopen", "not fixed", or a low score
	stop    bool   // "stop" / "unsubscribe": no more follow-ups
}

// understood reports whether the reply is an answer to the follow-up.
func (r followupReply) understood() bool { return r.score > 0 || r.reopen || r.stop }

var (
	ratingRe = regexp.MustCompile(`^\s*([1-5])(?:\s*(?:/|of|out of|von)\s*5)?(?:[\s.,!:;)-]+|$)`)
	reopenRe = regexp.MustCompile(`(?i)\b(reopen|re-open|not fixed|isn't fixed|is not fixed|still broken|still doesn't work|still does not work|nicht behoben|nicht gelöst|geht immer noch nicht)\b`)
	stopRe   = regexp.MustCompile(`(?i)^\s*(stop|unsubscribe)\b`)
)

// parseFollowupReply reads the first line the customer wrote (quoted
// history aside): "4 thanks", "1 still broken", "reopen", "stop".
func parseFollowupReply(text string, reopenAtOrBelow int) followupReply {
	var r followupReply
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, ">") || t == "--" {
			break
		}
		if t != "" {
			lines = append(lines, t)
		}
	}
	if len(lines) == 0 {
		return r
	}
	first := lines[0]
	if stopRe.MatchString(first) {
		r.stop = true
		return r
	}
	if m := ratingRe.FindStringSubmatch(first); m != nil {
		r.score, _ = strconv.Atoi(m[1])
		lines[0] = strings.TrimSpace(first[len(m[0]):])
	}
	r.comment = strings.TrimSpace(strings.Join(lines, "\n"))
	if len(r.comment) > 2000 {
		r.comment = strings.ToValidUTF8(r.comment[:2000], "")
	}
	r.reopen = reopenRe.MatchString(first) || r.score > 0 && r.score <= reopenAtOrBelow
	return r
}
