package mailin_test

// The encoders the sample generator (muasamples_test.go) writes mail with.
// They are the generator's own, written from the RFCs and format
// descriptions, and share nothing with casegate's decoders: an expectation
// derived through casegate's code would prove nothing about it.

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"mime/quotedprintable"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// charsetEncoders maps the charset labels the samples use to encoders.
var charsetEncoders = map[string]encoding.Encoding{
	"iso-8859-1":   charmap.ISO8859_1,
	"iso-8859-2":   charmap.ISO8859_2,
	"iso-8859-15":  charmap.ISO8859_15,
	"windows-1252": charmap.Windows1252,
	"windows-1250": charmap.Windows1250,
	"windows-1251": charmap.Windows1251,
	"koi8-r":       charmap.KOI8R,
	"koi8-u":       charmap.KOI8U,
	"iso-8859-5":   charmap.ISO8859_5,
	"ibm866":       charmap.CodePage866,
	"shift_jis":    japanese.ShiftJIS,
	"euc-jp":       japanese.EUCJP,
	"iso-2022-jp":  japanese.ISO2022JP,
	"euc-kr":       korean.EUCKR,
	"gb2312":       simplifiedchinese.HZGB2312, // replaced below: GB2312 is GBK's subset
	"gbk":          simplifiedchinese.GBK,
	"gb18030":      simplifiedchinese.GB18030,
	"big5":         traditionalchinese.Big5,
}

func init() { charsetEncoders["gb2312"] = simplifiedchinese.GBK }

// encodeCharset returns s in the named charset. It panics on a character
// the charset lacks: the sample texts are chosen to fit their charsets.
func encodeCharset(label, s string) []byte {
	switch strings.ToLower(label) {
	case "", "us-ascii", "utf-8":
		for _, r := range s {
			if label == "us-ascii" && r > 0x7f {
				panic(fmt.Sprintf("%q is not US-ASCII", s))
			}
		}
		return []byte(s)
	case "utf-7":
		return []byte(encodeUTF7(s))
	}
	e, ok := charsetEncoders[strings.ToLower(label)]
	if !ok {
		panic("no encoder for " + label)
	}
	b, err := e.NewEncoder().Bytes([]byte(s))
	if err != nil {
		panic(fmt.Sprintf("%q in %s: %v", s, label, err))
	}
	return b
}

// encodeUTF7 writes s in UTF-7 (RFC 2152): the directly encoded characters
// of its Set D, space and line ends as themselves, "+" as "+-", anything
// else as a "+"…"-" run of modified base64 over UTF-16.
func encodeUTF7(s string) string {
	direct := func(r rune) bool {
		return 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' ||
			strings.ContainsRune("'(),-./:? \t\r\n", r)
	}
	var out strings.Builder
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		var b []byte
		for _, u := range utf16.Encode(run) {
			b = binary.BigEndian.AppendUint16(b, u)
		}
		out.WriteString("+" + base64.RawStdEncoding.EncodeToString(b) + "-")
		run = nil
	}
	for _, r := range s {
		switch {
		case direct(r):
			flush()
			out.WriteRune(r)
		case r == '+' && len(run) == 0:
			out.WriteString("+-")
		default:
			run = append(run, r)
		}
	}
	flush()
	return out.String()
}

// encodedWords writes text as RFC 2047 encoded-words in charset with
// encoding 'Q' or 'B', each at most 75 characters, split between
// characters; each word of a stateful charset (ISO-2022-JP) is encoded on
// its own so it starts and ends in ASCII (RFC 1468).
func encodedWords(charset string, enc byte, text string) string {
	prefix := "=?" + charset + "?" + string(enc) + "?"
	word := func(b []byte) string {
		if enc == 'B' {
			return prefix + base64.StdEncoding.EncodeToString(b) + "?="
		}
		return prefix + qWord(b) + "?="
	}
	var words []string
	var pending []rune
	for _, r := range text {
		try := append(pending[:len(pending):len(pending)], r)
		if len(word(encodeCharset(charset, string(try)))) > 75 && len(pending) > 0 {
			words = append(words, word(encodeCharset(charset, string(pending))))
			try = []rune{r}
		}
		pending = try
	}
	if len(pending) > 0 {
		words = append(words, word(encodeCharset(charset, string(pending))))
	}
	return strings.Join(words, " ")
}

