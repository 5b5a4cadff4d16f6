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
// ASCII label, go through fallbackText. Every fallback is recorded in
// in.Problems so staff can tell a guess from a decoding.
func decodeBody(problems *[]string, path []int, label string, b []byte, unknownCharset bool) string {
	if !unknownCharset && utf8.Valid(b) {
		return validText(b)
	}
	s, used := fallbackText(b)
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

// decodeHeaderText decodes a raw header value for display: encoded-words
// (RFC 2047) with any charset, and raw 8-bit bytes (which RFC 6532 allows
// as UTF-8 and older mailers send as Latin-1) through fallbackText. It
// reports whether it had to guess.
func decodeHeaderText(raw string) (string, bool) {
	s, err := headerWordDecoder.DecodeHeader(raw)
	if err != nil {
		s = raw
	}
	guessed := err != nil
	if encodedWord.MatchString(s) {
		// Words the standard decoder left alone: raw 8-bit bytes or spaces
		// inside them, as Eudora and others wrote them.
		s = decodeWordsLeniently(s)
		guessed = true
	}
	if !utf8.ValidString(s) {
		// Decode only the invalid stretches' bytes: decoded encoded-words
		// are already UTF-8, raw 8-bit bytes around them are not.
		s = decodeMixed(s)
		guessed = true
	}
	return strings.ReplaceAll(s, "\x00", ""), guessed
}

// decodeMixed keeps the valid UTF-8 sequences of s and decodes every other
// byte as windows-1252.
func decodeMixed(s string) string {
	var b strings.Builder
	var bad bytes.Buffer
	flush := func() {
		if bad.Len() > 0 {
			t, _ := fallbackText(bad.Bytes())
			b.WriteString(t)
			bad.Reset()
		}
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			bad.WriteByte(s[i])
			i++
			continue
		}
		flush()
		b.WriteString(s[i : i+size])
		i += size
	}
	flush()
	return b.String()
}

func readAllString(r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	return string(b), err
}

// partText decodes a text part's bytes. go-message applied the declared
// charset when it could parse the Content-Type; when only the lenient
// parse found the charset, it is applied here.
func partText(problems *[]string, path []int, p partInfo, b []byte, unknownCharset bool) string {
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
	return decodeBody(problems, path, label, b, unknownCharset)
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

// lenientAddress parses the first address of a field whose display name
// go-message rejected for its charset, decoding the name with the same
// fallbacks as a subject.
func lenientAddress(v string) (netmail.Address, bool) {
	p := netmail.AddressParser{WordDecoder: &headerWordDecoder}
	list, err := p.ParseList(v)
	if err != nil || len(list) == 0 {
		return netmail.Address{}, false
	}
	return *list[0], true
}
