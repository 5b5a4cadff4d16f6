package mailout

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message/mail"
)

// composeMixed writes m as multipart/mixed: the text as the first, inline
// part and every attachment after it. h already holds the top-level fields.
func composeMixed(h mail.Header, m *Message) ([]byte, error) {
	var buf bytes.Buffer
	w, err := mail.CreateWriter(&buf, h)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	if m.HTML != "" {
		iw, err := w.CreateInline()
		if err != nil {
			return nil, fmt.Errorf("compose: %w", err)
		}
		if err := writeAlternatives(iw, m); err != nil {
			return nil, err
		}
		if err := iw.Close(); err != nil {
			return nil, fmt.Errorf("compose: %w", err)
		}
	} else {
		var th mail.InlineHeader
		th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
		th.Set("Content-Transfer-Encoding", "quoted-printable")
		tw, err := w.CreateSingleInline(th)
		if err != nil {
			return nil, fmt.Errorf("compose: %w", err)
		}
		if _, err := io.WriteString(tw, strings.ReplaceAll(m.Text, "\r\n", "\n")); err != nil {
			return nil, fmt.Errorf("compose: %w", err)
		}
		if err := tw.Close(); err != nil {
			return nil, fmt.Errorf("compose: %w", err)
		}
	}
	for _, a := range m.Attachments {
		ct := a.ContentType
		if ct == "" || !strings.Contains(ct, "/") {
			ct = "application/octet-stream"
		}
		var ah mail.AttachmentHeader
		ah.SetContentType(ct, nil)
		ah.SetFilename(oneLine(a.Filename))
		aw, err := w.CreateAttachment(ah)
		if err != nil {
			return nil, fmt.Errorf("compose: attachment %q: %w", a.Filename, err)
		}
		if _, err := aw.Write(a.Data); err != nil {
			return nil, fmt.Errorf("compose: attachment %q: %w", a.Filename, err)
		}
		if err := aw.Close(); err != nil {
			return nil, fmt.Errorf("compose: attachment %q: %w", a.Filename, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	return buf.Bytes(), nil
}
