package mailin

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A signature is found the way a reader finds it: at the end of what the
// author wrote, starting at the RFC 3676 §4.3 delimiter "-- " (or a bare
// "--"/"---"), at a closing ("Best regards,", "Mit freundlichen Grüßen"),
// at the author's own name, at a mobile client's "Sent from my iPhone", or
// as a trailing paragraph of a name with contact lines (phone, address,
// e-mail, web). Whatever starts it, what follows must look like a
// signature: short name, title and company lines, contact lines, legal
// boilerplate, separators. Prose after it, a question, a list, or a line
// that introduces it ("reach him at:") means it is the author's text and it
// stays. The rules were measured on mailgun/talon's signature fixtures and
// tests and on samples of our own in English and German
// (TestSignatureSamples).

// Signature returns the signature that ends text (a reply's new text, as
// SplitReply returns it), exactly as it ends text so the caller can cut it
// off; "" when there is none. authorName is the From display name, which
// often starts an unmarked signature.
func Signature(text, authorName string) string {
	lines := strings.Split(text, "\n")
	end := len(lines)
	for end > 0 && strings.TrimSpace(lines[end-1]) == "" {
		end--
	}
	if end == 0 {
		return ""
	}
	first := 0
	for strings.TrimSpace(lines[first]) == "" {
		first++
	}
	// Look only at the last lines: a signature is short, and the cost of
	// a long mail stays flat.
	window := end
	for n := 0; window > first && n < maxSignatureLines; window-- {
		if strings.TrimSpace(lines[window-1]) != "" {
			n++
		}
	}
	name := nameWords(authorName)
	if endsInProse(lines, window, end, name) {
		return ""
	}
	kinds := make([]lineKind, end)
	for i := window; i < end; i++ {
		kinds[i] = classifyLine(lines[i])
	}
	markDisclaimers(lines, kinds, window, end)

	start := -1
	for i := window; i < end && start < 0; i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" {
			continue
		}
		switch {
		case kinds[i] == kindDelimiter && isDelimiter(lines[i]):
			start = i // an explicit delimiter needs nothing more
		case kinds[i] == kindSentFrom && restIs(kinds, i+1, end, signatureLike):
			start = i
		case i == first:
			// Anything else never starts at the first line: a reply that
			// is only "Thanks!\nAlice" keeps its "Thanks!".
		case isClosing(t) && restIs(kinds, i+1, end, signatureLike) && !introduced(lines, i):
			start = i
		case (isAuthorName(t, name) || isDashName(lines, i)) && restIs(kinds, i+1, end, signatureLike) && !introduced(lines, i):
			start = i
		case kinds[i] == kindSeparator && restIs(kinds, i+1, end, signatureLike):
			start = i
		case isContactBlock(lines, kinds, i, end):
			start = i
		}
	}
	if start < 0 {
		return ""
	}
	// The signature runs to the end of text, trailing blank lines included.
	return strings.Join(lines[start:], "\n")
}

// endsInProse reports, cheaply, what most mail is: text whose last line is
// prose that no rule could take into a signature — it is not a closing or
// the author's name, its paragraph has no legal boilerplate, and no
// delimiter line comes before it. Every other way to start a signature
// needs every line after its start to look like one, so such text has
// none, and its other lines need not be classified.
func endsInProse(lines []string, window, end int, name map[string]bool) bool {
	last := strings.TrimSpace(lines[end-1])
	if classifyLine(lines[end-1]) != kindText || isClosing(last) || isAuthorName(last, name) || isDashName(lines, end-1) {
		return false
	}
	paragraph := true
	for i := end - 2; i >= window; i-- {
		t := strings.TrimSpace(lines[i])
		if t == "" {
			paragraph = false
			continue
		}
		if isDelimiter(t) || paragraph && isDisclaimer(t) {
			return false
		}
	}
	return true
}

// maxSignatureLines is how many non-blank lines at the end of a reply are
// looked at; a longer "signature" is text.
const maxSignatureLines = 25

type lineKind int

const (
	kindText       lineKind = iota // prose: ends a signature's candidacy
	kindBlank                      // an empty line
	kindShort                      // a name, title, company or similar short line
	kindContact                    // a phone number, e-mail or web address, a labelled contact
	kindAddress                    // a postal address line
	kindSeparator                  // a line of dashes, underscores or other rules
	kindDelimiter                  // "--", "-- ", "---", "—"
	kindSentFrom                   // "Sent from my iPhone", "Von meinem iPhone gesendet"
	kindDisclaimer                 // a line of legal boilerplate
	kindImage                      // "[cid:image001.png@…]", "[Company logo]"
)

