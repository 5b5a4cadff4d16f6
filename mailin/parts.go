package mailin

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
)

// partInfo is what readText needs to know of a MIME part, read leniently:
// real mail breaks RFC 2045's parameter grammar (unquoted spaces, stray
// semicolons, duplicate parameters), and mime.ParseMediaType then rejects
// the whole field, which would turn a text body into an anonymous
// attachment.
type partInfo struct {
	mediaType   string            // lower case; "text/plain" when absent (RFC 2045 §5.2)
	params      map[string]string // Content-Type parameters, names in lower case
	disposition string            // "inline", "attachment" or ""
	filename    string            // decoded (RFC 2231, RFC 2047), not yet made safe
	// charsetApplied says go-message parsed the Content-Type itself and so
	// has already decoded the body from its declared charset.
	charsetApplied bool
	// strict says go-message could parse the Content-Type; when it could
	// not, it sees a multipart as a single opaque part.
	strict bool
}

func readPartInfo(h message.Header) partInfo {
	var p partInfo
	raw := h.Get("Content-Type")
	t, params, err := h.ContentType()
	if err == nil {
		p.mediaType, p.params, p.strict = strings.ToLower(t), params, true
		_, p.charsetApplied = params["charset"]
	} else {
		p.mediaType, p.params = lenientMediaType(raw)
	}
	if p.mediaType == "" || !strings.Contains(p.mediaType, "/") {
		p.mediaType = "text/plain"
	}
	if p.params == nil {
		p.params = map[string]string{}
	}
	rawDisp := h.Get("Content-Disposition")
	disp, dparams, err := mime.ParseMediaType(rawDisp)
	if err != nil {
		disp, dparams = lenientMediaType(rawDisp)
	}
	p.disposition = strings.ToLower(disp)
	name := dparams["filename"]
	if name == "" {
		name = p.params["name"]
	}
	if name == "" { // RFC 2231 with a charset other than UTF-8, which the standard library drops
		name = rfc2231Value(rawDisp, "filename")
	}
	if name == "" {
		name = rfc2231Value(raw, "name")
	}
	p.filename, _ = decodeHeaderText(name)
	return p
}

// A value is a quoted string, an unterminated quote up to the next ";", or a
// token.
var lenientParam = regexp.MustCompile(`(?i)([a-z0-9_*-]+)\s*=\s*("[^"]*"|"[^";]*|[^;]*)`)

// lenientMediaType reads "type/subtype; a=b; c="d"" without failing: the
// value before the first ";" and every name=value pair it can find.
func lenientMediaType(v string) (string, map[string]string) {
	t, rest, _ := strings.Cut(v, ";")
	params := map[string]string{}
	for _, m := range lenientParam.FindAllStringSubmatch(rest, 50) {
		key := strings.ToLower(m[1])
		val := strings.TrimSpace(m[2])
		val = strings.TrimSuffix(strings.TrimPrefix(val, `"`), `"`)
		if _, seen := params[key]; !seen {
			params[key] = val
		}
	}
	return strings.ToLower(strings.TrimSpace(t)), params
}

var rfc2231Param = regexp.MustCompile(`(?i)\b([a-z]+)\*(\d+)?(\*)?\s*=\s*("[^"]*"|[^;\s]*)`)

