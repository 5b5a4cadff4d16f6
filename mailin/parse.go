// Package mailin turns received bytes into a parsed, classified message and
// hands it to threads for filing. It receives over SMTP (RFC 5321, with
// go-smtp) and knows nothing of cases.
//
// Parsing never rejects a message: whatever cannot be decoded is recorded as
// a problem on the message and the raw bytes are kept, so an odd mail costs
// the customer nothing.
package mailin

import (
	"bytes"
	"casegate/vocab"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode every charset go-message knows, not only UTF-8
	"github.com/emersion/go-message/mail"
)

// Parse limits: they bound the cost of hostile input, not what real mail needs.
const (
	maxParts     = 500
	maxDepth     = 20
	maxParseTime = 10 * time.Second
	maxTextBytes = 1 << 20
)

// Parse reads raw into an Inbound. It never fails: problems are listed in
// Inbound.Problems. Envelope fields are left for the caller.
func Parse(raw []byte) *vocab.Inbound {
	in := &vocab.Inbound{Raw: raw}
	body := raw
	if i := headerEnd(raw); i >= 0 {
		body = raw[i:]
	}
	sum := sha256.Sum256(body)
	in.BodySHA256 = sum[:]

	parseable, fixes := repairForParsing(raw)
	in.Problems = append(in.Problems, fixes...)
	e, err := message.Read(bytes.NewReader(parseable))
	if err != nil && e == nil {
		in.Problems = append(in.Problems, "header: "+err.Error())
		in.MessageID = syntheticMessageID(raw)
		in.Text = validText(body)
		storable(in)
		return in
	}
	if err != nil {
		in.Problems = append(in.Problems, err.Error())
	}
	h := mail.Header{Header: e.Header}
	guess := newCharsetGuess(parseable)
	readHeader(in, h, guess)
	classify(in, h)
	classifySafety(in, h)
	readText(in, e.Header, parseable, guess)
	in.Signature = Signature(in.NewText, in.From.Name)                     // signature.go
	readLanguages(in, h.Get("Content-Language"), h.Get("Accept-Language")) // language.go
	readDSN(in)
	storable(in)
	return in
}

func readHeader(in *vocab.Inbound, h mail.Header, guess *charsetGuess) {
	from, problems := readAddresses(h, "From", guess)
	in.Problems = append(in.Problems, problems...)
	switch {
	case len(from) == 0:
		in.Problems = append(in.Problems, "no From address")
	default:
		in.From = *from[0]
		if len(from) > 1 || len(h.Values("From")) > 1 {
			in.MultipleFrom = true
			in.Problems = append(in.Problems, "more than one From address")
		}
	}
	for _, field := range []struct {
		key  string
		list *[]mail.Address
	}{{"To", &in.To}, {"Cc", &in.Cc}} {
		list, problems := readAddresses(h, field.key, guess)
		in.Problems = append(in.Problems, problems...)
		for _, a := range list {
			*field.list = append(*field.list, *a)
		}
	}

	subject, guessed := decodeHeaderText(h.Get("Subject"), guess)
	if guessed != "" {
		in.Problems = append(in.Problems, "Subject: decoded as "+guessed)
	}
	in.Subject = strings.Join(strings.Fields(validText([]byte(subject))), " ")
	in.Date, _ = h.Date() // zero when missing or unreadable

	id, err := h.MessageID()
	if err != nil || id == "" {
		id = looseIDs(h.Get("Message-Id"))
	}
	if id == "" {
		id = syntheticMessageID(in.Raw)
		in.Problems = append(in.Problems, "no Message-ID; synthesised "+id)
	}
	in.MessageID = validText([]byte(id))
	in.InReplyTo = msgIDs(h, "In-Reply-To")
	in.References = msgIDs(h, "References")
}

var idPattern = regexp.MustCompile(`<([^<>\s]+)>`)

// msgIDs reads a list of message ids, leniently: real mail breaks the
// RFC 5322 grammar often enough that a strict parse would lose threading.
func msgIDs(h mail.Header, key string) []string {
	ids, err := h.MsgIDList(key)
	if err == nil {
		for i := range ids {
			ids[i] = validText([]byte(ids[i]))
		}
		return ids
	}
	var out []string
	for _, m := range idPattern.FindAllStringSubmatch(h.Get(key), 100) {
		out = append(out, validText([]byte(m[1])))
	}
	return out
}

