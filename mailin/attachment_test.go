package mailin

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

// base64Lines encodes data as a mail body does: lines of 76 characters,
// each ended by CRLF.
func base64Lines(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.String()
}

func mailWithAttachment(t *testing.T, data []byte) []byte {
	t.Helper()
	var b strings.Builder
	b.WriteString("From: Ada <ada@customer.example>\r\nTo: support@example.com\r\nSubject: Logs\r\nMessage-ID: <logs@customer.example>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nLogs attached.\r\n" +
		"--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"logs.tar\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	b.WriteString(base64Lines(data) + "--b1--\r\n")
	return []byte(b.String())
}

// A small attachment is held decoded; a large one is only measured, and
// Load decodes it again from the raw message, byte for byte.
func TestLargeAttachmentIsNotHeld(t *testing.T) {
	for _, size := range []int{1000, heldAttachmentBytes, heldAttachmentBytes + 1, heldAttachmentBytes + 300000} {
		data := make([]byte, size)
		rand.Read(data)
		in := Parse(mailWithAttachment(t, data))
		if len(in.Attachments) != 1 {
			t.Fatalf("size %d: %d attachments, problems %v", size, len(in.Attachments), in.Problems)
		}
		a := in.Attachments[0]
		if a.Filename != "logs.tar" || a.Len() != size || a.Size != size {
			t.Errorf("size %d: got %q, Len %d, Size %d", size, a.Filename, a.Len(), a.Size)
		}
		if held := a.Data != nil; held != (size <= heldAttachmentBytes) {
			t.Errorf("size %d: held = %v", size, held)
		}
		got, err := a.Bytes()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("size %d: Bytes() = %d bytes, %v; want the attachment", size, len(got), err)
		}
		if in.Text != "Logs attached." {
			t.Errorf("size %d: text %q", size, in.Text)
		}
	}
}
