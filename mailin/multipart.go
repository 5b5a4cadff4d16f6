package mailin

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message"
)

// Our own multipart splitter. It works on the raw bytes of the message,
// which Parse already holds: every header and body is a sub-slice of them,
// never a copy, so a 25 MB attachment costs no second 25 MB to split out.
// go-message still reads each part's header fields, transfer encoding and
// charset (see mimePart.entity).
//
// It follows RFC 2046 §5.1.1 and the tolerant readings of the parsers whose
// expectations the corpus test compares against (mime4j, Dovecot,
// stalwart-mail-parser):
//   - A delimiter is a line that begins with "--" and the boundary. What
//     follows the boundary on that line is ignored: white space as the RFC
//     allows, and also any other text, which mime4j ignores too; the RFC's
//     own note to implementors says the boundary need only "appear in its
//     entirety following the CRLF". A "--" right after it closes the
//     multipart.
//   - The line break before a delimiter belongs to the delimiter, not to
//     the part before it.
//   - The boundaries of every open multipart are looked for, the innermost
//     first. So an inner boundary that begins with the outer one ("b" and
//     "b-1", "a--" and "a----", as mailers generate them) does not end the
//     outer part, and a multipart whose close delimiter is missing or
//     garbled ends at its parent's next delimiter, so the parent's later
//     parts are still read (go-message #129). Where a line could be either
//     (outer "ab", inner "a", line "--ab"), the inner multipart takes it,
//     as Dovecot and stalwart do; mime4j gives the outer one precedence,
//     but that cuts the "b"/"b-1" mail short, which is the commoner case.
//   - Boundaries are matched case-sensitively; only a multipart whose
//     boundary appears on no line as it is declared is matched ignoring
//     case, since some mailers change the case of the parameter.
//   - A part's header ends at the first empty line, or at the next
//     delimiter when the empty line is missing (then the body is empty).
//     Lines that are not header fields are skipped, as mime4j and stalwart
//     do, rather than ending the header.
//   - The preamble and epilogue are ignored.

// mimePart is one entity of a message as the splitter read it.
type mimePart struct {
	header message.Header
	// body is the body as sent, still transfer-encoded; for a multipart,
	// everything from its preamble to its epilogue.
	body      []byte
	multipart bool        // a multipart that was split into parts
	parts     []*mimePart // the parts of a multipart, in order
	closed    bool        // a multipart's close delimiter was found
	// usedBoundary is the boundary a multipart's body delimits with when
	// it is not the one declared (a relay rewrote one of them);
	// noDelimiter says the body has no delimiter at all and was read as
	// one text part.
	usedBoundary string
	noDelimiter  bool
}

// splitLimits bound the work of splitting hostile input; the parse
// reports crossing them (see readText).
type splitLimits struct {
	parts int // parts read in all, after which the split stops
	depth int // nesting of multiparts beyond which a multipart is a leaf
}

// splitMessage reads the entity whose header is given and whose body is
// data[bodyStart:].
func splitMessage(data []byte, header message.Header, bodyStart int, limits splitLimits) *mimePart {
	s := &splitter{data: data, limits: limits}
	p := &mimePart{header: header}
	s.readBody(p, bodyStart)
	return p
}

type splitter struct {
	data   []byte
	stack  []boundaryLevel // the open multiparts, outermost first
	limits splitLimits
	parts  int
}

type boundaryLevel struct {
	boundary   []byte
	ignoreCase bool
}

// delimiterLine is a delimiter line the splitter found, or the end of the
// data (level -1).
type delimiterLine struct {
	partEnd int  // where the part before it ends: before the line break that precedes the line
	next    int  // just after the line and its line break
	level   int  // index in splitter.stack of the multipart it belongs to
	close   bool // "--boundary--"
}

func (s *splitter) end() delimiterLine {
	return delimiterLine{partEnd: len(s.data), next: len(s.data), level: -1}
}

// readPart reads the part that starts at start, up to the delimiter line
// that ends it, which it returns.
func (s *splitter) readPart(start int) (*mimePart, delimiterLine) {
	p := &mimePart{}
	i := start
	var field []byte // the field being read, with its continuation lines
	addField := func() {
		if len(field) > 0 && validHeaderLine(field) {
			p.header.AddRaw(field)
		}
		field = nil
	}
	for i < len(s.data) {
		if d, ok := s.delimiterAt(i, start); ok { // no empty line: no body
			addField()
			return p, d
		}
		line, next := s.line(i)
		switch t := bytes.TrimRight(line, "\r\n"); {
		case len(t) == 0: // the empty line that ends the header
			addField()
			return p, s.readBody(p, next)
		case t[0] == ' ' || t[0] == '\t':
			if field != nil { // else a continuation with nothing to continue: skipped
				field = s.data[i-len(field) : next]
			}
		default:
			addField()
			field = line
		}
		i = next
	}
	addField()
	return p, s.end()
}

