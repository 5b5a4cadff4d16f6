package mailin

import (
	"regexp"
	"strings"
)

// Lines that start the quoted history a mail client appends to a reply.
var quoteHeaders = []*regexp.Regexp{
	regexp.MustCompile(`^On .{1,300}wrote:\s*$`),                        // Gmail, Apple Mail, Thunderbird
	regexp.MustCompile(`^-{2,}\s*Original Message\s*-{2,}`),             // Outlook
	regexp.MustCompile(`^_{10,}\s*$`),                                   // Outlook web separator
	regexp.MustCompile(`^(From|Von|De|Van):\s.+$`),                      // Outlook "From: … Sent: …" block
	regexp.MustCompile(`^-{2,}\s*(Forwarded|Reply above this line).*$`), // forwarding and casegate markers
}

// SplitReply returns what the author of a reply wrote: the text before the
// client's quoted history, without a trailing signature ("-- ") or
// trailing ">" quotes. The whole text is always kept elsewhere.
func SplitReply(text string) string {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	end := len(lines)
cut:
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if l == "-- " || t == "--" && i > 0 {
			end = i
			break
		}
		for _, re := range quoteHeaders {
			if re.MatchString(t) {
				end = i
				break cut
			}
		}
	}
	lines = lines[:end]
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
