package mailin

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlToText makes a readable, inert text of an HTML body: nothing of it is
// ever shown as HTML. It parses the way browsers do (golang.org/x/net/html,
// the WHATWG algorithm), so broken markup from real mailers still yields its
// text. Paragraphs and line breaks survive, a link keeps its target as text
// ("label <https://…>"), an image its alt text, a list item a "- ", and
// quoted history in <blockquote> is prefixed with "> " like a plain-text
// reply, so SplitReply can tell it from what the author wrote.
func htmlToText(s string) string {
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil { // x/net/html only fails on reader errors
		return strings.TrimSpace(s)
	}
	w := &textWriter{}
	w.node(doc)
	return strings.TrimSpace(blankRuns.ReplaceAllString(w.String(), "\n\n"))
}

var blankRuns = regexp.MustCompile(`\n{3,}`)

// textWriter accumulates text with HTML's whitespace rules: runs of spaces
// collapse, block elements start new lines, <pre> is kept as is.
type textWriter struct {
	strings.Builder
	quote    int  // <blockquote> depth
	pre      int  // <pre> depth
	newlines int  // line breaks owed before the next text
	started  bool // any text written yet
	space    bool // a collapsed space owed before the next text
	lineOpen bool // the current line has text
}

// blockAtoms start and end on their own line.
var blockAtoms = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Table: true, atom.Tr: true, atom.Ul: true, atom.Ol: true,
	atom.Li: true, atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Blockquote: true, atom.Pre: true, atom.Hr: true, atom.Dl: true, atom.Dt: true, atom.Dd: true,
	atom.Address: true, atom.Center: true, atom.Form: true, atom.Section: true, atom.Article: true,
	atom.Header: true, atom.Footer: true, atom.Tbody: true, atom.Thead: true, atom.Tfoot: true,
}

// paragraphAtoms are separated from what surrounds them by a blank line.
var paragraphAtoms = map[atom.Atom]bool{
	atom.P: true, atom.Table: true, atom.Ul: true, atom.Ol: true, atom.Blockquote: true, atom.Pre: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
}

func (w *textWriter) breakLine(n int) {
	if w.started && n > w.newlines {
		w.newlines = n
	}
	w.space = false
}

func (w *textWriter) text(s string) {
	if w.pre > 0 {
		lines := strings.Split(s, "\n")
		for i, l := range lines {
			if i > 0 {
				w.breakLine(1)
				w.flushBreaks()
			}
			if l != "" {
				w.emit(l)
			}
		}
		return
	}
	fields := strings.Fields(s)
	if len(fields) == 0 {
		if s != "" && w.lineOpen {
			w.space = true
		}
		return
	}
	if startsWithSpace(s) && w.lineOpen {
		w.space = true
	}
	for i, f := range fields {
		if i > 0 {
			w.space = true
		}
		w.emit(f)
	}
	if endsWithSpace(s) {
		w.space = true
	}
}

func startsWithSpace(s string) bool { return strings.TrimLeft(s, " \t\r\n\f") != s }
func endsWithSpace(s string) bool   { return strings.TrimRight(s, " \t\r\n\f") != s }

func (w *textWriter) flushBreaks() {
	for ; w.newlines > 0; w.newlines-- {
		w.WriteByte('\n')
		w.lineOpen = false
	}
}

// emit writes a piece of text, first the line breaks and space it is owed
// and, at the start of a line inside a blockquote, the "> " markers.
func (w *textWriter) emit(s string) {
	w.flushBreaks()
	if !w.lineOpen {
		w.WriteString(strings.Repeat("> ", w.quote))
		w.space = false
	}
	if w.space {
		w.WriteByte(' ')
		w.space = false
	}
	w.WriteString(s)
	w.started, w.lineOpen = true, true
}

func (w *textWriter) node(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		w.text(n.Data)
		return
	case html.CommentNode, html.DoctypeNode:
		return
	case html.ElementNode:
		switch n.DataAtom {
		case atom.Script, atom.Style, atom.Head, atom.Title, atom.Template, atom.Noscript:
			return
		case atom.Br:
			if w.started {
				w.newlines++
			}
			w.space = false
			return
		case atom.Img:
			if alt := strings.TrimSpace(attr(n, "alt")); alt != "" {
				w.text(" [" + alt + "] ")
			}
			return
		case atom.Td, atom.Th:
			if w.lineOpen {
				w.space = true // cells of a row stay on one line
			}
		}
	}
	a := n.DataAtom
	if n.Type == html.ElementNode && blockAtoms[a] {
		if paragraphAtoms[a] {
			w.breakLine(2)
		} else {
			w.breakLine(1)
		}
	}
	if a == atom.Li && n.Type == html.ElementNode {
		w.emit("-")
		w.space = true
	}
	if a == atom.Blockquote {
		w.quote++
	}
	if a == atom.Pre {
		w.pre++
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.node(c)
	}
	if a == atom.Blockquote {
		w.quote--
	}
	if a == atom.Pre {
		w.pre--
	}
	if n.Type == html.ElementNode && a == atom.A {
		w.link(n)
	}
	if n.Type == html.ElementNode && blockAtoms[a] {
		if paragraphAtoms[a] {
			w.breakLine(2)
		} else {
			w.breakLine(1)
		}
	}
}

// link writes a link's target after its label, unless the label already
// says it: the reader of a text version must still see where a link goes.
func (w *textWriter) link(n *html.Node) {
	href := strings.TrimSpace(attr(n, "href"))
	if href == "" || strings.HasPrefix(href, "#") || strings.HasPrefix(strings.ToLower(href), "javascript:") {
		return
	}
	label := strings.TrimSpace(nodeText(n))
	target := strings.TrimPrefix(href, "mailto:")
	if label == href || label == target || strings.Contains(label, target) {
		return
	}
	w.space = true
	w.emit("<" + href + ">")
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func nodeText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}