// qWord is the "Q" encoding of RFC 2047 §4.2 for a word in a phrase
// (§5(3)): letters, digits and "!*+-/" as themselves, space as "_",
// everything else as =XX.
func qWord(b []byte) string {
	var out strings.Builder
	for _, c := range b {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', strings.IndexByte("!*+-/", c) >= 0:
			out.WriteByte(c)
		case c == ' ':
			out.WriteByte('_')
		default:
			fmt.Fprintf(&out, "=%02X", c)
		}
	}
	return out.String()
}

// rfc2231Value is the extended value of RFC 2231 §4: charset, empty
// language, then the bytes with everything but attribute-chars
// percent-encoded.
func rfc2231Value(charset string, b []byte) string {
	var out strings.Builder
	out.WriteString(charset + "''")
	for _, c := range b {
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			out.WriteByte(c)
		} else {
			fmt.Fprintf(&out, "%%%02X", c)
		}
	}
	return out.String()
}

// rfc2231Continuations splits an extended value into pieces of at most n
// characters, never inside a %XX escape (RFC 2231 §3).
func rfc2231Continuations(value string, n int) []string {
	var pieces []string
	for len(value) > n {
		cut := n
		if i := strings.LastIndexByte(value[:cut], '%'); i >= cut-2 {
			cut = i
		}
		pieces = append(pieces, value[:cut])
		value = value[cut:]
	}
	return append(pieces, value)
}

// quotedPrintable encodes b (text with "\n" line ends) as RFC 2045 §6.7
// quoted-printable, with "\n" line ends in the output too (the message is
// given its line ends last).
func quotedPrintable(b []byte) []byte {
	var out bytes.Buffer
	w := quotedprintable.NewWriter(&out)
	w.Write(b)
	w.Close()
	return bytes.ReplaceAll(out.Bytes(), []byte("\r\n"), []byte("\n"))
}

