package mailin

import (
	"bytes"
	"casegate/vocab"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// expectation is what a message decodes to, as stalwart-mail-parser's
// .json files say (Apache-2.0/MIT, see the corpus README) or as the
// generator of casegate-mua-samples wrote it (muasamples_test.go): its
// subject, its first From address, its first text body and its
// attachments.
type expectation struct {
	subject     *string
	from        string
	fromName    *string  // the decoded display name; nil when not known
	text        *string  // nil when the first text body is HTML or absent
	textHas     []string // phrases the text must hold (an HTML-only body)
	attachments []expectedAttachment
}

type expectedAttachment struct {
	name   string
	size   int  // decoded bytes
	binary bool // size is comparable (text attachments are re-encoded by the upstream parser)
	// uuencoded: the upstream parser leaves x-uuencode undecoded, so its
	// size is that of the encoded text; we decode it (see decodeUU).
	uuencoded bool
}

// stalwartPart is one part of a stalwart-mail-parser .json expectation.
type stalwartPart struct {
	Headers []struct {
		Name  json.RawMessage `json:"name"`
		Value json.RawMessage `json:"value"`
	} `json:"headers"`
	Body map[string]json.RawMessage `json:"body"`
}

type stalwartMessage struct {
	TextBody    []int          `json:"text_body"`
	Attachments []int          `json:"attachments"`
	Parts       []stalwartPart `json:"parts"`
}

func loadExpectations(t *testing.T, dir string) map[string]expectation {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "stalwart-mail-parser", "resources", "eml", "*", "*.json"))
	if err != nil || len(files) < 50 {
		t.Fatalf("corpus: stalwart-mail-parser expectations missing (%d found, %v)", len(files), err)
	}
	out := map[string]expectation{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m stalwartMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		rel, _ := filepath.Rel(dir, strings.TrimSuffix(f, ".json")+".eml")
		out[filepath.ToSlash(rel)] = m.expectation()
	}
	for rel, e := range loadMUASampleExpectations(t, dir) {
		out[rel] = e
	}
	return out
}

// muaSampleFile is the .json the generator writes beside each message of
// casegate-mua-samples: its own ground truth.
type muaSampleFile struct {
	Subject      string   `json:"subject"`
	From         string   `json:"from"`
	FromName     string   `json:"from_name"`
	Text         *string  `json:"text"`
	TextContains []string `json:"text_contains"`
	Attachments  []struct {
		Name string `json:"name"`
		Size int    `json:"size"`
	} `json:"attachments"`
}

func loadMUASampleExpectations(t *testing.T, dir string) map[string]expectation {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "casegate-mua-samples", "*.json"))
	if err != nil || len(files) < 54 {
		t.Fatalf("corpus: casegate-mua-samples expectations missing (%d found, %v)", len(files), err)
	}
	odd, err := filepath.Glob(filepath.Join(dir, "casegate-odd-samples", "*.json"))
	if err != nil || len(odd) < 16 {
		t.Fatalf("corpus: casegate-odd-samples expectations missing (%d found, %v)", len(odd), err)
	}
	files = append(files, odd...)
	out := map[string]expectation{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m muaSampleFile
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		e := expectation{subject: &m.Subject, from: m.From, fromName: &m.FromName, text: m.Text, textHas: m.TextContains}
		for _, a := range m.Attachments {
			e.attachments = append(e.attachments, expectedAttachment{name: a.Name, size: a.Size, binary: true})
		}
		rel, _ := filepath.Rel(dir, strings.TrimSuffix(f, ".json")+".eml")
		out[filepath.ToSlash(rel)] = e
	}
	return out
}

func (m stalwartMessage) expectation() expectation {
	var e expectation
	if len(m.Parts) == 0 {
		return e
	}
	for _, h := range m.Parts[0].Headers {
		switch string(h.Name) {
		case `"subject"`:
			var v struct{ Text *string }
			if json.Unmarshal(h.Value, &v) == nil && v.Text != nil && e.subject == nil {
				e.subject = v.Text
			}
		case `"from"`:
			var v struct {
				Address struct {
					List []struct {
						Address string `json:"address"`
					}
				}
			}
			if json.Unmarshal(h.Value, &v) == nil && len(v.Address.List) > 0 && e.from == "" {
				e.from = v.Address.List[0].Address
			}
		}
	}
	if len(m.TextBody) > 0 && m.TextBody[0] < len(m.Parts) {
		if raw, ok := m.Parts[m.TextBody[0]].Body["Text"]; ok {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				e.text = &s
			}
		}
	}
	for _, i := range m.Attachments {
		if i >= len(m.Parts) {
			continue
		}
		p := m.Parts[i]
		a := expectedAttachment{name: p.filename(), uuencoded: isUUEncoding(p.header("content_transfer_encoding"))}
		if a.name == "" {
			continue // unnamed parts: nothing to compare a name with
		}
		for kind, raw := range p.Body {
			switch kind {
			case "Binary", "InlineBinary":
				var data []int // the decoded bytes, as numbers
				if json.Unmarshal(raw, &data) == nil {
					a.size, a.binary = len(data), true
				}
				if a.uuencoded {
					b := make([]byte, len(data))
					for i, v := range data {
						b[i] = byte(v)
					}
					if decoded, err := decodeUU(b); err == nil {
						a.size = len(decoded)
					}
				}
			}
		}
		e.attachments = append(e.attachments, a)
	}
	return e
}

