package mailout

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-message/charset"
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
		t, params, data := fileForSending(ct, a.Data)
		var ah mail.AttachmentHeader
		ah.SetContentType(t, params)
		ah.SetFilename(oneLine(a.Filename))
		aw, err := w.CreateAttachment(ah)
		if err != nil {
			return nil, fmt.Errorf("compose: attachment %q: %w", a.Filename, err)
		}
		if _, err := aw.Write(data); err != nil {
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

// fileForSending returns the media type, parameters and bytes an attached
// file goes out with. A text file arrives with the charset its bytes are in
// ("text/plain; charset=iso-8859-1"); go-message writes text parts only in
// UTF-8 or US-ASCII, so a file in another charset is sent converted to
// UTF-8 and labelled so, and one in a charset nobody knows is sent as it
// is, unlabelled.
func fileForSending(contentType string, data []byte) (string, map[string]string, []byte) {
	t, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "application/octet-stream", nil, data
	}
	switch cs := strings.ToLower(params["charset"]); cs {
	case "", "utf-8", "us-ascii":
		return t, params, data
	default:
		delete(params, "charset")
		r, err := charset.Reader(cs, bytes.NewReader(data))
		if err != nil {
			return t, params, data
		}
		utf8, err := io.ReadAll(r)
		if err != nil {
			return t, params, data
		}
		params["charset"] = "utf-8"
		return t, params, utf8
	}
}
