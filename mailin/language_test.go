package mailin

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestLanguages(t *testing.T) {
	for _, c := range []struct {
		content, accept string
		want            []string
	}{
		{"de-AT", "en", []string{"de-at", "en"}},
		{"", "en;q=0.5, de-CH, fr;q=0.8", []string{"de-ch", "fr", "en"}},
		{"", "*, fr;q=0.9", []string{"fr"}},
		{"x y, nl", "", []string{"nl"}},
		{"de, en", "de", []string{"de", "en"}},
		{"", "de;q=0, en;q=abc", nil},
		{"", "", nil},
	} {
		if got := languages(c.content, c.accept); !slices.Equal(got, c.want) {
			t.Errorf("languages(%q, %q) = %q, want %q", c.content, c.accept, got, c.want)
		}
	}
}

// TestDetectLanguage measures detection on short support mails of our own
// (testdata/language/samples.tsv): for English and German, the languages
// casegate ships templates in, how many were detected right, how many
// left unknown (the configured default applies), and how many detected as
// the other one, which must never happen.
func TestDetectLanguage(t *testing.T) {
	f, err := os.Open("testdata/language/samples.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type tally struct{ right, unknown, other, wrongShipped int }
	counts := map[string]*tally{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") || sc.Text() == "" {
			continue
		}
		parts := strings.SplitN(sc.Text(), "\t", 3)
		want, subject, text := parts[0], parts[1], parts[2]
		got := detectLanguage(subject, text)
		c := counts[want]
		if c == nil {
			c = &tally{}
			counts[want] = c
		}
		switch {
		case got == want:
			c.right++
		case got == "":
			c.unknown++
		case got == "en" || got == "de":
			c.wrongShipped++
			t.Errorf("%s mail detected as %s: %q", want, got, text)
		default:
			c.other++
		}
	}
	for _, lang := range []string{"en", "de"} {
		c := counts[lang]
		total := c.right + c.unknown + c.other + c.wrongShipped
		t.Logf("%s: %d of %d detected, %d unknown, %d as a language without templates", lang, c.right, total, c.unknown, c.other)
		if c.right*10 < total*6 {
			t.Errorf("%s detected in %d of %d samples, want at least 60 %%", lang, c.right, total)
		}
	}
	if got := detectLanguage("Re: AW: Drucker", ""); got != "" && got != "de" {
		t.Errorf("subject only: %q", got)
	}
}

// Mail that names its language is not guessed at; a reply is not either
// (its case has a language already); a new mail that names none is.
func TestParseLanguages(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want []string
	}{
		{"From: a@b.example\nContent-Language: de-DE\nSubject: Hi\n\nHello, I cannot log in since yesterday, please help me.\n", []string{"de-de"}},
		{"From: a@b.example\nSubject: Bestellung\n\nHallo, ich habe vor zwei Wochen einen Laptop bestellt und er ist immer noch nicht angekommen.\n", []string{"de"}},
		{"From: a@b.example\nSubject: Re: Bestellung\nIn-Reply-To: <x@y>\n\nHallo, ich habe vor zwei Wochen einen Laptop bestellt und er ist immer noch nicht angekommen.\n", nil},
		{"From: a@b.example\nSubject: Bestellung\n\nHallo, ich habe vor zwei Wochen einen Laptop bestellt und er ist immer noch nicht angekommen.\n\nSent from my iPhone\n", []string{"de"}},
	} {
		if got := Parse([]byte(c.raw)).Languages; !slices.Equal(got, c.want) {
			t.Errorf("Languages = %q, want %q for\n%s", got, c.want, c.raw)
		}
	}
}

// BenchmarkDetectLanguage is what detection adds to a new mail that names
// no language (it reads at most detectSampleBytes).
func BenchmarkDetectLanguage(b *testing.B) {
	text := strings.Repeat("Hallo, ich habe vor zwei Wochen einen Laptop bestellt und er ist immer noch nicht angekommen. ", 10)
	for b.Loop() {
		detectLanguage("Bestellung", text)
	}
}
