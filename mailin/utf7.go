package mailin

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/transform"
)

// utf7Encoding decodes UTF-7 (RFC 2152), which old Outlook Express and some
// webmailers still label mail with and golang.org/x/text does not provide.
// Only decoding is needed: casegate never writes UTF-7.
type utf7Encoding struct{}

func (utf7Encoding) NewDecoder() *encoding.Decoder {
	return &encoding.Decoder{Transformer: &utf7Decoder{}}
}

func (utf7Encoding) NewEncoder() *encoding.Encoder {
	return &encoding.Encoder{Transformer: utf7NoEncoder{}}
}

var errNoUTF7Encoder = errors.New("mailin: encoding to UTF-7 is not supported")

type utf7NoEncoder struct{ transform.NopResetter }

func (utf7NoEncoder) Transform(dst, src []byte, atEOF bool) (int, int, error) {
	return 0, 0, errNoUTF7Encoder
}

// utf7Decoder keeps its base64 state between calls, so a long encoded run
// may span any number of input buffers.
type utf7Decoder struct {
	inBase64 bool
	bits     uint32
	nbits    uint
	high     rune // a pending UTF-16 high surrogate, or 0
}

func (d *utf7Decoder) Reset() { *d = utf7Decoder{} }

func base64Value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}

func (d *utf7Decoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		if len(dst)-nDst < utf8.UTFMax {
			return nDst, nSrc, transform.ErrShortDst
		}
		c := src[nSrc]
		if !d.inBase64 {
			if c == '+' {
				if nSrc+1 == len(src) && !atEOF {
					return nDst, nSrc, transform.ErrShortSrc
				}
				if nSrc+1 < len(src) && src[nSrc+1] == '-' { // "+-" is a literal "+"
					dst[nDst] = '+'
					nDst++
					nSrc += 2
					continue
				}
				d.inBase64, d.bits, d.nbits = true, 0, 0
				nSrc++
				continue
			}
			if c >= utf8.RuneSelf { // not allowed in UTF-7
				nDst += utf8.EncodeRune(dst[nDst:], utf8.RuneError)
			} else {
				dst[nDst] = c
				nDst++
			}
			nSrc++
			continue
		}
		v := base64Value(c)
		if v < 0 {
			// The run ends; a "-" that ends it is absorbed (RFC 2152, rule 2).
			d.inBase64, d.bits, d.nbits = false, 0, 0
			if d.high != 0 {
				nDst += utf8.EncodeRune(dst[nDst:], utf8.RuneError)
				d.high = 0
			}
			if c == '-' {
				nSrc++
			}
			continue
		}
		d.bits = d.bits<<6 | uint32(v)
		d.nbits += 6
		nSrc++
		if d.nbits < 16 {
			continue
		}
		d.nbits -= 16
		unit := rune(d.bits>>d.nbits) & 0xffff
		d.bits &= 1<<d.nbits - 1
		switch {
		case utf16.IsSurrogate(unit) && unit < 0xdc00:
			d.high = unit
		case utf16.IsSurrogate(unit) && d.high != 0:
			nDst += utf8.EncodeRune(dst[nDst:], utf16.DecodeRune(d.high, unit))
			d.high = 0
		default:
			if utf16.IsSurrogate(unit) {
				unit = utf8.RuneError
			}
			nDst += utf8.EncodeRune(dst[nDst:], unit)
			d.high = 0
		}
	}
	return nDst, nSrc, nil
}
