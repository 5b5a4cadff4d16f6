package mailin

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	netmail "net/mail"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
)

// Charsets real mail uses that go-message's lookup (IANA and WHATWG names)
// does not know. charset.RegisterEncoding writes to an unlocked map, so it
// is called only here, before any parsing can run (LIBRARY-NOTES.md).
func init() {
	for _, name := range []string{"utf-7", "unicode-1-1-utf-7", "csunicode11utf7", "x-unicode-2-0-utf-7"} {
		charset.RegisterEncoding(name, utf7Encoding{})
	}
	charset.RegisterEncoding("cp932", japanese.ShiftJIS) // Windows' name for its Shift_JIS
	charset.RegisterEncoding("ks_c_5601", korean.EUCKR)  // Outlook truncates ks_c_5601-1987
	charset.RegisterEncoding("x-mac-roman", charmap.Macintosh)
}

// fallbackText decodes bytes whose charset is unknown or mislabelled: as
// UTF-8 when they are valid UTF-8 (the usual truth behind a wrong label),
// else as windows-1252, which assigns a character to almost every byte and
// is a superset of ISO-8859-1, the commonest unlabelled 8-bit charset. It
// returns the text and the charset it chose.
func fallbackText(b []byte) (string, string) {
	if utf8.Valid(b) {
		return string(b), "utf-8"
	}
	out, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil { // windows-1252 decodes every byte; kept for safety
		return strings.ToValidUTF8(string(b), "\uFFFD"), "utf-8 with replacement characters"
	}
	return string(out), "windows-1252"
}

// decodeBody turns a part's bytes into valid UTF-8 text. go-message has
// already applied the declared charset when it knew it (unknownCharset
// false); bytes it could not decode, and invalid UTF-8 under a UTF-8 or
// ASCII label or none, go through the message's charsetGuess. Every guess
// is recorded in in.Problems so staff can tell a guess from a decoding.
func decodeBody(problems *[]string, g *charsetGuess, path []int, label string, b []byte, unknownCharset bool) string {
	if !unknownCharset && utf8.Valid(b) && !hasISO2022Escape(b, label) {
		return validText(b)
	}
	// A wrong UTF-8 label says nothing of the real charset; a missing or
	// unknown one lets the message's other labels speak first.
	declaredFirst := !strings.EqualFold(label, "utf-8") && !strings.EqualFold(label, "utf8")
	g.addSample(b)
	s, used := g.decode(b, declaredFirst)
	why := "invalid bytes for"
	if unknownCharset {
		why = "unknown charset"
	}
	if label == "" {
		label = "(none)"
	}
	*problems = append(*problems, fmt.Sprintf("part %v: %s %q; decoded as %s", path, why, label, used))
	return validText([]byte(s))
}

// hasISO2022Escape reports 7-bit ISO-2022-JP text under no label or an
// ASCII one: valid UTF-8 byte for byte, Japanese only once decoded.
func hasISO2022Escape(b []byte, label string) bool {
	return (label == "" || strings.EqualFold(label, "us-ascii")) && iso2022Escape(b)
}

func iso2022Escape(b []byte) bool {
	return bytes.Contains(b, []byte("\x1b$B")) || bytes.Contains(b, []byte("\x1b$@")) || bytes.Contains(b, []byte("\x1b(J"))
}

// headerWordDecoder decodes RFC 2047 encoded-words, falling back for
// charsets nobody knows rather than leaving "=?x-unknown?…?=" in a subject.
var headerWordDecoder = mime.WordDecoder{CharsetReader: func(label string, r io.Reader) (io.Reader, error) {
	if dr, err := charset.Reader(label, r); err == nil {
		return dr, nil
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	s, _ := fallbackText(b)
	return strings.NewReader(s), nil
}}

// decodeHeaderText decodes a raw header value for display: raw 8-bit
// bytes (which RFC 6532 allows as UTF-8 and older mailers send in their
// own charset) through the message's charsetGuess, then encoded-words
// (RFC 2047) with any charset. It returns what it guessed ("" when it
// decoded only what was declared).
func decodeHeaderText(raw string, g *charsetGuess) (string, string) {
	s, guess := decodeRawHeader(raw, g)
	d, err := headerWordDecoder.DecodeHeader(s)
	if err == nil {
		s = d
	} else if guess == "" {
		guess = "encoded-words that do not decode"
	}
	if encodedWord.MatchString(s) {
		// Words the standard decoder left alone: raw 8-bit bytes or spaces
		// inside them, as Eudora and others wrote them.
		s = decodeWordsLeniently(s)
		if guess == "" {
			guess = "malformed encoded-words"
		}
	}
	return strings.ReplaceAll(validText([]byte(s)), "\x00", ""), guess
}

// decodeRawHeader decodes the raw 8-bit bytes of a header value, leaving
// encoded-words (ASCII) for the word decoder, and names the charset it
// chose when it had to choose one.
func decodeRawHeader(raw string, g *charsetGuess) (string, string) {
	b := []byte(raw)
	if iso2022Escape(b) {
		if s, ok := decodeStrict("iso-2022-jp", b); ok {
			return s, "iso-2022-jp (undeclared)"
		}
	}
	if utf8.Valid(b) {
		return raw, ""
	}
	// Only the bytes outside encoded-words: raw 8-bit bytes inside one
	// (Eudora wrote them) are in the word's own charset, which the word
	// decoder applies.
	var out strings.Builder
	used := ""
	last := 0
	flush := func(seg []byte) {
		if utf8.Valid(seg) {
			out.Write(seg)
			return
		}
		s, how := g.decode(seg, true)
		out.WriteString(s)
		used = how
	}
	for _, m := range encodedWord.FindAllIndex(b, -1) {
		flush(b[last:m[0]])
		out.Write(b[m[0]:m[1]])
		last = m[1]
	}
	flush(b[last:])
	return out.String(), used
}

func readAllString(r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	return string(b), err
}

// partText decodes a text part's bytes. go-message applied the declared
// charset when it could parse the Content-Type; when only the lenient
// parse found the charset, it is applied here.
func partText(problems *[]string, g *charsetGuess, path []int, p partInfo, b []byte, unknownCharset bool) string {
	label := strings.TrimSpace(p.params["charset"])
	if label != "" && !isUTF8Label(label) {
		r, err := charset.Reader(label, bytes.NewReader(b))
		switch {
		case err != nil:
			unknownCharset = true
		case !p.charsetApplied && !unknownCharset:
			if out, err := io.ReadAll(r); err == nil {
				b = out
			} else {
				unknownCharset = true
			}
		}
	}
	return decodeBody(problems, g, path, label, b, unknownCharset)
}

func isUTF8Label(label string) bool {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return true
	}
	return false
}

