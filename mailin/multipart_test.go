package mailin

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-message"
)

// splitTree renders what splitMessage read: each leaf as its body in
// quotes, each multipart as [parts], "!" after a multipart whose close
// delimiter is missing.
func splitTree(p *mimePart) string {
	if !p.multipart {
		return fmt.Sprintf("%q", p.body)
	}
	var parts []string
	for _, c := range p.parts {
		parts = append(parts, splitTree(c))
	}
	s := "[" + strings.Join(parts, " ") + "]"
	if !p.closed {
		s += "!"
	}
	return s
}

func splitString(t *testing.T, raw string) *mimePart {
	t.Helper()
	data := []byte(raw)
	e, err := message.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	return splitMessage(data, e.Header, bodyStart(data), splitLimits{parts: maxParts, depth: maxDepth})
}

// TestSplitMultipart holds one case for each rule of multipart.go.
func TestSplitMultipart(t *testing.T) {
	mixed := func(boundary string) string {
		return "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\n\n"
	}
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"plain", mixed("b") + "preamble\n--b\n\none\n--b\n\ntwo\n--b--\nepilogue\n", `["one" "two"]`},
		{"CRLF belongs to the delimiter", mixed("b") + "--b\r\n\r\none\r\n\r\n--b--\r\n", `["one\r\n"]`},
		{"delimiter first in the body", mixed("b") + "--b\n\nx\n--b--", `["x"]`},
		{"white space after the delimiter (RFC 2046 transport padding)", mixed("b") + "--b \t\n\none\n--b-- \n", `["one"]`},
		{"text after the delimiter is ignored (mime4j)", mixed("b") + "--b this is ignored\n\none\n--b-- so is this\nepilogue\n--b\n\nnot a part\n", `["one"]`},
		{"no close delimiter", mixed("b") + "--b\n\none\n--b\n\ntwo\n", `["one" "two\n"]!`},
		{"not at a line start", mixed("b") + "--b\n\none --b\n--b--\n", `["one --b"]`},
		{"two delimiters in a row: an empty part", mixed("b") + "--b\n--b\n\ntwo\n--b--\n", `["" "two"]`},
		{"header ended by a delimiter: empty body", mixed("b") + "--b\nContent-Type: text/html\n--b\n\ntwo\n--b--\n", `["" "two"]`},
		{"a very long boundary", mixed(strings.Repeat("x", 7000)) + "--" + strings.Repeat("x", 7000) + "\n\none\n--" + strings.Repeat("x", 7000) + "--\n", `["one"]`},
		{"inner boundary that begins with the outer one", mixed("b") + "--b\n" + mixed("b-1") + "--b-1\n\none\n--b-1\n\ntwo\n--b-1--\n--b\n\nthree\n--b--\n", `[["one" "two"] "three"]`},
		{"inner boundary a--/a---- (Dovecot malformed/005)", mixed("a--") + "--a--\n" + mixed("a----") + "--a----\n\nbody\n--a------\n\nepilogue\n--a----\n", `[["body"]]`},
		{"inner boundary a prefix of the outer: the inner one takes the line (Dovecot malformed/001)", mixed("ab") + "--ab\n" + mixed("a") + "--ab\nContent-Type: text/plain\n\n--a\n", `[["" ""]!]!`},
		{"unclosed inner multipart ends at the outer delimiter", mixed("o") + "--o\n" + mixed("i") + "--i\n\none\n--o\n\ntwo\n--o--\n", `[["one"]! "two"]`},
		{"garbled inner close delimiter", mixed("o") + "--o\n" + mixed("i") + "--i\n\none\nXX--i--\n--o\n\ntwo\n--o--\n", `[["one\nXX--i--"]! "two"]`},
		{"case-sensitive first", mixed("b42") + "--B42\n\npreamble\n--b42\n\none\n--B42\n--b42--\n", `["one\n--B42"]`},
		{"case ignored when no line matches as declared", mixed("b42") + "--B42\n\none\n--B42--\n", `["one"]`},
		{"no boundary parameter: a leaf", "Content-Type: multipart/mixed\n\n--b\n\none\n", `"--b\n\none\n"`},
		{"malformed Content-Type still split", "Content-Type: multipart/mixed; boundary=b; boundary=c\n\n--b\n\none\n--b--\n", `["one"]`},
		{"no delimiter at all: the body is one text part", mixed("b") + "just text\n", `["just text\n"]!`},
		{"another boundary than the declared one: the one the body uses", mixed("declared") + "preamble\n--used\n\none\n--used\n\ntwo\n--used--\n", `["one" "two"]`},
		{"dashed lines with spaces are no delimiters", mixed("declared") + "----- Transcript of session follows -----\n--------\ntext\n", `["----- Transcript of session follows -----\n--------\ntext\n"]!`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := splitTree(splitString(t, tc.raw)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestSplitMultipartHeaders: part headers are read leniently, from the
// raw bytes.
func TestSplitMultipartHeaders(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=b\n\n--b\n" +
		"Content-Type: text/plain;\n charset=utf-8\n" +
		"This line is not a header field\n" +
		" a continuation of it\n" +
		"Content-Disposition: inline\n\nbody\n--b\n" +
		" continuation with nothing to continue\nContent-Type: text/html\n\n<p>x\n--b--\n"
	root := splitString(t, raw)
	if len(root.parts) != 2 {
		t.Fatalf("parts: %s", splitTree(root))
	}
	h := root.parts[0].header
	if got := h.Get("Content-Type"); got != "text/plain; charset=utf-8" {
		t.Errorf("folded Content-Type = %q", got)
	}
	if h.Get("Content-Disposition") != "inline" || h.Len() != 2 {
		t.Errorf("header = %v", h.Map())
	}
	if got := root.parts[1].header.Get("Content-Type"); got != "text/html" || root.parts[1].header.Len() != 1 {
		t.Errorf("second header = %v", root.parts[1].header.Map())
	}
}

func TestSplitMultipartZeroCopy(t *testing.T) {
	data := []byte("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--\n")
	e, _ := message.Read(bytes.NewReader(data))
	root := splitMessage(data, e.Header, bodyStart(data), splitLimits{parts: maxParts, depth: maxDepth})
	body := root.parts[0].body
	if i := bytes.Index(data, []byte("one")); &data[i] != &body[0] {
		t.Error("the part's body is a copy, not a sub-slice of the message")
	}
}

func TestSplitMultipartLimits(t *testing.T) {
	many := "Content-Type: multipart/mixed; boundary=b\n\n" + strings.Repeat("--b\n\nx\n", 50) + "--b--\n"
	root := splitString(t, many)
	limited := splitMessage([]byte(many), root.header, bodyStart([]byte(many)), splitLimits{parts: 10, depth: maxDepth})
	if len(limited.parts) != 10 {
		t.Errorf("parts limit 10: got %d parts", len(limited.parts))
	}
	deep := "Content-Type: multipart/mixed; boundary=b0\n\n"
	for i := 0; i < 10; i++ {
		deep += fmt.Sprintf("--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n", i, i+1)
	}
	deep += "--b10\n\ninnermost\n"
	depth := 0
	for q := splitString(t, deep); len(q.parts) > 0; q = q.parts[0] {
		depth++
	}
	if depth != 11 {
		t.Errorf("unlimited depth: %d levels of multipart", depth)
	}
	e, _ := message.Read(strings.NewReader(deep))
	p := splitMessage([]byte(deep), e.Header, bodyStart([]byte(deep)), splitLimits{parts: maxParts, depth: 3})
	depth = 0
	for q := p; len(q.parts) > 0; q = q.parts[0] {
		depth++
	}
	if depth != 4 {
		t.Errorf("depth limit 3: %d levels of multipart", depth)
	}
}

// TestBase64SkipsOtherCharacters: RFC 2045 §6.8, characters outside the
// alphabet are ignored, the rest still decoded.
func TestBase64SkipsOtherCharacters(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=b\n\n--b\n" +
		"Content-Type: application/octet-stream\nContent-Transfer-Encoding: Base64\n\n" +
		"aGVs!bG8g\n*d29y~bGQ=\n--b--\n"
	root := splitString(t, raw)
	e, err := root.parts[0].entity()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(e.Body)
	if string(b) != "hello world" || err != nil {
		t.Errorf("decoded %q, %v", b, err)
	}
	if e.Header.Get("Content-Transfer-Encoding") != "Base64" {
		t.Error("the part's header lost its Content-Transfer-Encoding")
	}
}

// TestEmptyPlainText: an empty text/plain part gives way to the HTML, unless
// the sender ranked it above the HTML in a multipart/alternative (RFC 2046
// §5.1.4: the last alternative is the most faithful).
func TestEmptyPlainText(t *testing.T) {
	alt := func(first, second string) string {
		return "From: a@b.example\nContent-Type: multipart/alternative; boundary=b\n\n--b\n" + first + "\n--b\n" + second + "\n--b--\n"
	}
	plain, html := "Content-Type: text/plain\n\n", "Content-Type: text/html\n\n<p>Hello from HTML</p>"
	if got := Parse([]byte(alt(plain, html))).Text; got != "Hello from HTML" {
		t.Errorf("empty plain, then HTML: text %q, want the HTML's", got)
	}
	if got := Parse([]byte(alt(html, plain))).Text; got != "" {
		t.Errorf("HTML, then empty plain: text %q, want the empty plain text", got)
	}
	if got := Parse([]byte(alt(plain+"Hello from plain", html))).Text; got != "Hello from plain" {
		t.Errorf("plain, then HTML: text %q", got)
	}
}

// FuzzSplitMultipart checks what the splitter promises of any input: no
// panic, every body a sub-slice of the message, parts in order and not
// overlapping, and the limits kept.
func FuzzSplitMultipart(f *testing.F) {
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=ab\n\n--ab\nContent-Type: multipart/mixed; boundary=a\n\n--ab\nContent-Type: text/plain\n\n--a\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=\"a--\"\r\n\r\n--a--\r\nContent-Type: multipart/mixed; boundary=\"a----\"\r\n\r\n--a----\r\n\r\nbody\r\n--a------\r\n--a----"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=B\n\n--b\n--B x\n\n--B\n--B--\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := message.Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		limits := splitLimits{parts: 20, depth: 4}
		root := splitMessage(data, e.Header, bodyStart(data), limits)
		parts, end := 0, 0
		var check func(p *mimePart, depth int)
		check = func(p *mimePart, depth int) {
			if len(p.body) > 0 {
				start := cap(data) - cap(p.body)
				if start < 0 || start+len(p.body) > len(data) || &data[start] != &p.body[0] {
					t.Fatalf("a body that is not a sub-slice of the message")
				}
				if !p.multipart {
					if start < end {
						t.Fatalf("leaf at %d overlaps the one before, which ends at %d", start, end)
					}
					end = start + len(p.body)
				}
			}
			if depth > limits.depth+1 {
				t.Fatalf("nesting %d beyond the limit %d", depth, limits.depth)
			}
			for _, c := range p.parts {
				parts++
				check(c, depth+1)
			}
		}
		check(root, 0)
		if parts > limits.parts {
			t.Fatalf("%d parts beyond the limit %d", parts, limits.parts)
		}
	})
}
