package mailin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary bytes to Parse: it must not panic and must
// give storable text. Seeds are small odd messages of the corpus; run
// `go test -fuzz FuzzParse ./mailin` to explore further.
func FuzzParse(f *testing.F) {
	dir := corpusDir(f)
	for _, rel := range []string{
		"enmime/testdata/low-quality/bad-header-wrap.raw",
		"enmime/testdata/mail/mime-bad-8bit-filename.raw",
		"stalwart-mail-parser/resources/eml/malformed/005.eml",
		"mikel-mail/spec/fixtures/emails/mime_emails/raw_email7.eml",
		"mimekit/UnitTests/TestData/tnef/ukr.eml",
		"james-mime4j/core/src/test/resources/mimetools-testmsgs/multi-frag.msg",
	} {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("Subject: =?unicode-1-1-utf-7?Q?+AGE-?=\r\nContent-Type: text/plain; charset=utf-7\r\n\r\n+ZeVnLIqe"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := Parse(raw)
		for _, s := range []string{in.Subject, in.Text, in.NewText, in.From.Name, in.From.Address, in.MessageID} {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
				t.Fatalf("not storable text: %q", s)
			}
		}
	})
}

// FuzzTNEF checks the winmail.dat decoder never panics or over-allocates.
func FuzzTNEF(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(corpusDir(f), "mimekit", "UnitTests", "TestData", "tnef", "*.tnef"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, _ := decodeTNEF(b)
		for _, a := range c.Attachments {
			if len(a.Data) > len(b)*64+(1<<20) {
				t.Fatalf("attachment of %d bytes from %d bytes of input", len(a.Data), len(b))
			}
		}
	})
}

func FuzzUTF7AndUU(f *testing.F) {
	f.Add([]byte("+ZeVnLIqe- +- x+2D3eAA"))
	f.Add([]byte("begin 644 x\nM86)C\n`\nend\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := (utf7Encoding{}).NewDecoder().Bytes(b); err == nil && !utf8.Valid(s) {
			t.Fatalf("UTF-7 decoded to invalid UTF-8: %q", s)
		}
		decodeUU(b)
	})
}