var (
	signatureDelimiter = regexp.MustCompile(`^(-{2,3}|—|–)\s*$`)
	separatorLine      = regexp.MustCompile(`^[\s\-_=*~.·•—–]{4,}$`)
	sentFromLine       = regexp.MustCompile(`(?i)^(sent|envoyé|enviado|inviato|verzonden|gesendet|von meinem|get outlook|outlook für|diese nachricht wurde von meinem)\s.{0,80}?(iphone|ipad|android|mobile|phone|smartphone|telefon|handy|blackberry|outlook|galaxy|samsung|huawei|pixel|mailbox|proton ?mail|gmail|yahoo|mail for windows|gerät|device|terminal|móvil|cellulare)`)
	imageLine          = regexp.MustCompile(`(?i)^\[(cid:|image|bild|logo|inline|signature|cid\b)[^\]]*\]$`)
	emailOrURL         = regexp.MustCompile(`(?i)[^\s@]+@[^\s@]+\.[a-z]{2,}|\bhttps?://\S+|\bwww\.\S+|\b[a-z0-9-]+\.(com|de|org|net|io|co\.uk|at|ch|eu)\b`)
	phoneNumber        = regexp.MustCompile(`\+?\(?\d[\d\s().\/-]{5,}\d`)
	contactLabel       = regexp.MustCompile(`(?i)^(tel|tel\.|telefon|telephone|phone|ph|fon|fax|mobile|mobil|mob|cell|handy|direct|direkt|durchwahl|t|f|m|p|e|w|e-?mail|mail|web|www|skype|linkedin|xing|twitter|x)\s*[.:|]\s*\S`)
	postcodeCity       = regexp.MustCompile(`\b(\d{4,5}|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})\s+\p{Lu}\p{Ll}+|\b\p{Lu}\p{Ll}+,?\s+[A-Z]{2}\s+\d{5}\b`)
	streetNumber       = regexp.MustCompile(`(?i)(\p{L}(stra(ß|ss)e|str\.|weg|allee|platz|gasse|ring|damm)\s*\d+|\b\d+\s+\p{L}+\s+(street|st\.?|road|rd\.?|avenue|ave\.?|lane|ln\.?|boulevard|blvd\.?|drive|dr\.?)\b)`)
	disclaimerKey      = regexp.MustCompile(`(?i)(confidential|intended (solely )?for|intended recipient|privileged|disclaimer|vertraulich|irrtümlich|geschäftsführ|handelsregister|registergericht|amtsgericht|\bhrb\b|sitz der gesellschaft|ust-?id|vat (no|number|reg)|registered (in|office|number)|company (no|number)|please consider the environment|bitte denken sie an die umwelt)`)
	// closings are whole lines: a closing and at most the author's name
	// after a comma ("Best, Alice").
	closingLine = regexp.MustCompile(`^(?i:best|best regards|best wishes|kind regards|kindest regards|warm regards|warmest regards|regards|many thanks|thanks|thanks again|thanks in advance|thank you|thank you very much|cheers|sincerely|yours sincerely|sincerely yours|yours faithfully|yours truly|yours|all the best|take care|with best regards|with kind regards|talk soon|` +
		`mit freundlichen grüßen|mit freundlichen grüssen|mit freundlichem gruß|mit freundlichem gruss|freundliche grüße|freundliche grüsse|viele grüße|viele grüsse|beste grüße|beste grüsse|liebe grüße|liebe grüsse|herzliche grüße|herzliche grüsse|schöne grüße|schöne grüsse|grüße|grüsse|gruß|gruss|mfg|lg|vg|vielen dank|danke|besten dank|danke und grüße|danke und viele grüße|` +
		`cordialement|bien à vous|salutations|saludos|atentamente|un saludo|cordiali saluti|distinti saluti|saluti|met vriendelijke groet|met vriendelijke groeten|groeten|med vänliga hälsningar|venliga hälsningar|med venlig hilsen|с уважением|с наилучшими пожеланиями)` +
		`\s*[,.!]*(\s*\p{Lu}[\p{L}.'-]*(\s+\p{Lu}[\p{L}.'-]*){0,2}\.?)?$`)
	dashName = regexp.MustCompile(`^-\s?\p{L}[\p{L}.'-]*(\s\p{L}[\p{L}.'-]*)?\.?$`)
)