// rfc2231Value reassembles an RFC 2231 parameter (continuations, charset
// and percent-encoding) in any charset go-message knows.
func rfc2231Value(field, name string) string {
	type piece struct {
		n       int
		encoded bool
		val     string
	}
	var pieces []piece
	for _, m := range rfc2231Param.FindAllStringSubmatch(field, 100) {
		if !strings.EqualFold(m[1], name) {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		encoded := m[3] != "" || m[2] == ""
		pieces = append(pieces, piece{n, encoded, strings.Trim(m[4], `"`)})
	}
	if len(pieces) == 0 {
		return ""
	}
	sort.SliceStable(pieces, func(i, j int) bool { return pieces[i].n < pieces[j].n })
	label := ""
	var b strings.Builder
	for i, p := range pieces {
		v := p.val
		if i == 0 && p.encoded {
			if parts := strings.SplitN(v, "'", 3); len(parts) == 3 {
				label, v = parts[0], parts[2]
			}
		}
		if p.encoded {
			if u, err := url.PathUnescape(v); err == nil {
				v = u
			}
		}
		b.WriteString(v)
	}
	s := b.String()
	if label != "" && !strings.EqualFold(label, "utf-8") && !strings.EqualFold(label, "us-ascii") {
		if r, err := charset.Reader(label, strings.NewReader(s)); err == nil {
			if out, err := readAllString(r); err == nil {
				return out
			}
		}
	}
	return s
}

var bracketed = regexp.MustCompile(`<([^<>\s@]+)>`)

// bareAddress takes the "moderator" of "Moderator <moderator>": a local
// part without a domain, which RFC 5322 forbids and mailing-list software
// writes anyway. It is kept so the message has a sender to show.
func bareAddress(v string) string {
	if m := bracketed.FindStringSubmatch(v); m != nil {
		return m[1]
	}
	return ""
}

// reparseMultipart gives a multipart whose Content-Type go-message could
// not parse (a duplicate or malformed parameter) a clean one, so its parts
// are read after all. It returns nil when there is nothing to do.
func reparseMultipart(part *message.Entity, p partInfo) *message.Entity {
	boundary := p.params["boundary"]
	if p.strict || boundary == "" || !strings.HasPrefix(p.mediaType, "multipart/") {
		return nil
	}
	h := part.Header.Copy()
	h.Set("Content-Type", mime.FormatMediaType(p.mediaType, map[string]string{"boundary": boundary}))
	h.Del("Content-Transfer-Encoding") // the body is read as is, as go-message reads any multipart
	e, err := message.New(h, part.Body)
	if err != nil || e.MultipartReader() == nil {
		return nil
	}
	return e
}

// walkParts is message.Entity.Walk with two differences that keep parts
// of damaged mail. A damaged multipart (a missing close delimiter,
// go-message #129, or a malformed part header) ends only itself: its
// parent's later parts are still read, because the parent's reader stops
// at its own boundary whatever the child did. And parts are split by the
// standard library's mime/multipart, which, as RFC 2046 §5.1.1 says, takes
// a delimiter only when white space or "--" follows it: go-message's copy
// ends a part at any "-", so an inner boundary that begins with the outer
// one ("--b" and "--b-1", as real mailers generate them) cut messages short.
func walkParts(e *message.Entity, path []int, entityErr error, visit message.WalkFunc, problems *[]string) error {
	if err := visit(path, e, entityErr); err != nil {
		return err
	}
	if entityErr != nil && !message.IsUnknownCharset(entityErr) && !message.IsUnknownEncoding(entityErr) {
		return nil
	}
	t, params, err := e.Header.ContentType()
	if err != nil || !strings.HasPrefix(strings.ToLower(t), "multipart/") || params["boundary"] == "" {
		return nil
	}
	// The body is read once so that, should the standard library refuse a
	// part's header (a control character in a filename, say), go-message's
	// more lenient reader can take over from that part.
	body, err := io.ReadAll(e.Body)
	if err != nil {
		*problems = append(*problems, fmt.Sprintf("part %v: %v", path, err))
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for i := 0; ; i++ {
		raw, err := mr.NextRawPart()
		if err == io.EOF {
			return nil
		}
		sub := append(append([]int(nil), path...), i)
		if err != nil {
			*problems = append(*problems, fmt.Sprintf("part %v: %v; read leniently from here", sub, err))
			return walkLenient(e.Header, body, path, i, visit, problems)
		}
		var h message.Header
		for k, vs := range raw.Header {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
		part, err := message.New(h, raw)
		if err := walkParts(part, sub, err, visit, problems); err != nil {
			return err
		}
	}
}

// walkLenient visits the parts of a multipart body from part number from
// on, split by go-message, which accepts header lines the standard
// library refuses.
func walkLenient(h message.Header, body []byte, path []int, from int, visit message.WalkFunc, problems *[]string) error {
	e, err := message.New(h, bytes.NewReader(body))
	if err != nil && e == nil {
		return nil
	}
	mr := e.MultipartReader()
	if mr == nil {
		return nil
	}
	for i := 0; ; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		sub := append(append([]int(nil), path...), i)
		if err != nil && part == nil {
			*problems = append(*problems, fmt.Sprintf("part %v: %v; the rest of this multipart is kept raw only", sub, err))
			return nil
		}
		if i < from {
			continue
		}
		if err := walkParts(part, sub, err, visit, problems); err != nil {
			return err
		}
	}
}