func looseIDs(v string) string {
	if m := idPattern.FindStringSubmatch(v); m != nil {
		return m[1]
	}
	return strings.TrimSpace(v)
}

var addrPattern = regexp.MustCompile(`[^\s<>"(),;:]+@[^\s<>"(),;:]+`)

func looseAddress(v string) string {
	if a := addrPattern.FindString(v); a != "" {
		return a
	}
	return bareAddress(v) // "Name <local>" with no domain, as list software writes it
}

// syntheticMessageID names a message that has no Message-ID by the hash of
// its bytes, so a re-delivery of the same bytes is still recognised.
func syntheticMessageID(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "sha256-" + hex.EncodeToString(sum[:16]) + "@casegate.invalid"
}

// Subjects mail clients give the vacation notes they generate.
var autoReplySubject = regexp.MustCompile(`(?i)^(auto(matic)?[ -]?reply|autosvar|réponse automatique|automatische antwort|respuesta automática)\s*:`)

// classify marks mail that must never be answered automatically (RFC 3834
// §2; the header set Request Tracker and Zammad check).
func classify(in *vocab.Inbound, h mail.Header) {
	why := func(reason string) {
		if !in.Automatic {
			in.Automatic, in.Why = true, reason
		}
	}
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && v != "no" {
		why("Auto-Submitted: " + v)
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "bulk", "junk", "list":
		why("Precedence: " + h.Get("Precedence"))
	}
	if h.Has("List-Id") || h.Has("List-Unsubscribe") {
		why("mailing list")
	}
	if h.Has("X-Auto-Response-Suppress") {
		why("X-Auto-Response-Suppress")
	}
	// Vendor auto-reply markers (Apple iCloud, Exchange, common autoresponders).
	for _, key := range []string{"X-Apple-Action", "X-Autoreply", "X-Autorespond", "X-Autoresponder"} {
		if h.Has(key) {
			why(key + ": " + h.Get(key))
		}
	}
	if autoReplySubject.MatchString(in.Subject) {
		why("auto-reply subject")
	}
	if h.Has("X-Casegate-Loop") {
		why("our own mail came back")
	}
	local, _, _ := strings.Cut(strings.ToLower(in.From.Address), "@")
	if local == "mailer-daemon" || local == "postmaster" {
		why("From " + in.From.Address)
	}
	if t, params, _ := h.ContentType(); t == "multipart/report" {
		why("report (" + params["report-type"] + ")")
	}
	classifyMore(in, h)
}

// MarkNullSender records that the envelope sender was "<>": a bounce or
// other notification that must not be answered (RFC 5321 §4.5.5).
func MarkNullSender(in *vocab.Inbound) {
	if !in.Automatic {
		in.Automatic, in.Why = true, "null return path"
	}
}

