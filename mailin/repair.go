package mailin

import (
	"bytes"
	"fmt"
)

// repairForParsing returns a copy of raw that go-message can parse, and
// what it changed. The raw bytes themselves are always stored unchanged;
// only the parse sees the repair. Three kinds of real-world damage would
// otherwise stop the parse at the header and leave a message without
// sender, subject or parts:
//   - a UTF-8 byte-order mark, an mbox "From " envelope line, or lines of
//     nothing but spaces and tabs before the header (mail saved by an
//     editor, from a mailbox file, or passed on by a gateway or archive);
//     read strictly, a first line of white space is the empty line that
//     ends an empty header, and the whole message would be body;
//   - CR-only line ends (classic Mac OS), which SMTP cannot carry but an
//     IMAP mailbox can;
//   - header lines that are neither "Name: value" nor a continuation
//     (RFC 5322 §2.2), which go-message rejects outright (go-message #130,
//     #38): they are dropped from the parse, except when the very first
//     line is one, which means the header is missing and everything is
//     body (as mime4j reads it).
func repairForParsing(raw []byte) ([]byte, []string) {
	var fixes []string
	b := raw
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		b = b[3:]
		fixes = append(fixes, "byte-order mark before the header ignored")
	}
	if bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') >= 0 {
		b = bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
		fixes = append(fixes, "CR-only line ends read as LF")
	}
	if bytes.HasPrefix(b, []byte("From ")) {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
			fixes = append(fixes, "mbox \"From \" line before the header ignored")
		}
	}
	if blank := leadingBlankLines(b); blank > 0 {
		b = b[blank:]
		fixes = append(fixes, "white-space line before the header ignored")
	}
	end := headerEnd(b)
	if end < 0 {
		end = len(b)
	}
	if first, _, _ := bytes.Cut(b, []byte("\n")); len(bytes.TrimRight(first, "\r")) > 0 && !validHeaderLine(bytes.TrimRight(first, "\r")) {
		return append([]byte("\n"), b...), append(fixes, "no header; all of it read as body")
	}
	header := b[:end]
	var kept [][]byte
	dropped := 0
	for i, line := range bytes.SplitAfter(header, []byte("\n")) {
		t := bytes.TrimRight(line, "\r\n")
		switch {
		case len(t) == 0, t[0] == ' ' || t[0] == '\t':
			if i == 0 && len(t) > 0 { // a continuation with nothing to continue
				dropped++
				continue
			}
		case !validHeaderLine(t):
			dropped++
			continue
		}
		kept = append(kept, line)
	}
	if dropped == 0 {
		if len(fixes) == 0 {
			return raw, nil
		}
		return b, fixes
	}
	out := bytes.Join(kept, nil)
	out = append(out, b[end:]...)
	return out, append(fixes, fmt.Sprintf("%d malformed header lines ignored", dropped))
}

// validHeaderLine reports whether line starts a header field: a name of
// printable ASCII other than ":" (RFC 5322 §3.6.8), then a colon.
func validHeaderLine(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	for _, c := range bytes.TrimRight(line[:i], " \t") { // "Subject :" is obsolete syntax, still seen
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// leadingBlankLines returns the length of the lines of spaces and tabs
// (at least one such character each) that start b, when a header field
// follows them; else 0. An empty first line is left alone: it is a
// message without a header.
func leadingBlankLines(b []byte) int {
	n := 0
	for lines := 0; lines < 5; lines++ {
		line, _, ok := bytes.Cut(b[n:], []byte("\n"))
		t := bytes.TrimRight(line, "\r")
		if !ok || len(t) == 0 || len(bytes.Trim(t, " \t")) != 0 {
			break
		}
		n += len(line) + 1
	}
	if n == 0 {
		return 0
	}
	if first, _, _ := bytes.Cut(b[n:], []byte("\n")); !validHeaderLine(bytes.TrimRight(first, "\r")) {
		return 0
	}
	return n
}
