package mailin

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLargeMessages parses generated mail larger than anything in the
// corpus (which stops at 4 MB) and fails on super-linear behaviour: each
// must parse in a few seconds even on a loaded machine. (Quote stripping
// once took 1.6 s on a 1.2 MB text.)
func TestLargeMessages(t *testing.T) {
	line := "On Monday the printer wrote nothing at all and I am still waiting for an answer from you, a@b.c\r\n"
	plain := "From: a@example.com\r\nSubject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat(line, 60000) // about 6 MB
	html := "From: a@example.com\r\nSubject: big\r\nContent-Type: text/html\r\n\r\n<html><body>" +
		strings.Repeat("<div><p>para <a href='https://example.com/x'>link</a><blockquote>q<br>", 20000) + "</body></html>"
	nested := "From: a@example.com\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
	for i := 1; i < 400; i++ {
		nested += "--b" + itoa(i-1) + "\r\nContent-Type: multipart/mixed; boundary=b" + itoa(i) + "\r\n\r\n"
	}
	for _, tt := range []struct{ name, raw string }{{"6 MB text", plain}, {"deep HTML", html}, {"400 nested multiparts", nested}} {
		start := time.Now()
		in := Parse([]byte(tt.raw))
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: Parse took %v", tt.name, d)
		}
		if len(in.Raw) != len(tt.raw) {
			t.Errorf("%s: raw not kept", tt.name)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
