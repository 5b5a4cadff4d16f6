package mailin

import (
	"strings"
	"testing"
)

// benchMail is a realistic 10 KB customer mail: a quoted-printable text and
// HTML alternative inside multipart/mixed with a small base64 attachment,
// CRLF line ends, as Thunderbird or Outlook send it.
func benchMail() []byte {
	var b strings.Builder
	b.WriteString("Return-Path: <ada@customer.example>\r\n" +
		"Received: from mx.customer.example (mx.customer.example [192.0.2.7])\r\n\tby mail.example.com with ESMTPS id 4Xy; Sun, 22 Nov 2026 10:00:00 +0000\r\n" +
		"From: =?utf-8?q?Ad=C3=A1_Lovelace?= <ada@customer.example>\r\n" +
		"To: Support <support@example.com>\r\n" +
		"Subject: =?utf-8?q?Re=3A_My_order_=E2=80=94_still_waiting?=\r\n" +
		"Message-ID: <bench-1@customer.example>\r\n" +
		"In-Reply-To: <case-1042@example.com>\r\n" +
		"References: <case-1042@example.com>\r\n" +
		"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"------------mixed0123456789\"\r\n\r\n" +
		"This is a multi-part message in MIME format.\r\n" +
		"--------------mixed0123456789\r\n" +
		"Content-Type: multipart/alternative; boundary=\"------------alt0123456789\"\r\n\r\n" +
		"--------------alt0123456789\r\n" +
		"Content-Type: text/plain; charset=UTF-8; format=flowed\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	para := "Hello, I ordered the blue kettle three weeks ago and it has still not arrived. Could you tell me wh=\r\nere it is? Caf=C3=A9 au lait =E2=80=94 thanks.\r\n\r\n"
	for i := 0; i < 12; i++ {
		b.WriteString(para)
	}
	b.WriteString("--------------alt0123456789\r\n" +
		"Content-Type: text/html; charset=UTF-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n<html><body>\r\n")
	for i := 0; i < 12; i++ {
		b.WriteString("<p>" + para + "</p>\r\n")
	}
	b.WriteString("</body></html>\r\n--------------alt0123456789--\r\n\r\n" +
		"--------------mixed0123456789\r\n" +
		"Content-Type: image/png; name=\"receipt.png\"\r\n" +
		"Content-Disposition: attachment; filename=\"receipt.png\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n")
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	b.WriteString(base64Lines(data) + "--------------mixed0123456789--\r\n")
	return []byte(b.String())
}

// BenchmarkParse measures Parse of one realistic multipart mail: as a
// reply, and as the first mail of a case, which also has its language
// detected.
func BenchmarkParse(b *testing.B) {
	reply := benchMail()
	first := []byte(strings.NewReplacer("In-Reply-To: <case-1042@example.com>\r\n", "",
		"References: <case-1042@example.com>\r\n", "", "Re=3A_", "").Replace(string(reply)))
	for _, c := range []struct {
		name string
		raw  []byte
	}{{"reply", reply}, {"first", first}} {
		b.Run(c.name, func(b *testing.B) {
			if in := Parse(c.raw); len(in.Attachments) != 1 || !strings.Contains(in.Text, "blue kettle") {
				b.Fatalf("bench mail misread: %d attachments, text %.40q", len(in.Attachments), in.Text)
			}
			b.SetBytes(int64(len(c.raw)))
			b.ReportAllocs()
			for b.Loop() {
				Parse(c.raw)
			}
		})
	}
}