func (p stalwartPart) header(name string) string {
	for _, h := range p.Headers {
		if string(h.Name) == `"`+name+`"` {
			var v struct{ Text string }
			if json.Unmarshal(h.Value, &v) == nil {
				return v.Text
			}
		}
	}
	return ""
}

func (p stalwartPart) filename() string {
	var name string
	for _, h := range p.Headers {
		n := string(h.Name)
		if n != `"content_disposition"` && n != `"content_type"` {
			continue
		}
		var v struct {
			ContentType struct {
				Attributes []struct {
					Name  string `json:"name"`
					Value string `json:"value"`
				} `json:"attributes"`
			}
		}
		if json.Unmarshal(h.Value, &v) != nil {
			continue
		}
		for _, a := range v.ContentType.Attributes {
			if a.Name == "filename" || a.Name == "name" && name == "" {
				name = a.Value
			}
		}
	}
	return name
}

// check compares in with the expectation, reporting each mismatch through
// fail, and returns how many checks it made and how many matched.
func (e expectation) check(in *vocab.Inbound, fail func(check, format string, args ...any)) (checks, ok int) {
	if e.subject != nil {
		checks++
		want := strings.Join(strings.Fields(*e.subject), " ")
		if sameDecoded(in.Subject, want) {
			ok++
		} else {
			fail("expect-subject", "subject %q, want %q", in.Subject, want)
		}
	}
	if e.from != "" {
		checks++
		if strings.EqualFold(in.From.Address, e.from) {
			ok++
		} else {
			fail("expect-from", "from %q, want %q", in.From.Address, e.from)
		}
	}
	if e.fromName != nil {
		checks++
		if in.From.Name == *e.fromName {
			ok++
		} else {
			fail("expect-from-name", "from name %q, want %q", in.From.Name, *e.fromName)
		}
	}
	if len(e.textHas) > 0 {
		checks++
		missing := ""
		for _, p := range e.textHas {
			if !strings.Contains(strings.Join(strings.Fields(in.Text), " "), p) {
				missing = p
				break
			}
		}
		if missing == "" {
			ok++
		} else {
			fail("expect-text", "text %.80q… lacks %q", normaliseText(in.Text), missing)
		}
	}
	if e.text != nil {
		checks++
		// PostgreSQL text cannot hold NUL, so we drop NULs by design.
		if sameDecoded(normaliseText(in.Text), normaliseText(strings.ReplaceAll(*e.text, "\x00", ""))) {
			ok++
		} else {
			fail("expect-text", "text %.80q…, want %.80q…", normaliseText(in.Text), normaliseText(*e.text))
		}
	}
	for _, a := range e.attachments {
		checks++
		found := false
		for _, got := range in.Attachments {
			// An unnamed part (a.name "") matches on its size alone.
			if (a.name == "" || sameName(got.Filename, a.name)) && (!a.binary || sameSize(got.Data, a.size)) {
				found = true
				break
			}
		}
		if found {
			ok++
		} else {
			fail("expect-attachment", "no attachment %q (%d bytes) among %v", a.name, a.size, describeAttachments(in.Attachments))
		}
	}
	return checks, ok
}

func describeAttachments(as []vocab.Attachment) []string {
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("%s (%d bytes)", a.Filename, len(a.Data)))
	}
	return out
}

func normaliseText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// sameDecoded compares decoded text where the upstream parser put U+FFFD
// for bytes it could not decode: those match any one character of ours
// (we decode such bytes as windows-1252; see fallbackText).
func sameDecoded(got, want string) bool {
	if got == want {
		return true
	}
	if !strings.ContainsRune(want, utf8.RuneError) {
		return false
	}
	g, w := []rune(got), []rune(want)
	if len(g) != len(w) {
		return false
	}
	for i := range w {
		if w[i] != g[i] && w[i] != utf8.RuneError {
			return false
		}
	}
	return true
}

// sameName compares an attachment name with upstream's. Upstream drops the
// backslashes of a Windows path in a quoted name ("C:\\TEMP\\x.png" becomes
// "C:TEMPx.png"); we keep the last path element, "x.png".
func sameName(got, want string) bool {
	w := SafeFilename(want)
	if sameDecoded(got, w) {
		return true
	}
	return len(w) > 2 && w[1] == ':' && strings.HasSuffix(w, got)
}

// sameSize compares sizes, letting CRLF count as one byte: for parts sent
// without a transfer encoding, line ends are the transport's, not the
// file's.
func sameSize(got []byte, want int) bool {
	return len(got) == want || len(bytes.ReplaceAll(got, []byte("\r\n"), []byte("\n"))) == want
}