// base64Lines encodes b in lines of 76 characters (RFC 2045 §6.8).
func base64Lines(b []byte) []byte {
	s := base64.StdEncoding.EncodeToString(b)
	var out bytes.Buffer
	for len(s) > 76 {
		out.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	if s != "" {
		out.WriteString(s + "\n")
	}
	return out.Bytes()
}

// uuencode writes b as one "begin … end" block of POSIX uuencode, 45 bytes
// a line, with "`" for zero.
func uuencode(name string, b []byte) []byte {
	enc := func(v byte) byte {
		if v == 0 {
			return '`'
		}
		return v + ' '
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "begin 644 %s\n", name)
	for len(b) > 0 {
		n := min(45, len(b))
		line := b[:n]
		b = b[n:]
		out.WriteByte(enc(byte(n)))
		for i := 0; i < n; i += 3 {
			var c [3]byte
			copy(c[:], line[i:])
			out.WriteByte(enc(c[0] >> 2))
			out.WriteByte(enc((c[0]<<4 | c[1]>>4) & 0x3f))
			out.WriteByte(enc((c[1]<<2 | c[2]>>6) & 0x3f))
			out.WriteByte(enc(c[2] & 0x3f))
		}
		out.WriteByte('\n')
	}
	out.WriteString("`\nend\n")
	return out.Bytes()
}

// binhex writes a file as BinHex 4.0 (RFC 1741): a header of name, type,
// creator, flags and fork lengths, the data fork, an empty resource fork,
// each followed by its CRC-CCITT; run-length encoded with 0x90; six bits a
// character in lines of 64 between colons.
func binhex(name, fileType, creator string, data []byte) []byte {
	var plain []byte
	header := []byte{byte(len(name))}
	header = append(header, name...)
	header = append(header, 0)
	header = append(header, fileType...)
	header = append(header, creator...)
	header = append(header, 0, 0)
	header = binary.BigEndian.AppendUint32(header, uint32(len(data)))
	header = binary.BigEndian.AppendUint32(header, 0)
	for _, fork := range [][]byte{header, data, nil} {
		plain = append(plain, fork...)
		plain = binary.BigEndian.AppendUint16(plain, crcCCITT(fork))
	}
	// Run-length encoding: a run of 3 to 255 equal bytes becomes the byte,
	// 0x90 and the count; 0x90 itself becomes 0x90 0x00.
	var rle []byte
	for i := 0; i < len(plain); {
		c := plain[i]
		n := 1
		for i+n < len(plain) && plain[i+n] == c && n < 255 {
			n++
		}
		if c == 0x90 {
			rle = append(rle, 0x90, 0x00)
			i++
			continue
		}
		if n >= 3 {
			rle = append(rle, c, 0x90, byte(n))
		} else {
			rle = append(rle, plain[i:i+n]...)
		}
		i += n
	}
	const alphabet = "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr"
	var chars []byte
	for i := 0; i < len(rle); i += 3 {
		var c [3]byte
		n := copy(c[:], rle[i:])
		v := uint32(c[0])<<16 | uint32(c[1])<<8 | uint32(c[2])
		for k := 0; k < n+1; k++ {
			chars = append(chars, alphabet[v>>(18-6*k)&0x3f])
		}
	}
	text := append([]byte{':'}, chars...)
	text = append(text, ':')
	var out bytes.Buffer
	out.WriteString("(This file must be converted with BinHex 4.0)\n\n")
	for len(text) > 64 {
		out.Write(text[:64])
		out.WriteByte('\n')
		text = text[64:]
	}
	out.Write(text)
	out.WriteByte('\n')
	return out.Bytes()
}

// crcCCITT is the CRC of BinHex: polynomial 0x1021, initial value 0.
func crcCCITT(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// ballPNG draws a filled disc of the given colour on white, size×size
// pixels, as a PNG whose image data is stored uncompressed: the bytes
// depend on nothing but the arguments (compress/flate's output may change
// between Go releases; stored deflate blocks cannot).
func ballPNG(size int, r, g, b byte) []byte {
	raw := make([]byte, 0, size*(1+3*size))
	c := float64(size-1) / 2
	for y := range size {
		raw = append(raw, 0) // filter: none
		for x := range size {
			dx, dy := float64(x)-c, float64(y)-c
			if dx*dx+dy*dy <= c*c {
				raw = append(raw, r, g, b)
			} else {
				raw = append(raw, 0xff, 0xff, 0xff)
			}
		}
	}
	zlib := []byte{0x78, 0x01}
	for rest := raw; ; {
		n := min(len(rest), 0xffff)
		final := byte(0)
		if n == len(rest) {
			final = 1
		}
		zlib = append(zlib, final)
		zlib = binary.LittleEndian.AppendUint16(zlib, uint16(n))
		zlib = binary.LittleEndian.AppendUint16(zlib, ^uint16(n))
		zlib = append(zlib, rest[:n]...)
		rest = rest[n:]
		if final == 1 {
			break
		}
	}
	zlib = binary.BigEndian.AppendUint32(zlib, adler32.Checksum(raw))

	out := []byte("\x89PNG\r\n\x1a\n")
	chunk := func(kind string, data []byte) {
		out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
		start := len(out)
		out = append(out, kind...)
		out = append(out, data...)
		out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(size))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(size))
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit RGB, deflate, no filter method, no interlace
	chunk("IHDR", ihdr)
	chunk("IDAT", zlib)
	chunk("IEND", nil)
	return out
}

// pseudoRandom returns n bytes from a fixed xorshift sequence: stand-in
// content for binary documents, the same on every run.
func pseudoRandom(seed uint64, n int) []byte {
	out := make([]byte, n)
	x := seed | 1
	for i := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out[i] = byte(x >> 24)
	}
	return out
}

// isASCII reports whether s needs no encoding in a header.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
