package mailin

import (
	"regexp"
	"strings"
)

// Quoted history is found the way a person reading the mail finds it: by
// the line a client writes above the quote ("On … wrote:", "-----Original
// Message-----", an Outlook "From: … Sent: …" block, casegate's own "Reply
// above this line"), or by ">"-prefixed lines at the end. The rules were
// checked against the replies of mailgun/talon's fixtures (Gmail, Outlook,
// Apple Mail, Thunderbird, iPhone, Android, Yahoo, AOL, Hotmail, mail.ru,
// Yandex, Sparrow; see TestSplitReplyTalon).

// quoteSeparators are lines that start the quoted history by themselves.
var quoteSeparators = []*regexp.Regexp{
	regexp.MustCompile(`(?i)^-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original|messaggio originale|oorspronkelijk bericht|originalmeddelande|исходное сообщение)\s*-{2,}`),
	regexp.MustCompile(`(?i)^-{2,}\s*(forwarded message|weitergeleitete nachricht)`),
	regexp.MustCompile(`(?i)^begin forwarded message:$`),                                                           // Apple Mail forward
	regexp.MustCompile(`(?i)^\W*(please\s+)?(reply|type your reply|write your reply|respond) above this line\W*$`), // casegate's and helpdesks' notifications
}

// attributionEnd ends the line a client writes above a quote ("On … wrote:")
// in the languages seen in real mail.
var attributionEnd = regexp.MustCompile(`(?i)(wrote|writes|schrieb|a écrit|escribió|ha scritto|skrev|schreef|napisał|kirjoitti|írta|escreveu|yazdı|napsal|написал\(а\)|написал|написала|пишет|写道|wrote the following)\s*:\s*$`)

// attributionStart is how Gmail, Apple Mail and Thunderbird begin it.
var attributionStart = regexp.MustCompile(`(?i)^(on|am|le|el|il|op|den|em|w dniu)\s`)

// headerLine is a line of an Outlook-style header block of the quoted
// message, with or without the bold markers HTML-to-text leaves.
var headerLine = regexp.MustCompile(`(?i)^\*?(from|sent|date|to|cc|subject|von|gesendet|datum|an|betreff|de|envoyé|à|objet|enviado|para|asunto|da|inviato|oggetto|van|verzonden|aan|onderwerp|från|skickat|till|ämne|od|wysłano|temat|от|отправлено|кому|тема):\*?\s*\S?`)

var fromLine = regexp.MustCompile(`(?i)^\*?(from|von|de|da|van|från|od|от):\*?\s`)

var outlookWebRule = regexp.MustCompile(`^_{10,}$`)

var dateOrTime = regexp.MustCompile(`\b\d{1,2}[:.]\d{2}\b|\b(19|20)\d{2}\b`)

// SplitReply returns what the author of a reply wrote: the text before the
// client's quoted history, and without trailing ">" quotes. A signature
// above the quote is the author's and stays. When the author wrote below
// the quote (bottom-posting), the unquoted lines after it are returned. The
// whole text is always kept elsewhere.
func SplitReply(text string) string {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	end := quoteStart(lines)
	top := trimQuoteTail(lines[:end])
	if top == "" && end < len(lines) {
		// Nothing above the quote: take what was written between and
		// below the quoted lines.
		var below []string
		for _, l := range lines[end+1:] {
			if !strings.HasPrefix(strings.TrimSpace(l), ">") {
				below = append(below, l)
			}
		}
		return strings.TrimSpace(strings.Join(below, "\n"))
	}
	return top
}

// quoteStart returns the index of the first line of quoted history, or
// len(lines).
func quoteStart(lines []string) int {
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, ">") {
			continue
		}
		if maybeSeparator(t) {
			for _, re := range quoteSeparators {
				if re.MatchString(t) {
					return i
				}
			}
		}
		if isAttribution(t) {
			return i
		}
		// An attribution wrapped onto two lines ("On …, Name <\naddr> wrote:").
		if i+1 < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i+1]), ">") && isAttribution(t+" "+strings.TrimSpace(lines[i+1])) && len(t) > 10 {
			return i
		}
		if isHeaderBlock(lines, i) {
			return i
		}
		// Outlook on the web draws a line of underscores above the quoted
		// header; a signature's underscores have no header below them.
		if outlookWebRule.MatchString(t) && i+1 < len(lines) && isHeaderBlock(lines, nextNonBlank(lines, i+1)) {
			return i
		}
	}
	return len(lines)
}

// isAttribution tells "On Mon, Apr 2, 2012 at 6:26 PM, Megan <x@y> wrote:"
// and its translations, and the dated "26.06.2014, 14:41, "Name" <a@b>:"
// that Yandex and mail.ru write.
func isAttribution(t string) bool {
	if len(t) > 400 || !strings.HasSuffix(strings.TrimRight(t, " \t"), ":") {
		return false // every attribution ends in a colon; checking it first keeps long texts fast
	}
	if attributionEnd.MatchString(t) && (attributionStart.MatchString(t) || strings.Contains(t, "@") || dateOrTime.MatchString(t)) {
		return true
	}
	return strings.HasSuffix(t, ":") && strings.Contains(t, "@") && dateOrTime.MatchString(t) && len(t) < 200
}

// isHeaderBlock tells an Outlook-style block of the quoted message's
// header: a From line with at least one more header line right after it,
// or any two header lines one of which is From.
func isHeaderBlock(lines []string, i int) bool {
	first := strings.TrimSpace(lines[i])
	if !colonEarly(first) || !headerLine.MatchString(first) {
		return false
	}
	sawFrom := fromLine.MatchString(first)
	n := 1
	for j := i + 1; j < len(lines) && j < i+6; j++ {
		t := strings.TrimSpace(lines[j])
		if !headerLine.MatchString(t) {
			break
		}
		n++
		sawFrom = sawFrom || fromLine.MatchString(t)
	}
	return sawFrom && n >= 2
}

// maybeSeparator is what every quoteSeparators line has: a cheap test that
// spares most lines of a long mail the regular expressions.
func maybeSeparator(t string) bool {
	return strings.HasPrefix(t, "--") || t[0] == 'b' || t[0] == 'B' ||
		len(t) < 100 && strings.Contains(strings.ToLower(t), "above this line")
}

// colonEarly is what every headerLine has: a colon after the field name,
// the longest of which ("отправлено", with bold markers) is 22 bytes.
func colonEarly(t string) bool {
	i := strings.IndexByte(t, ':')
	return i > 0 && i <= 24
}

// trimQuoteTail drops trailing blank and ">" lines.
func trimQuoteTail(lines []string) string {
	for len(lines) > 0 {
		t := strings.TrimSpace(lines[len(lines)-1])
		if t == "" || strings.HasPrefix(t, ">") {
			lines = lines[:len(lines)-1]
			continue
		}
		break
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func nextNonBlank(lines []string, i int) int {
	for i < len(lines)-1 && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	return i
}