// readBody reads the body of p, which starts at start, sets p.body, and
// returns the delimiter line that ends it.
func (s *splitter) readBody(p *mimePart, start int) delimiterLine {
	boundary := s.boundaryOf(p.header)
	if boundary == "" || len(s.stack) > s.limits.depth || s.parts > s.limits.parts {
		d := s.next(start)
		p.body = s.data[start:d.partEnd]
		return d
	}
	p.multipart = true
	s.stack = append(s.stack, boundaryLevel{boundary: []byte(boundary)})
	own := len(s.stack) - 1
	defer func() { s.stack = s.stack[:own] }()

	d := s.next(start) // the end of the preamble
	if d.level != own {
		// Not one delimiter of its own before its parent's next one: try
		// the boundary without regard to case.
		s.stack[own].ignoreCase = true
		if d2 := s.next(start); d2.level == own {
			d = d2
		} else {
			s.stack[own].ignoreCase = false
		}
	}
	if d.level != own {
		// Still none: some bounces declare one boundary and delimit with
		// another. Take the one the body uses, if it clearly uses one.
		if used := usedBoundary(s.data[start:d.partEnd]); used != "" {
			s.stack[own] = boundaryLevel{boundary: []byte(used)}
			if d2 := s.next(start); d2.level == own {
				d, p.usedBoundary = d2, used
			} else {
				s.stack[own] = boundaryLevel{boundary: []byte(boundary)}
			}
		}
	}
	if d.level != own {
		// No delimiter at all: the body is one text part, so the text a
		// person or an MTA wrote there is not lost.
		p.noDelimiter = true
		p.parts = []*mimePart{{body: s.data[start:d.partEnd]}}
		s.parts++
	}
	for d.level == own && !d.close {
		if s.parts++; s.parts > s.limits.parts {
			d = s.end() // enough: the caller reports it
			break
		}
		var part *mimePart
		part, d = s.readPart(d.next)
		p.parts = append(p.parts, part)
	}
	if d.level == own { // the close delimiter; the epilogue runs to the parent's next delimiter
		p.closed = true
		s.stack = s.stack[:own]
		d = s.next(d.next)
	}
	p.body = s.data[start:max(start, d.partEnd)]
	return d
}

// usedBoundary finds the boundary a multipart body delimits with, when it
// is not the declared one: a "--token" line whose token also closes the
// body ("--token--") or starts two or more parts. Lines of only dashes and
// lines with white space in them (sendmail's "----- Transcript … -----")
// are not delimiters.
func usedBoundary(body []byte) string {
	type seen struct {
		first, count int
		closes       bool
	}
	tokens := map[string]*seen{}
	order := 0
	for len(body) > 0 {
		line, rest, _ := bytes.Cut(body, []byte("\n"))
		body = rest
		line = bytes.TrimRight(line, " \t\r")
		if len(line) < 3 || line[0] != '-' || line[1] != '-' || len(line) > 74 || bytes.ContainsAny(line, " \t") || len(bytes.Trim(line, "-")) == 0 {
			continue
		}
		token := string(line[2:])
		closes := false
		if base, ok := strings.CutSuffix(token, "--"); ok && tokens[base] != nil {
			token, closes = base, true
		}
		t := tokens[token]
		if t == nil {
			order++
			t = &seen{first: order}
			tokens[token] = t
		}
		if closes {
			t.closes = true
		} else {
			t.count++
		}
	}
	best, bestFirst := "", 0
	for token, t := range tokens {
		if (t.count >= 1 && t.closes || t.count >= 2) && (best == "" || t.first < bestFirst) {
			best, bestFirst = token, t.first
		}
	}
	return best
}

// repairs lists what the split had to repair in p and its parts, for
// Inbound.Problems.
func (p *mimePart) repairs(path []int) []string {
	var out []string
	declared := func() string {
		_, params, err := p.header.ContentType()
		if err != nil {
			_, params = lenientMediaType(p.header.Get("Content-Type"))
		}
		return params["boundary"]
	}
	switch {
	case p.usedBoundary != "":
		out = append(out, fmt.Sprintf("part %v: the body delimits with boundary %q, not the declared %q; read with it", path, p.usedBoundary, declared()))
	case p.noDelimiter:
		out = append(out, fmt.Sprintf("part %v: multipart without any delimiter of boundary %q; its body read as text", path, declared()))
	}
	for i, c := range p.parts {
		out = append(out, c.repairs(append(path[:len(path):len(path)], i))...)
	}
	return out
}

// boundaryOf returns the boundary of a multipart header, read as leniently
// as readPartInfo reads it (a malformed Content-Type is common), or "".
func (s *splitter) boundaryOf(h message.Header) string {
	raw := strings.TrimSpace(h.Get("Content-Type"))
	if len(raw) < len("multipart/") || !strings.EqualFold(raw[:len("multipart/")], "multipart/") {
		return "" // not a multipart: spare the parameter parsing
	}
	t, params, err := h.ContentType()
	if err != nil {
		t, params = lenientMediaType(raw)
	}
	if !strings.HasPrefix(strings.ToLower(t), "multipart/") {
		return ""
	}
	return params["boundary"]
}