// classifyLine tells what one line looks like. Each regular expression
// runs only when a cheap test says it may match: most lines of a long
// mail are prose, and backtracking every rule over each of them cost more
// than parsing the mail.
func classifyLine(l string) lineKind {
	t := strings.TrimSpace(l)
	if t == "" {
		return kindBlank
	}
	first, _ := utf8.DecodeRuneInString(t)
	lower := strings.ToLower(t)
	switch {
	case (first == '-' || first == '—' || first == '–') && signatureDelimiter.MatchString(t):
		return kindDelimiter
	case strings.ContainsRune(" -_=*~.·•—–", first) && separatorLine.MatchString(t):
		return kindSeparator
	case hasAnyPrefix(lower, sentFromStarts) && utf8.RuneCountInString(t) < 120 && sentFromLine.MatchString(t):
		return kindSentFrom
	case first == '[' && imageLine.MatchString(t):
		return kindImage
	case isDisclaimerLower(t, lower):
		return kindDisclaimer
	}
	words := wordCount(t)
	if words <= 8 && (emailOrURL.MatchString(t) || contactLabel.MatchString(t)) {
		return kindContact
	}
	nd := digits(t)
	if nd >= 7 {
		if m := phoneNumber.FindString(t); m != "" && digits(m) >= 7 && wordCount(phoneNumber.ReplaceAllString(t, "")) <= 4 {
			return kindContact
		}
	}
	runes := utf8.RuneCountInString(t)
	// Every postcode and street number has a digit: most lines have none,
	// and these Unicode patterns are the costliest of all.
	if runes <= 70 && nd > 0 && (postcodeCity.MatchString(t) || streetNumber.MatchString(t)) && !sentenceLike(t) {
		return kindAddress
	}
	if runes <= 60 && words <= 8 && !sentenceLike(t) {
		return kindShort
	}
	return kindText
}

// isDisclaimer reports whether the trimmed line t is legal boilerplate.
func isDisclaimer(t string) bool { return isDisclaimerLower(t, strings.ToLower(t)) }

func isDisclaimerLower(t, lower string) bool {
	return containsAny(lower, disclaimerStems) && disclaimerKey.MatchString(t)
}

// sentFromStarts are the words sentFromLine starts with, lower case.
var sentFromStarts = []string{"sent", "envoyé", "enviado", "inviato", "verzonden", "gesendet", "von meinem", "get outlook",
	"outlook für", "diese nachricht wurde von meinem"}

// disclaimerStems are strings every match of disclaimerKey contains.
// They are as specific as the pattern allows ("ust-id", not "ust", which
// every "just" and "must" contains), so that ordinary prose rarely reaches
// the costly pattern.
var disclaimerStems = []string{"confidential", "intended for", "intended solely", "intended recipient", "privileged",
	"disclaimer", "vertraulich", "irrtümlich", "geschäftsführ", "handelsregister", "registergericht", "amtsgericht",
	"hrb", "sitz der gesellschaft", "ust-id", "ustid", "vat no", "vat number", "vat reg", "registered in",
	"registered office", "registered number", "company no", "company number", "please consider the environment",
	"bitte denken sie an die umwelt"}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// sentenceLike tells a line of prose from a name or a title: a question,
// a line that introduces what follows, a line with the little words
// sentences have and titles do not ("is", "your", "bitte", "nicht"), or a
// long sentence.
func sentenceLike(t string) bool {
	last, _ := utf8.DecodeLastRuneInString(t)
	if last == '?' || last == ':' {
		return true
	}
	words := strings.Fields(strings.ToLower(t))
	little := 0
	for _, w := range words {
		if functionWords[strings.Trim(w, ".,;!?\"'()")] {
			little++
		}
	}
	end := last == '.' || last == '!'
	return little >= 2 || end && little >= 1 && len(words) >= 4 || end && len(words) >= 8
}

// functionWords are words of English and German sentences that names,
// titles, company and address lines hardly ever hold.
var functionWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`i i'm i've i'll you your you're we we're our us it it's is are was were be been
		have has had will would can can't could should do does did don't not no there this that these if please my me
		they them he she his her what when how why which
		ich du sie wir es ist sind war waren sein haben hat hatte wird werden kann können nicht kein keine bitte das
		dass wenn ihnen mein meine mir mich uns unser noch schon auch aber wie was warum`) {
		functionWords[w] = true
	}
}

