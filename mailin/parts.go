package mailin

import (
	"mime"
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
	rawFilename string            // as found, before decoding
	// charsetApplied says go-message parsed the Content-Type itself and so
	// has already decoded the body from its declared charset.
	charsetApplied bool
	// strict says go-message could parse the Content-Type; when it could
	// not, it sees a multipart as a single opaque part.
	strict bool
}

// isFile says the part is a file the sender attached, not a body part:
// marked as an attachment, not text, or a named text part not marked
// inline.
func (p partInfo) isFile() bool {
	return p.disposition == "attachment" || !strings.HasPrefix(p.mediaType, "text/") || p.filename != "" && p.disposition != "inline"
}

// fileType is the Content-Type an attached file is kept with: its media
// type and, for text, the charset its bytes are in.
func (p partInfo) fileType() string {
	if cs := p.params["charset"]; cs != "" && strings.HasPrefix(p.mediaType, "text/") {
		if t := mime.FormatMediaType(p.mediaType, map[string]string{"charset": strings.ToLower(cs)}); t != "" {
			return t
		}
	}
	return p.mediaType
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
	p.rawFilename = name
	p.filename, _ = decodeHeaderText(name, nil)
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

// walkParts visits p and, depth first, the parts of every multipart in it,
// as message.Entity.Walk does for the tree our splitter read (see
// multipart.go).
func walkParts(p *mimePart, path []int, visit message.WalkFunc) error {
	e, err := p.entity()
	if err := visit(path, e, err); err != nil {
		return err
	}
	for i, part := range p.parts {
		if err := walkParts(part, append(path[:len(path):len(path)], i), visit); err != nil {
			return err
		}
	}
	return nil
}
