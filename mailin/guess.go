package mailin

import (
	"bytes"
	"io"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"github.com/wlynxg/chardet"
	"golang.org/x/text/encoding/charmap"
)

// charsetGuess decodes the 8-bit text of one message that declares no
// charset of its own (or a wrong one): raw 8-bit header fields (Subject,
// display names, file names) and text parts without a usable label. In
// order, as other readers do:
//  1. UTF-8, when the bytes are valid UTF-8 (RFC 6532 allows it in
//     headers, and it is the usual truth behind a missing label);
//  2. the charsets the message declares elsewhere (its text parts'
//     Content-Type), which its headers were most likely written in;
//  3. a charset detected over all of the message's undeclared 8-bit text
//     at once (github.com/wlynxg/chardet, a port of Mozilla's universal
//     detector via Python's chardet), limited to the common Cyrillic, CJK
//     and Western code pages;
//  4. windows-1252, which assigns a character to almost every byte.
//
// A text that is mostly valid UTF-8 with a few bad bytes keeps its UTF-8
// and has only the bad bytes replaced.
type charsetGuess struct {
	raw      []byte   // the message, read for declared labels only when a guess is needed
	declared []string // labels the message declares, known to go-message, not UTF-8/ASCII
	scanned  bool     // declared has been read from raw
	sample   []byte   // undeclared 8-bit text to detect over
	detected string   // "" until detect runs; "-" when nothing was found
}

var declaredCharset = regexp.MustCompile(`(?i)\bcharset\s*=\s*"?([A-Za-z0-9_:.+-]+)`)

// newCharsetGuess reads the undeclared 8-bit header text the detector
// will see first. The labels the message declares are read from raw only
// when a guess is needed: most mail never needs one, and scanning a large
// message for them costs more than the rest of parsing it.
func newCharsetGuess(raw []byte) *charsetGuess {
	g := &charsetGuess{raw: raw}
	if end := headerEnd(raw); end > 0 {
		for _, line := range bytes.Split(raw[:end], []byte("\n")) {
			if !utf8.Valid(line) {
				g.sample = append(g.sample, line...)
				g.sample = append(g.sample, ' ')
			}
		}
	}
	return g
}

// declaredLabels returns the charsets the message declares (in its first
// 256 KiB), reading them on first use.
func (g *charsetGuess) declaredLabels() []string {
	if g.scanned {
		return g.declared
	}
	g.scanned = true
	scan := g.raw
	if len(scan) > 256<<10 {
		scan = scan[:256<<10]
	}
	seen := map[string]bool{}
	for _, m := range declaredCharset.FindAllSubmatch(scan, 50) {
		label := strings.ToLower(string(m[1]))
		if seen[label] || isUTF8Label(label) {
			continue
		}
		seen[label] = true
		if _, err := charset.Reader(label, bytes.NewReader(nil)); err == nil {
			g.declared = append(g.declared, label)
		}
	}
	return g.declared
}

// detectable charsets: what the detector may name and we then believe.
var detectable = map[string]string{
	"koi8-r": "koi8-r", "koi8-u": "koi8-u", "windows-1251": "windows-1251", "iso-8859-5": "iso-8859-5", "ibm866": "ibm866",
	"shift_jis": "shift_jis", "cp932": "shift_jis", "euc-jp": "euc-jp", "iso-2022-jp": "iso-2022-jp",
	"gb2312": "gbk", "gbk": "gbk", "gb18030": "gb18030", "big5": "big5", "euc-kr": "euc-kr", "cp949": "euc-kr",
	"windows-1252": "windows-1252", "iso-8859-1": "windows-1252", "iso-8859-15": "iso-8859-15",
	"iso-8859-2": "iso-8859-2", "windows-1250": "windows-1250",
}

// addSample adds undeclared body text for the detector, before it runs.
func (g *charsetGuess) addSample(b []byte) {
	if g == nil || g.detected != "" || len(g.sample) > 16<<10 {
		return
	}
	g.sample = append(g.sample, b[:min(len(b), 16<<10)]...)
}

func (g *charsetGuess) detect() string {
	if g.detected == "" {
		g.detected = "-"
		if len(g.sample) > 0 {
			r := chardet.Detect(g.sample)
			if label, ok := detectable[strings.ToLower(r.Encoding)]; ok {
				g.detected = label
			}
		}
	}
	if g.detected == "-" {
		return ""
	}
	return g.detected
}

// decode turns 8-bit bytes into UTF-8 text and says which charset it used
// ("utf-8" when they were valid UTF-8). declaredFirst says whether the
// message's declared charsets come before detection (header text: yes; a
// part labelled UTF-8 that is not: no, its label was wrong already).
func (g *charsetGuess) decode(b []byte, declaredFirst bool) (string, string) {
	if utf8.Valid(b) {
		return string(b), "utf-8"
	}
	if mostlyUTF8(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD"), "utf-8 with the invalid bytes replaced"
	}
	if g != nil {
		var candidates []string
		if declaredFirst {
			candidates = slices.Clip(g.declaredLabels())
		}
		if d := g.detect(); d != "" {
			candidates = append(candidates, d)
		}
		for _, label := range candidates {
			if s, ok := decodeStrict(label, b); ok {
				return s, label
			}
		}
	}
	out, _ := charmap.Windows1252.NewDecoder().Bytes(b) // decodes every byte
	return string(out), "windows-1252"
}

// decodeStrict decodes b from label, failing on bytes the charset does
// not define (which multi-byte charsets turn into U+FFFD).
func decodeStrict(label string, b []byte) (string, bool) {
	r, err := charset.Reader(label, bytes.NewReader(b))
	if err != nil {
		return "", false
	}
	out, err := io.ReadAll(r)
	if err != nil || !utf8.Valid(out) || bytes.ContainsRune(out, utf8.RuneError) && !bytes.ContainsRune(b, utf8.RuneError) {
		return "", false
	}
	return string(out), true
}

// mostlyUTF8 reports whether b is UTF-8 with a few bad bytes: it holds
// multi-byte UTF-8 sequences, and at least as many of them as invalid
// bytes. Text in a single-byte charset almost never forms valid UTF-8
// sequences by chance.
func mostlyUTF8(b []byte) bool {
	var multi, bad int
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			bad++
		case size > 1:
			multi++
		}
		i += size
	}
	return multi > 0 && multi >= bad
}