// wordCount counts the words of t, not the "|" or "·" between them.
func wordCount(t string) int {
	n := 0
	for _, w := range strings.Fields(t) {
		if strings.IndexFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0 {
			n++
		}
	}
	return n
}

func digits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

// markDisclaimers makes every line of a paragraph that holds legal
// boilerplate a disclaimer line: its other lines are long prose.
func markDisclaimers(lines []string, kinds []lineKind, from, end int) {
	for i := from; i < end; {
		j := i
		for j < end && kinds[j] != kindBlank {
			j++
		}
		legal := false
		for k := i; k < j; k++ {
			legal = legal || kinds[k] == kindDisclaimer
		}
		if legal {
			for k := i; k < j; k++ {
				kinds[k] = kindDisclaimer
			}
		}
		i = j + 1
	}
}

// signatureLike is what may follow the start of a signature.
func signatureLike(k lineKind) bool { return k != kindText }

// restIs reports whether every line from i to end is ok.
func restIs(kinds []lineKind, i, end int, ok func(lineKind) bool) bool {
	for ; i < end; i++ {
		if !ok(kinds[i]) {
			return false
		}
	}
	return true
}

func isDelimiter(l string) bool { return signatureDelimiter.MatchString(strings.TrimSpace(l)) }

func isClosing(t string) bool {
	return utf8.RuneCountInString(t) <= 60 && closingLine.MatchString(t)
}

// introduced reports whether the line before i announces what follows
// ("You can reach the technician at:"): then it is the author's text.
func introduced(lines []string, i int) bool {
	for j := i - 1; j >= 0; j-- {
		if t := strings.TrimSpace(lines[j]); t != "" {
			return strings.HasSuffix(t, ":")
		}
	}
	return false
}

// nameWords are the lower-case words of a display name ("Example, Alice"
// gives alice and example).
func nameWords(name string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '-' }) {
		if utf8.RuneCountInString(w) >= 2 {
			out[w] = true
		}
	}
	return out
}

// isAuthorName reports whether line t is the author's name: one to four
// words, each a word of the display name or an initial, possibly followed
// by a title after "|", "," or " - " ("Alice Example | Support"), with an
// "i. A."/"pp" in front.
func isAuthorName(t string, name map[string]bool) bool {
	if len(name) == 0 {
		return false
	}
	for _, sep := range []string{"|", ",", " - ", " – ", " · "} {
		if i := strings.Index(t, sep); i > 0 {
			t = t[:i]
		}
	}
	t = strings.TrimSpace(strings.TrimLeft(t, "-–— "))
	for _, p := range []string{"i. A. ", "i.A. ", "i. V. ", "i.V. ", "pp ", "p.p. "} {
		t = strings.TrimPrefix(t, p)
	}
	words := strings.Fields(t)
	if len(words) == 0 || len(words) > 4 {
		return false
	}
	matched := false
	for _, w := range words {
		lw := strings.ToLower(strings.Trim(w, ".,!'\""))
		switch {
		case name[lw]:
			matched = true
		case utf8.RuneCountInString(lw) <= 1: // an initial
		default:
			return false
		}
	}
	return matched
}

// isDashName tells talon's "-Roman" / "- Lev." signing line: a dash and a
// one- or two-word name, on the last line or before a signature, but not
// the last item of a dashed list.
func isDashName(lines []string, i int) bool {
	t := strings.TrimSpace(lines[i])
	if !dashName.MatchString(t) {
		return false
	}
	for j := i - 1; j >= 0; j-- {
		if p := strings.TrimSpace(lines[j]); p != "" {
			return !strings.HasPrefix(p, "-")
		}
	}
	return true
}

// isContactBlock reports whether the paragraph starting at line i is an
// unmarked signature: it follows a blank line, starts with a short name
// line, holds a contact or address line, and nothing but signature lines
// follow to the end; a paragraph that something introduces stays.
func isContactBlock(lines []string, kinds []lineKind, i, end int) bool {
	if i == 0 || strings.TrimSpace(lines[i-1]) != "" || kinds[i] != kindShort || introduced(lines, i) {
		return false
	}
	if first, _ := utf8.DecodeRuneInString(strings.TrimSpace(lines[i])); !unicode.IsUpper(first) || len(strings.Fields(lines[i])) > 4 {
		return false // a name starts with a capital and is short
	}
	contact := false
	for j := i + 1; j < end; j++ {
		switch kinds[j] {
		case kindText:
			return false
		case kindContact, kindAddress:
			contact = true
		}
	}
	return contact
}
