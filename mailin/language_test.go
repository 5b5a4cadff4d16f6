package mailin

import "testing"

func TestLanguage(t *testing.T) {
	for _, c := range []struct{ content, accept, want string }{
		{"de-AT", "en", "de-at"},
		{"", "en;q=0.5, de-CH, fr;q=0.8", "de-ch"},
		{"", "*, fr;q=0.9", "fr"},
		{"x y, nl", "", "nl"},
		{"", "de;q=0, en;q=abc", ""},
		{"", "", ""},
	} {
		if got := language(c.content, c.accept); got != c.want {
			t.Errorf("language(%q, %q) = %q, want %q", c.content, c.accept, got, c.want)
		}
	}
}
