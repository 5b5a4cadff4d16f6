package mailin

import (
	"strings"
	"testing"
)

func TestUTF7(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hi Mom -+Jjo--!", "Hi Mom -☺-!"},
		{"+ZeVnLIqe-", "日本語"},
		{"A+ImIDkQ.", "A≢Α."},
		{"1 +- 1 = 2", "1 + 1 = 2"},
		{"+2D3eAA-", "\U0001F600"}, // a surrogate pair
		{"plain", "plain"},
	}
	for _, tt := range tests {
		got, err := utf7Encoding{}.NewDecoder().String(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("UTF-7 %q = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	// A long encoded run spans many buffers of a streaming reader.
	long := "+" + strings.Repeat("AGEAYgBj", 5000) + "-"
	got, err := utf7Encoding{}.NewDecoder().String(long)
	if err != nil || got != strings.Repeat("abc", 5000) {
		t.Errorf("long UTF-7 run: %d bytes, %v", len(got), err)
	}
}

// TestCharsets parses one message per charset real mail uses, including
// unknown and mislabelled ones, and checks the text and the recorded
// fallback.
func TestCharsets(t *testing.T) {
	tests := []struct {
		name, header string
		body         []byte
		want         string
		fallback     bool // a problem must record the guess
	}{
		{"utf-7", "text/plain; charset=unicode-1-1-utf-7", []byte("Gr+APw-+AN8-e"), "Grüße", false},
		{"iso-2022-jp", "text/plain; charset=iso-2022-jp", []byte("\x1b$B$3$s$K$A$O\x1b(B"), "こんにちは", false},
		{"shift_jis", "text/plain; charset=shift_jis", []byte("\x93\xfa\x96\x7b"), "日本", false},
		{"ks_c_5601-1987", "text/plain; charset=ks_c_5601-1987", []byte("\xc7\xd1\xb1\xdb"), "한글", false},
		{"gb18030", "text/plain; charset=gb18030", []byte("\xd6\xd0\xce\xc4"), "中文", false},
		{"big5", "text/plain; charset=big5", []byte("\xa4\xa4\xa4\xe5"), "中文", false},
		{"windows-1251", "text/plain; charset=windows-1251", []byte("\xcf\xf0\xe8\xe2\xe5\xf2"), "Привет", false},
		{"koi8-r", "text/plain; charset=koi8-r", []byte("\xf0\xd2\xc9\xd7\xc5\xd4"), "Привет", false},
		{"windows-1252 quotes", "text/plain; charset=windows-1252", []byte("\x93quoted\x94 \x80"), "“quoted” €", false},
		{"unknown charset, UTF-8 bytes", "text/plain; charset=x-unknown", []byte("Grüße"), "Grüße", true},
		{"unknown charset, Latin-1 bytes", "text/plain; charset=fakescii", []byte("Gr\xfc\xdfe"), "Grüße", true},
		{"labelled utf-8, really Latin-1", "text/plain; charset=utf-8", []byte("caf\xe9"), "café", true},
		{"no label, 8-bit", "text/plain", []byte("caf\xe9"), "café", true},
		{"broken parameters", `text/plain; charset="iso-8859-1; format=flowed`, []byte("caf\xe9"), "café", false},
	}
	for _, tt := range tests {
		raw := "From: a@example.com\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: " + tt.header + "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + string(tt.body)
		in := Parse([]byte(raw))
		if in.Text != tt.want {
			t.Errorf("%s: text %q, want %q (problems %q)", tt.name, in.Text, tt.want, in.Problems)
		}
		recorded := strings.Contains(strings.Join(in.Problems, "\n"), "decoded as")
		if recorded != tt.fallback {
			t.Errorf("%s: fallback recorded = %v, want %v (problems %q)", tt.name, recorded, tt.fallback, in.Problems)
		}
	}
}

func TestHeaderCharsets(t *testing.T) {
	tests := []struct{ name, subject, want string }{
		{"encoded word", "=?iso-8859-1?Q?Gr=FC=DFe?=", "Grüße"},
		{"raw 8-bit inside an encoded word", "=?iso-8859-1?Q?Die_Hasen_und_die_Fr\xf6sche?=", "Die Hasen und die Frösche"},
		{"unknown charset", "=?x-unknown?B?R3LDvMOfZQ==?=", "Grüße"},
		{"raw UTF-8", "Grüße", "Grüße"},
		{"raw Latin-1", "Gr\xfc\xdfe", "Grüße"},
		{"adjacent words", "=?utf-8?Q?a?= =?utf-8?Q?b?=", "ab"},
		{"iso-2022-jp", "=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=", "日本語"},
	}
	for _, tt := range tests {
		in := Parse([]byte("From: a@example.com\r\nSubject: " + tt.subject + "\r\n\r\nbody"))
		if in.Subject != tt.want {
			t.Errorf("%s: subject %q, want %q (problems %q)", tt.name, in.Subject, tt.want, in.Problems)
		}
	}
}

func TestFromNameInUnknownCharset(t *testing.T) {
	in := Parse([]byte("From: =?x-unknown?Q?Gr=C3=BC=C3=9Fe?= <ada@example.com>\r\nSubject: x\r\n\r\nbody"))
	if in.From.Address != "ada@example.com" || in.From.Name != "Grüße" {
		t.Errorf("From = %q <%s>, want \"Grüße\" <ada@example.com> (problems %q)", in.From.Name, in.From.Address, in.Problems)
	}
}