// line returns the line at i, with its line break, and where the next
// one starts.
func (s *splitter) line(i int) ([]byte, int) {
	j := bytes.IndexByte(s.data[i:], '\n')
	if j < 0 {
		return s.data[i:], len(s.data)
	}
	return s.data[i : i+j+1], i + j + 1
}

var lineDashes = []byte("\n--")

// next finds the first delimiter line at or after from, a line start.
func (s *splitter) next(from int) delimiterLine {
	if len(s.stack) == 0 {
		return s.end()
	}
	if d, ok := s.delimiterAt(from, from); ok {
		return d
	}
	for i := from; i < len(s.data); {
		j := bytes.Index(s.data[i:], lineDashes)
		if j < 0 {
			break
		}
		i += j + 1
		if d, ok := s.delimiterAt(i, from); ok {
			return d
		}
	}
	return s.end()
}

// delimiterAt reports whether the line at i, a line start, is a delimiter
// of an open multipart, the innermost first. Text before from is not part
// of the part it may end.
func (s *splitter) delimiterAt(i, from int) (delimiterLine, bool) {
	rest := s.data[i:]
	if len(rest) < 2 || rest[0] != '-' || rest[1] != '-' {
		return delimiterLine{}, false
	}
	rest = rest[2:]
	for l := len(s.stack) - 1; l >= 0; l-- {
		b := s.stack[l]
		if len(rest) < len(b.boundary) {
			continue
		}
		if !bytes.Equal(rest[:len(b.boundary)], b.boundary) && (!b.ignoreCase || !bytes.EqualFold(rest[:len(b.boundary)], b.boundary)) {
			continue
		}
		after := rest[len(b.boundary):]
		d := delimiterLine{level: l, close: len(after) >= 2 && after[0] == '-' && after[1] == '-'}
		_, d.next = s.line(i)
		d.partEnd = i
		if d.partEnd > from && s.data[d.partEnd-1] == '\n' {
			d.partEnd--
			if d.partEnd > from && s.data[d.partEnd-1] == '\r' {
				d.partEnd--
			}
		}
		return d, true
	}
	return delimiterLine{}, false
}

// entity makes the part a go-message entity, whose Body decodes the
// transfer encoding and, for text, the charset, except for a text file
// the sender attached: a file is kept as the bytes it was (a CSV in
// ISO-8859-1 stays ISO-8859-1), and its charset goes with it in
// Attachment.ContentType.
func (p *mimePart) entity() (*message.Entity, error) {
	decodeWith := p.header
	if !p.multipart && isTextFile(p.header) {
		decodeWith = withoutCharset(p.header)
	}
	body := io.Reader(bytes.NewReader(p.body))
	if !p.multipart && strings.EqualFold(strings.TrimSpace(p.header.Get("Content-Transfer-Encoding")), "base64") {
		// RFC 2045 §6.8: characters outside the base64 alphabet "must be
		// ignored", as mime4j and most mail clients do; go-message's
		// decoder stops at the first one (a garbled delimiter, say) and
		// loses the rest of the part.
		decodeWith = decodeWith.Copy()
		decodeWith.Del("Content-Transfer-Encoding")
		body = base64.NewDecoder(base64.StdEncoding, &base64Alphabet{r: body})
	}
	e, err := message.New(decodeWith, body)
	if e != nil {
		e.Header = p.header
	}
	return e, err
}

// isTextFile reports whether h is the header of a text part that
// readText keeps as a file (see partInfo.isFile).
func isTextFile(h message.Header) bool {
	ct := strings.TrimSpace(h.Get("Content-Type"))
	if len(ct) < 5 || !strings.EqualFold(ct[:5], "text/") {
		return false
	}
	if !h.Has("Content-Disposition") && !strings.Contains(strings.ToLower(ct), "name") {
		return false // neither a disposition nor a name: a body part
	}
	return readPartInfo(h).isFile()
}

// withoutCharset returns a copy of h whose Content-Type has no charset
// parameter, so go-message leaves the bytes as they are.
func withoutCharset(h message.Header) message.Header {
	t, params, err := h.ContentType()
	if err != nil || params["charset"] == "" {
		return h
	}
	delete(params, "charset")
	c := h.Copy()
	c.SetContentType(t, params)
	return c
}

// base64Alphabet passes on only the characters of the base64 alphabet and
// its padding.
type base64Alphabet struct{ r io.Reader }

func (f *base64Alphabet) Read(b []byte) (int, error) {
	for {
		n, err := f.r.Read(b)
		k := 0
		for _, c := range b[:n] {
			if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=' {
				b[k] = c
				k++
			}
		}
		if k > 0 || err != nil || n == 0 {
			return k, err
		}
	}
}