var (
	encodedWord       = regexp.MustCompile(`=\?([^?\s]+)\?([bBqQ])\?([^?]*?)\?=`)
	spaceBetweenWords = regexp.MustCompile(`(\?=)[ \t\r\n]+(=\?)`)
	qHex              = regexp.MustCompile(`=([0-9A-Fa-f]{2})`)
)

// decodeWordsLeniently decodes RFC 2047 encoded-words that break the
// grammar, taking whatever bytes they hold; white space between adjacent
// words is dropped (RFC 2047 §6.2).
func decodeWordsLeniently(s string) string {
	s = spaceBetweenWords.ReplaceAllString(s, "$1$2")
	return encodedWord.ReplaceAllStringFunc(s, func(w string) string {
		m := encodedWord.FindStringSubmatch(w)
		label, enc, text := m[1], strings.ToLower(m[2]), m[3]
		if i := strings.IndexByte(label, '*'); i >= 0 { // RFC 2231 language suffix
			label = label[:i]
		}
		var b []byte
		if enc == "q" {
			text = strings.ReplaceAll(text, "_", " ")
			b = []byte(qHex.ReplaceAllStringFunc(text, func(h string) string {
				v, _ := strconv.ParseUint(h[1:], 16, 8)
				return string([]byte{byte(v)})
			}))
		} else {
			var err error
			if b, err = base64.StdEncoding.DecodeString(text); err != nil {
				if b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(text, "=")); err != nil {
					return w
				}
			}
		}
		if !isUTF8Label(label) {
			if r, err := charset.Reader(label, bytes.NewReader(b)); err == nil {
				if out, err := io.ReadAll(r); err == nil {
					return string(out)
				}
			}
		}
		t, _ := fallbackText(b)
		return t
	})
}

// readAddresses reads an address field the way a subject is read: raw
// 8-bit display names are decoded through the message's charsetGuess
// before the addresses are parsed (go-message rejects them outright, and
// the name would be lost), and encoded-words inside quotes, which RFC 2047
// forbids and many mailers write, are decoded too. When the field still
// does not parse, the addresses are picked out of it without names.
func readAddresses(h mail.Header, key string, g *charsetGuess) ([]*mail.Address, []string) {
	var problems []string
	var out []*mail.Address
	for _, v := range h.Values(key) {
		decoded, guess := decodeRawHeader(v, g)
		if guess != "" {
			problems = append(problems, fmt.Sprintf("%s: raw 8-bit display name; decoded as %s", key, guess))
		}
		list, err := mail.ParseAddressList(decoded)
		if err != nil {
			if l, ok := lenientAddressList(decoded); ok {
				list, err = l, nil
			}
		}
		if err != nil {
			problems = append(problems, key+": "+err.Error())
			found := addrPattern.FindAllString(decoded, 100)
			if len(found) == 0 {
				if a := bareAddress(decoded); a != "" {
					found = []string{a}
				}
			}
			for _, a := range found {
				out = append(out, &mail.Address{Address: validText([]byte(a))})
			}
			if len(found) <= 1 && strings.Count(decoded, "<") == 1 {
				// "Mail Delivery Subsystem <MAILER-DAEMON>", "MAILER-DAEMON
				// <>": no domain, but a name worth keeping.
				name, _, _ := strings.Cut(decoded, "<")
				if name = strings.Trim(strings.TrimSpace(name), `"`); name != "" {
					if len(out) == 0 {
						out = append(out, &mail.Address{})
					}
					out[len(out)-1].Name, _ = decodeHeaderText(name, g)
				}
			}
			continue
		}
		for _, a := range list {
			if encodedWord.MatchString(a.Name) {
				a.Name, _ = decodeHeaderText(a.Name, g)
			}
			a.Name = strings.Join(strings.Fields(validText([]byte(a.Name))), " ")
			a.Address = validText([]byte(a.Address))
			out = append(out, a)
		}
	}
	return out, problems
}

// lenientAddressList parses with the standard library's parser, which
// takes a few forms go-message's does not, and decodes encoded-words in
// any charset.
func lenientAddressList(v string) ([]*mail.Address, bool) {
	p := netmail.AddressParser{WordDecoder: &headerWordDecoder}
	list, err := p.ParseList(v)
	if err != nil || len(list) == 0 {
		return nil, false
	}
	out := make([]*mail.Address, len(list))
	for i, a := range list {
		out[i] = &mail.Address{Name: a.Name, Address: a.Address}
	}
	return out, true
}
