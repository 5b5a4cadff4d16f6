package mailin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHTMLToText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"paragraphs and breaks", "<p>Hello,</p><p>line one<br>line two</p>", "Hello,\n\nline one\nline two"},
		{"link keeps its target", `See <a href="https://example.com/x?a=1&amp;b=2">the page</a>.`, "See the page <https://example.com/x?a=1&b=2>."},
		{"link whose label is the target", `<a href="https://example.com">https://example.com</a>`, "https://example.com"},
		{"mailto label", `<a href="mailto:ada@example.com">ada@example.com</a>`, "ada@example.com"},
		{"script, style and head dropped", "<html><head><title>T</title><style>p{}</style></head><body><script>alert(1)</script>Hi</body></html>", "Hi"},
		{"entities", "Fish &amp; chips &lt;3 &nbsp;&eacute;", "Fish & chips <3 é"},
		{"list items", "<ul><li>one</li><li>two</li></ul>", "- one\n- two"},
		{"blockquote is quoted", "Yes<blockquote>old<br>text</blockquote>", "Yes\n\n> old\n> text"},
		{"image alt", `<img src="cid:x" alt="logo"> Hi`, "[logo] Hi"},
		{"table cells on one line", "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"},
		{"pre keeps spacing", "<pre>a  b\n  c</pre>", "a  b\n  c"},
		{"broken markup", "<div><p>unclosed <b>bold<div>next", "unclosed bold\n\nnext"},
		{"white space collapses", "a\n   b\t\tc", "a b c"},
	}
	for _, tt := range tests {
		if got := htmlToText(tt.in); got != tt.want {
			t.Errorf("%s: htmlToText = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestHTMLOnlyMail checks an HTML-only message of the corpus comes out as
// readable text through Parse.
func TestHTMLOnlyMail(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(corpusDir(t), "enmime", "testdata", "mail", "html-only-inline.raw"))
	if err != nil {
		t.Fatal(err)
	}
	in := Parse(raw)
	if in.Text == "" || strings.ContainsAny(in.Text, "<>") && strings.Contains(in.Text, "</") {
		t.Fatalf("HTML-only mail: text %q still looks like markup", in.Text)
	}
	t.Logf("text: %q", in.Text)
}
