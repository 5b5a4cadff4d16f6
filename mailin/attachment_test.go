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

// An attached text file is kept as the bytes it was, in its own charset,
// which goes with it in ContentType; only the body text is decoded to
// UTF-8. Converting the file would change it (a CSV for a program that
// reads ISO-8859-1), and a file later loaded from the raw message must be
// the same bytes.
func TestTextFileKeepsItsBytes(t *testing.T) {
	file := []byte("Z\xe4hler;Stra\xdfe\r\n18442;Hauptstra\xdfe 1\r\n")
	for _, tc := range []struct{ name, part string }{
		{"quoted-printable", "Content-Type: text/plain; charset=iso-8859-1; name=\"z.csv\"\r\nContent-Transfer-Encoding: quoted-printable\r\n" +
			"Content-Disposition: attachment; filename=\"z.csv\"\r\n\r\nZ=E4hler;Stra=DFe\r\n18442;Hauptstra=DFe 1\r\n"},
		{"base64", "Content-Type: text/plain; charset=\"ISO-8859-1\"\r\nContent-Transfer-Encoding: base64\r\n" +
			"Content-Disposition: attachment; filename=\"z.csv\"\r\n\r\n" + base64Lines(file)},
		{"8bit, named, no disposition", "Content-Type: text/plain; charset=iso-8859-1; name=\"z.csv\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + string(file)},
	} {
		raw := "From: Ada <ada@customer.example>\r\nSubject: Z\r\nMessage-ID: <z@customer.example>\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nDie Z\xe4hler.\r\n" +
			"--b1\r\n" + tc.part + "\r\n--b1--\r\n"
		in := Parse([]byte(raw))
		if in.Text != "Die Zähler." {
			t.Errorf("%s: text %q", tc.name, in.Text)
		}
		if len(in.Attachments) != 1 {
			t.Fatalf("%s: %d attachments; problems %v", tc.name, len(in.Attachments), in.Problems)
		}
		a := in.Attachments[0]
		if !bytes.Equal(a.Data, file) || a.ContentType != "text/plain; charset=iso-8859-1" || a.Filename != "z.csv" {
			t.Errorf("%s: %q %q %q; want the file's own bytes with its charset", tc.name, a.Filename, a.ContentType, a.Data)
		}
		again, err := attachmentAt([]byte(raw), []int{1})
		if err != nil || !bytes.Equal(again, file) {
			t.Errorf("%s: loaded again: %q, %v", tc.name, again, err)
		}
	}
}