// readText finds the text a person wrote: the first text/plain part that is
// not an attachment, else the first text/html part turned into text. raw is
// the message as parsed, whose header h go-message has read.
func readText(in *vocab.Inbound, h message.Header, raw []byte, guess *charsetGuess) {
	var plain, html string
	var havePlain, haveHTML bool // an empty body part is still the body
	// plainRanked says the plain text follows the HTML in the same
	// multipart/alternative: the sender ranks it the more faithful
	// (RFC 2046 §5.1.4), so it is the body even when empty. Otherwise an
	// empty plain part gives way to the HTML, as mail clients show it.
	var plainRanked bool
	var htmlPath []int
	alternatives := map[string]bool{} // paths of multipart/alternative parts
	var tnef tnefContent
	parts := 0
	deadline := time.Now().Add(maxParseTime)
	var visit message.WalkFunc
	visit = func(path []int, part *message.Entity, err error) error {
		unknownCharset := false
		if err != nil && part != nil && message.IsUnknownEncoding(err) && isUUEncoding(part.Header.Get("Content-Transfer-Encoding")) {
			err = nil // go-message does not know uuencode; decodeOddEncoding does
		}
		if err != nil {
			in.Problems = append(in.Problems, fmt.Sprintf("part %v: %v", path, err))
			if part == nil || !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				return nil
			}
			// go-message still hands over the part, undecoded: decode it
			// as best we can rather than lose it.
			unknownCharset = message.IsUnknownCharset(err)
		}
		if parts++; parts > maxParts {
			return fmt.Errorf("more than %d parts; the rest is kept raw only", maxParts)
		}
		if len(path) > maxDepth {
			return fmt.Errorf("MIME nesting deeper than %d; the rest is kept raw only", maxDepth)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("parsing took longer than %v; the rest is kept raw only", maxParseTime)
		}
		p := readPartInfo(part.Header)
		if !utf8.ValidString(p.rawFilename) {
			// A raw 8-bit file name: decoded as the message's other raw text.
			p.filename, _ = decodeHeaderText(p.rawFilename, guess)
		}
		t, name := p.mediaType, p.filename
		markReportPart(in, t)
		if strings.HasPrefix(t, "multipart/") {
			if t == "multipart/alternative" {
				alternatives[fmt.Sprint(path)] = true
			}
			if !p.strict && p.params["boundary"] != "" {
				in.Problems = append(in.Problems, fmt.Sprintf("part %v: malformed Content-Type; read with boundary %q", path, p.params["boundary"]))
			}
			return nil // its parts are visited next
		}
		if p.isFile() {
			a := readAttachment(in, path, part) // a text file keeps its charset: see mimePart.entity
			a.Filename, a.ContentType = SafeFilename(name), p.fileType()
			if a.Data != nil && isTNEF(t, name) && unpackTNEF(in, path, a.Data, &tnef) {
				return nil
			}
			in.Attachments = append(in.Attachments, a)
			return nil
		}
		if t != "text/plain" && t != "text/html" || t == "text/plain" && havePlain || t == "text/html" && haveHTML {
			// Not the body: kept as an attachment so nothing is lost
			// (a second text part, text/calendar, text/rfc822-headers, …).
			b, rerr := io.ReadAll(part.Body)
			if rerr != nil {
				in.Problems = append(in.Problems, fmt.Sprintf("attachment %v: %v", path, rerr))
			}
			in.Attachments = append(in.Attachments, vocab.Attachment{Filename: SafeFilename(name), ContentType: t, Data: decodeOddEncoding(in, path, part.Header, b)})
			return nil
		}
		b, rerr := io.ReadAll(io.LimitReader(part.Body, maxTextBytes))
		if rerr != nil {
			in.Problems = append(in.Problems, fmt.Sprintf("part %v (%s; charset %s): %v", path, t, p.params["charset"], rerr))
		}
		text := partText(&in.Problems, guess, path, p, decodeOddEncoding(in, path, part.Header, b), unknownCharset)
		if t == "text/plain" {
			plain, havePlain = text, true
			plainRanked = haveHTML && len(htmlPath) == len(path) && len(path) > 0 &&
				slices.Equal(htmlPath[:len(path)-1], path[:len(path)-1]) && alternatives[fmt.Sprint(path[:len(path)-1])]
		} else {
			html, haveHTML, htmlPath = text, true, path
		}
		return nil
	}
	root := splitMessage(raw, h, bodyStart(raw), splitLimits{parts: maxParts, depth: maxDepth})
	in.Problems = append(in.Problems, root.repairs(nil)...)
	if err := walkParts(root, nil, visit); err != nil {
		in.Problems = append(in.Problems, err.Error())
	}
	switch {
	case plain != "" || havePlain && plainRanked:
		in.Text = plain
	case html != "":
		in.Text = htmlToText(html)
	case tnef.Text != "":
		in.Text = validText([]byte(tnef.Text))
	case tnef.HTML != "":
		in.Text = htmlToText(validText([]byte(tnef.HTML)))
	}
	in.NewText = SplitReply(in.Text)
}

// SafeFilename makes an attachment's name harmless to show and store: the
// last path element only, no control characters, at most 200 bytes. It is
// never used as a file-system path.
func SafeFilename(name string) string {
	name = validText([]byte(name))
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(strings.TrimLeft(name, "."))
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" {
		name = "attachment"
	}
	return name
}

// validText makes b storable as PostgreSQL text: valid UTF-8 without NULs.
func validText(b []byte) string {
	s := string(b)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// bodyStart returns the offset of the body as go-message reads the header:
// just after the first empty line, or the end when there is none.
func bodyStart(raw []byte) int {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			break
		}
		if j == 0 || j == 1 && raw[i] == '\r' {
			return i + j + 1
		}
		i += j + 1
	}
	return len(raw)
}

// headerEnd returns the offset of the body: just after the first empty line.
func headerEnd(raw []byte) int {
	crlf := bytes.Index(raw, []byte("\r\n\r\n"))
	lf := bytes.Index(raw, []byte("\n\n"))
	switch {
	case crlf >= 0 && (lf < 0 || crlf < lf):
		return crlf + 4
	case lf >= 0:
		return lf + 2
	}
	return -1
}
