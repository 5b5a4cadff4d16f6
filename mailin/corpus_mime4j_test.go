package mailin

import (
	"bytes"
	"casegate/vocab"
	"encoding/xml"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message/charset"
)

// Apache James mime4j ships, for each test message, the decoded bytes of
// every leaf part (<name>_decoded_<path>.txt/.bin, named in
// <name>_decoded.xml; Apache-2.0, MIME-tools messages Artistic). Every leaf
// of the top-level message must be found in our parse: as the text body
// (after charset decoding) or as an attachment with the same bytes. Leaves
// inside an attached message/rfc822 travel inside that attachment, and an
// HTML alternative of a plain-text body is not kept apart: those are not
// compared.

type mime4jLeaf struct {
	file        string // decoded part, beside the .msg
	contentType string // from the part's header, lower case
	params      map[string]string
}

type mime4jExpectation struct {
	dir    string
	leaves []mime4jLeaf
}

func loadMime4j(t *testing.T, corpus string) map[string]mime4jExpectation {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(corpus, "james-mime4j", "core", "src", "test", "resources", "*", "*_decoded.xml"))
	if len(files) < 50 {
		t.Fatalf("corpus: mime4j decoded-part expectations missing (%d found)", len(files))
	}
	out := map[string]mime4jExpectation{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		leaves, err := readMime4jLeaves(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		rel, _ := filepath.Rel(corpus, strings.TrimSuffix(f, "_decoded.xml")+".msg")
		if otherConfiguration(t, strings.TrimSuffix(f, "_decoded.xml")+".msg") {
			continue
		}
		out[filepath.ToSlash(rel)] = mime4jExpectation{dir: filepath.Dir(f), leaves: leaves}
	}
	return out
}

// mime4j's harness reads the samples named malformedHeaderStartsBody-*
// with a parser option that is off by default
// (MimeConfig.setMalformedHeaderStartsBody(true), in the getConfig of its
// example-message tests): a header line without a colon ends the header.
// The same bytes ship again as malformedHeader-*, expected as the default
// configuration reads them: the bad line skipped, the header read on. No
// one reading can match both; casegate reads headers as mime4j's default
// and stalwart do (see repairForParsing), so the corpus compares it with
// the default's expectation. otherConfiguration reports whether msg is
// such a sample, and fails the test unless its twin is there, byte for
// byte, so the twin's expectation is still compared.
func otherConfiguration(t *testing.T, msg string) bool {
	t.Helper()
	name := filepath.Base(msg)
	rest, ok := strings.CutPrefix(name, "malformedHeaderStartsBody-")
	if !ok {
		return false
	}
	twin := filepath.Join(filepath.Dir(msg), "malformedHeader-"+rest)
	a, err1 := os.ReadFile(msg)
	b, err2 := os.ReadFile(twin)
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
		t.Fatalf("corpus: %s is read with a mime4j option; its default-configuration twin %s is missing or differs (%v, %v)", name, filepath.Base(twin), err1, err2)
	}
	if _, err := os.Stat(strings.TrimSuffix(twin, ".msg") + "_decoded.xml"); err != nil {
		t.Fatalf("corpus: no expectation for %s: %v", filepath.Base(twin), err)
	}
	return true
}

// readMime4jLeaves lists the leaves of the top-level message with the
// Content-Type of the part that holds each.
func readMime4jLeaves(b []byte) ([]mime4jLeaf, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	var leaves []mime4jLeaf
	depth := 0       // <message> nesting
	var cts []string // Content-Type of each open header level, innermost last
	inField := false
	var field strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return leaves, nil
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			switch tok.Name.Local {
			case "message":
				depth++
			case "header":
				cts = append(cts, "text/plain")
			case "field":
				inField = true
				field.Reset()
			case "text-body", "binary-body":
				if depth != 1 {
					continue
				}
				leaf := mime4jLeaf{contentType: "text/plain"}
				for _, a := range tok.Attr {
					if a.Name.Local == "name" {
						leaf.file = a.Value
					}
				}
				if len(cts) > 0 {
					leaf.contentType, leaf.params, _ = mime.ParseMediaType(cts[len(cts)-1])
					if leaf.contentType == "" {
						leaf.contentType, leaf.params = lenientMediaType(cts[len(cts)-1])
					}
				}
				leaves = append(leaves, leaf)
			}
		case xml.CharData:
			if inField {
				field.Write(tok)
			}
		case xml.EndElement:
			switch tok.Name.Local {
			case "message":
				depth--
			case "field":
				inField = false
				name, value, ok := strings.Cut(strings.TrimSpace(field.String()), ":")
				if ok && strings.EqualFold(strings.TrimSpace(name), "Content-Type") && len(cts) > 0 {
					cts[len(cts)-1] = strings.Join(strings.Fields(value), " ")
				}
			case "body-part":
				if len(cts) > 0 {
					cts = cts[:len(cts)-1]
				}
			}
		}
	}
}

func (e mime4jExpectation) check(in *vocab.Inbound, fail func(check, format string, args ...any)) (checks, ok int) {
	for _, leaf := range e.leaves {
		want, err := os.ReadFile(filepath.Join(e.dir, leaf.file))
		if err != nil {
			fail("expect-mime4j:"+leaf.file, "%v", err)
			continue
		}
		if leaf.contentType == "text/html" && !attachmentWith(in, want) {
			continue // the HTML alternative: only its text, if it is the body
		}
		checks++
		text := want
		if label := leaf.params["charset"]; label != "" && !isUTF8Label(label) {
			if r, err := charset.Reader(label, bytes.NewReader(want)); err == nil {
				if b, err := io.ReadAll(r); err == nil {
					text = b
				}
			}
		}
		switch {
		case attachmentWith(in, want):
			ok++
		case strings.HasPrefix(leaf.contentType, "text/") && normaliseText(in.Text) == normaliseText(strings.ReplaceAll(validText(text), "\x00", "")):
			ok++
		case strings.HasPrefix(leaf.contentType, "text/") && len(bytes.TrimSpace(want)) == 0:
			ok++ // an empty text part: nothing to find
		default:
			fail("expect-mime4j:"+leaf.file, "%s, %d bytes: neither the text nor an attachment", leaf.contentType, len(want))
		}
	}
	return checks, ok
}

func attachmentWith(in *vocab.Inbound, data []byte) bool {
	for _, a := range in.Attachments {
		if bytes.Equal(a.Data, data) {
			return true
		}
	}
	return false
}
