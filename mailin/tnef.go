package mailin

import (
	"casegate/vocab"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// TNEF (MS-OXTNEF) is how Outlook wraps a message's attachments and rich
// body into one "winmail.dat" part (application/ms-tnef). No maintained Go
// library for it is on the module proxy, so this is a small decoder of the
// parts staff need: the attached files, and the RTF or HTML body, named
// body.rtf and body.html as MimeKit names them. It reads defensively: every
// length is checked against what is left, and a damaged stream yields what
// was decoded before the damage plus an error.

const tnefSignature = 0x223e9f78

// TNEF attribute ids (MS-OXTNEF §2.1.3.1), without their type bits.
const (
	attBody        = 0x800c
	attAttachData  = 0x800f
	attAttachTitle = 0x8010
	attAttachRend  = 0x9002 // starts an attachment
	attMsgProps    = 0x9003
	attAttachment  = 0x9005 // an attachment's MAPI properties
	attOemCodepage = 0x9007
)

// MAPI property ids and types (MS-OXPROPS, MS-OXCDATA §2.11.1).
const (
	prBody             = 0x1000
	prRTFCompressed    = 0x1009
	prBodyHTML         = 0x1013
	prDisplayName      = 0x3001
	prAttachDataObj    = 0x3701
	prAttachFilename   = 0x3704
	prAttachLongName   = 0x3707
	prAttachMimeTag    = 0x370e
	ptString8          = 0x001e
	ptUnicode          = 0x001f
	ptBinary           = 0x0102
	ptObject           = 0x000d
	ptMultipleValueBit = 0x1000
)

// ErrTNEF marks a winmail.dat that could not be decoded completely.
var ErrTNEF = errors.New("mailin: damaged TNEF stream")

// tnefContent is what a TNEF stream carries.
type tnefContent struct {
	Attachments []vocab.Attachment // files, then body.rtf / body.html
	Text        string             // the plain-text body, when present
	HTML        string             // the HTML body, when present
}

type tnefReader struct {
	b   []byte
	off int
}

func (r *tnefReader) left() int { return len(r.b) - r.off }

func (r *tnefReader) bytes(n int) ([]byte, error) {
	if n < 0 || n > r.left() {
		return nil, fmt.Errorf("%w: %d bytes wanted at offset %d, %d left", ErrTNEF, n, r.off, r.left())
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v, nil
}

func (r *tnefReader) u16() (uint16, error) {
	b, err := r.bytes(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (r *tnefReader) u32() (uint32, error) {
	b, err := r.bytes(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

type tnefAttachment struct {
	title, longName, shortName, displayName, mimeType string
	data                                              []byte
	hasData                                           bool
}

func (a *tnefAttachment) name() string {
	for _, n := range []string{a.longName, a.title, a.shortName, a.displayName} {
		if n != "" {
			return n
		}
	}
	return ""
}

// decodeTNEF unpacks a TNEF stream. On error the content decoded so far is
// still returned.
func decodeTNEF(b []byte) (tnefContent, error) {
	var out tnefContent
	r := &tnefReader{b: b}
	sig, err := r.u32()
	if err != nil || sig != tnefSignature {
		return out, fmt.Errorf("%w: no TNEF signature", ErrTNEF)
	}
	if _, err := r.u16(); err != nil { // legacy key
		return out, err
	}
	var atts []*tnefAttachment
	var cur *tnefAttachment
	var rtf, htmlBody []byte
	var firstErr error
	for r.left() > 0 {
		if _, err := r.bytes(1); err != nil { // level: message or attachment
			firstErr = err
			break
		}
		tag, err := r.u32()
		if err != nil {
			firstErr = err
			break
		}
		n, err := r.u32()
		if err != nil {
			firstErr = err
			break
		}
		data, err := r.bytes(int(n))
		if err != nil {
			firstErr = err
			break
		}
		if _, err := r.u16(); err != nil { // checksum, not verified: damage shows elsewhere
			firstErr = err
			break
		}
		switch tag & 0xffff {
		case attBody:
			out.Text, _ = fallbackText(trimNUL(data))
		case attMsgProps:
			err = readMAPIProps(data, func(id, typ uint16, v []byte) {
				switch id {
				case prRTFCompressed:
					rtf = v
				case prBodyHTML:
					htmlBody = v
				case prBody:
					if out.Text == "" {
						out.Text = mapiString(typ, v)
					}
				}
			})
		case attAttachRend:
			cur = &tnefAttachment{}
			atts = append(atts, cur)
		case attAttachTitle:
			if cur != nil {
				cur.title, _ = fallbackText(trimNUL(data))
			}
		case attAttachData:
			if cur != nil {
				cur.data, cur.hasData = data, true
			}
		case attAttachment:
			if cur == nil {
				break
			}
			err = readMAPIProps(data, func(id, typ uint16, v []byte) {
				switch id {
				case prAttachLongName:
					cur.longName = mapiString(typ, v)
				case prAttachFilename:
					cur.shortName = mapiString(typ, v)
				case prDisplayName:
					cur.displayName = mapiString(typ, v)
				case prAttachMimeTag:
					cur.mimeType = mapiString(typ, v)
				case prAttachDataObj:
					if typ == ptObject && len(v) >= 16 {
						v = v[16:] // the object's interface id comes first
					}
					cur.data, cur.hasData = v, true
				}
			})
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for _, a := range atts {
		if !a.hasData {
			continue
		}
		t := a.mimeType
		if t == "" {
			t = "application/octet-stream"
		}
		out.Attachments = append(out.Attachments, vocab.Attachment{Filename: SafeFilename(a.name()), ContentType: t, Data: a.data})
	}
	if len(rtf) > 0 {
		plain, err := decompressRTF(rtf)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if plain != nil {
			out.Attachments = append(out.Attachments, vocab.Attachment{Filename: "body.rtf", ContentType: "application/rtf", Data: plain})
		}
	}
	if len(htmlBody) > 0 {
		htmlBody = trimNUL(htmlBody)
		out.HTML, _ = fallbackText(htmlBody)
		out.Attachments = append(out.Attachments, vocab.Attachment{Filename: "body.html", ContentType: "text/html", Data: htmlBody})
	}
	return out, firstErr
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// mapiString decodes a string property: UTF-16LE for PT_UNICODE, else the
// 8-bit text of an unknown code page.
func mapiString(typ uint16, v []byte) string {
	if typ == ptUnicode {
		u := make([]uint16, 0, len(v)/2)
		for i := 0; i+1 < len(v); i += 2 {
			u = append(u, binary.LittleEndian.Uint16(v[i:]))
		}
		for len(u) > 0 && u[len(u)-1] == 0 {
			u = u[:len(u)-1]
		}
		return string(utf16.Decode(u))
	}
	s, _ := fallbackText(trimNUL(v))
	return s
}

// fixedSize is the size of one value of a fixed-length MAPI type, before
// padding to 4 bytes (MS-OXTNEF §2.1.3.4).
func fixedSize(typ uint16) (int, bool) {
	switch typ {
	case 0x0000, 0x0001, 0x0003, 0x0004, 0x000a: // unspecified, null, int32, float, error
		return 4, true
	case 0x0002, 0x000b: // int16, boolean
		return 2, true
	case 0x0005, 0x0006, 0x0007, 0x0014, 0x0040: // double, currency, apptime, int64, systime
		return 8, true
	case 0x0048: // GUID
		return 16, true
	}
	return 0, false
}

func pad4(n int) int { return (n + 3) &^ 3 }

// readMAPIProps walks an encoded MAPI property list, calling f with the
// first value of every property.
func readMAPIProps(b []byte, f func(id, typ uint16, v []byte)) error {
	r := &tnefReader{b: b}
	count, err := r.u32()
	if err != nil {
		return err
	}
	for i := uint32(0); i < count; i++ {
		tag, err := r.u32()
		if err != nil {
			return err
		}
		typ, id := uint16(tag), uint16(tag>>16)
		if id >= 0x8000 { // a named property: GUID, then a number or a name
			if _, err := r.bytes(16); err != nil {
				return err
			}
			kind, err := r.u32()
			if err != nil {
				return err
			}
			if kind == 0 {
				if _, err := r.u32(); err != nil {
					return err
				}
			} else {
				n, err := r.u32()
				if err != nil {
					return err
				}
				if _, err := r.bytes(pad4(int(n))); err != nil {
					return err
				}
			}
		}
		base := typ &^ ptMultipleValueBit
		values := uint32(1)
		variable := base == ptString8 || base == ptUnicode || base == ptBinary || base == ptObject
		if variable || typ&ptMultipleValueBit != 0 {
			if values, err = r.u32(); err != nil {
				return err
			}
			if int64(values) > int64(r.left()) {
				return fmt.Errorf("%w: %d values with %d bytes left", ErrTNEF, values, r.left())
			}
		}
		for j := uint32(0); j < values; j++ {
			var v []byte
			if variable {
				n, err := r.u32()
				if err != nil {
					return err
				}
				if v, err = r.bytes(int(n)); err != nil {
					return err
				}
				if _, err := r.bytes(pad4(int(n)) - int(n)); err != nil {
					return err
				}
			} else {
				size, ok := fixedSize(base)
				if !ok {
					return fmt.Errorf("%w: unknown MAPI property type %#04x", ErrTNEF, typ)
				}
				if v, err = r.bytes(pad4(size)); err != nil {
					return err
				}
				v = v[:size]
			}
			if j == 0 {
				f(id, base, v)
			}
		}
	}
	return nil
}

// rtfPrefix is the dictionary every compressed RTF stream starts from
// (MS-OXRTFCP §3.1.3.1).
const rtfPrefix = `{\rtf1\ansi\mac\deff0\deftab720{\fonttbl;}{\f0\fnil \froman \fswiss \fmodern \fscript \fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\colortbl\red0\green0\blue0` + "\r\n" + `\par \pard\plain\f0\fs20\b\i\u\tab\tx`

// decompressRTF expands PR_RTF_COMPRESSED (MS-OXRTFCP): "MELA" streams are
// stored as is, "LZFu" ones are LZ77 against a 4 KiB ring dictionary.
func decompressRTF(b []byte) ([]byte, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("%w: compressed RTF header too short", ErrTNEF)
	}
	rawSize := binary.LittleEndian.Uint32(b[4:])
	kind := string(b[8:12])
	body := b[16:]
	switch kind {
	case "MELA":
		if int(rawSize) < len(body) {
			body = body[:rawSize]
		}
		return append([]byte(nil), body...), nil
	case "LZFu":
	default:
		return nil, fmt.Errorf("%w: compressed RTF of unknown kind %q", ErrTNEF, kind)
	}
	var dict [4096]byte
	copy(dict[:], rtfPrefix)
	w := len(rtfPrefix)
	limit := int(rawSize)
	if limit > 64<<20 {
		limit = 64 << 20
	}
	out := make([]byte, 0, min(limit, 8*len(body)))
	for i := 0; i < len(body); {
		control := body[i]
		i++
		for bit := 0; bit < 8 && i < len(body); bit++ {
			if control&(1<<bit) == 0 {
				c := body[i]
				i++
				out = append(out, c)
				dict[w] = c
				w = (w + 1) % len(dict)
				continue
			}
			if i+1 >= len(body) {
				return out, fmt.Errorf("%w: compressed RTF truncated", ErrTNEF)
			}
			ref := int(body[i])<<8 | int(body[i+1])
			i += 2
			offset, n := ref>>4, ref&0xf+2
			if offset == w {
				return out, nil // the end marker
			}
			for k := 0; k < n; k++ {
				c := dict[(offset+k)%len(dict)]
				out = append(out, c)
				dict[w] = c
				w = (w + 1) % len(dict)
			}
			if len(out) > limit+4096 {
				return out, fmt.Errorf("%w: compressed RTF larger than it says", ErrTNEF)
			}
		}
	}
	return out, nil
}

// isTNEF tells a winmail.dat part by its type or, for mailers that send it
// as application/octet-stream, by its name.
func isTNEF(mediaType, filename string) bool {
	return mediaType == "application/ms-tnef" || mediaType == "application/vnd.ms-tnef" ||
		strings.EqualFold(filename, "winmail.dat")
}

// unpackTNEF replaces a winmail.dat attachment by what it carries and
// keeps its bodies for readText. It reports false, leaving the caller to
// keep winmail.dat as it is, when nothing could be decoded.
func unpackTNEF(in *vocab.Inbound, path []int, b []byte, into *tnefContent) bool {
	c, err := decodeTNEF(b)
	if err != nil {
		in.Problems = append(in.Problems, fmt.Sprintf("attachment %v: winmail.dat: %v", path, err))
	}
	if len(c.Attachments) == 0 && c.Text == "" && c.HTML == "" {
		return false
	}
	in.Attachments = append(in.Attachments, c.Attachments...)
	if into.Text == "" {
		into.Text = c.Text
	}
	if into.HTML == "" {
		into.HTML = c.HTML
	}
	return true
}
