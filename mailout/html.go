package mailout

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message/mail"
)

// composeAlternative writes m as multipart/alternative (RFC 2046 §5.1.4):
// the plain text first, the HTML last, as the one a client prefers when it
// can show it. h already holds the top-level fields.
func composeAlternative(h mail.Header, m *Message) ([]byte, error) {
	var buf bytes.Buffer
	w, err := mail.CreateInlineWriter(&buf, h)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	if err := writeAlternatives(w, m); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	return buf.Bytes(), nil
}

// writeAlternatives writes the text and HTML parts of m into w.
func writeAlternatives(w *mail.InlineWriter, m *Message) error {
	for _, p := range []struct{ ctype, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		var ph mail.InlineHeader
		ph.SetContentType(p.ctype, map[string]string{"charset": "utf-8"})
		ph.Set("Content-Transfer-Encoding", "quoted-printable")
		pw, err := w.CreatePart(ph)
		if err != nil {
			return fmt.Errorf("compose: %w", err)
		}
		if _, err := io.WriteString(pw, strings.ReplaceAll(p.body, "\r\n", "\n")); err != nil {
			return fmt.Errorf("compose: %w", err)
		}
		if err := pw.Close(); err != nil {
			return fmt.Errorf("compose: %w", err)
		}
	}
	return nil
}
