package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var data = FollowupData{Case: 7, Subject: "Drucker <brennt> & raucht", CustomerName: "Ada", Team: "T", Score: 4}

// Every kind renders in the default language and in every variant the
// defaults ship; the follow-up carries an escaped HTML body.
func TestLanguageVariantsAndHTML(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	de, err := s.RenderLang(Followup, "de-AT", data) // falls back from de-at to de
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(de.Subject, "Hat das geholfen?") || !strings.Contains(de.Text, "Bitte antworten Sie") {
		t.Errorf("German follow-up: %q\n%s", de.Subject, de.Text)
	}
	if !strings.Contains(de.HTML, `<html lang="de">`) || !strings.Contains(de.HTML, "Drucker &lt;brennt&gt; &amp; raucht") {
		t.Errorf("German follow-up HTML is not its own, escaped:\n%s", de.HTML)
	}
	fr, err := s.RenderLang(Followup, "fr", data) // no French: the default
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(fr.Subject, "did this fix it?") {
		t.Errorf("fallback subject %q", fr.Subject)
	}
	if !strings.Contains(fr.HTML, "Drucker &lt;brennt&gt; &amp; raucht") || strings.Contains(fr.HTML, "<brennt>") {
		t.Errorf("HTML body not escaped:\n%s", fr.HTML)
	}
	if got := s.Languages(); len(got) != 1 || got[0] != "de" {
		t.Errorf("languages = %v, want [de]", got)
	}
	for _, src := range s.Sources() {
		if src.Kind == Followup && src.Lang == "" && src.HTML != "default/followup.html.tmpl" {
			t.Errorf("follow-up HTML source = %q", src.HTML)
		}
	}
}

// An override directory adds a language and an HTML body; a broken one is
// refused at load with its file and line.
func TestVariantOverridesAndErrorsWithLines(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A new language needs every customer mail (here: the English ones
	// copied), the follow-up with its HTML part.
	for _, kind := range CustomerKinds() {
		for _, part := range []string{".txt.tmpl", ".html.tmpl"} {
			if b, err := defaults.ReadFile("default/" + string(kind) + part); err == nil {
				write(string(kind)+".nl"+part, string(b))
			}
		}
	}
	write("resolution.nl.txt.tmpl", "Subject: Opgelost [#{{.Case}}]\n\nZaak {{.Case}} is opgelost.\n")
	write("resolution.html.tmpl", "<p>Case {{.Case}}: {{.Subject}}</p>\n")
	write("resolution.de.html.tmpl", "<p>Fall {{.Case}}: {{.Subject}}</p>\n")
	write("resolution.nl.html.tmpl", "<p>Zaak {{.Case}}: {{.Subject}}</p>\n")
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.RenderLang(Resolution, "nl", data)
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "Opgelost [#7]" || r.Text != "Zaak 7 is opgelost.\n" || r.HTML != "<p>Zaak 7: Drucker &lt;brennt&gt; &amp; raucht</p>\n" {
		t.Errorf("Dutch override: %+v", r)
	}

	for name, c := range map[string]struct{ file, src, want string }{
		"unknown field in text":    {"followup.txt.tmpl", "Subject: x\n\nline 3\nline 4\n{{.Nope}}\n", "followup.txt.tmpl:5:"},
		"unknown field in subject": {"followup.txt.tmpl", "Subject: {{.Nope}}\n\nbody\n", "followup.txt.tmpl:1:"},
		"unknown field in HTML":    {"followup.html.tmpl", "<p>\n{{.Case}}\n{{.Nope}}</p>\n", "followup.html.tmpl:3:"},
		"syntax in a variant":      {"followup.de.txt.tmpl", "Subject: x\n\n\n{{.Case | nosuchfunc}}\n", "followup.de.txt.tmpl:4:"},
		"HTML without text":        {"followup.fr.html.tmpl", "<p>x</p>", "followup.fr.txt.tmpl"},
		"unknown kind":             {"nosuchkind.de.txt.tmpl", "Subject: x\n\ny\n", "no mail kind"},
		"bad language":             {"followup.DE_de.txt.tmpl", "Subject: x\n\ny\n", "not a language tag"},
		"staff mail in a language": {"notification.de.txt.tmpl", "Subject: x\n\ny\n", "notification is mail to staff"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, c.file), []byte(c.src), 0o644)
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", name, err, c.want)
		}
	}
}

// A language that misses a customer mail, or a part of one, is refused at
// load (so by templates check, serve and reload alike), naming the file.
func TestEveryLanguageHasEveryCustomerMail(t *testing.T) {
	for name, c := range map[string]struct {
		files map[string]string
		want  string
	}{
		"a new language with one mail": {map[string]string{"acknowledgement.fr.txt.tmpl": "Subject: Reçu\n\nx\n"},
			"/journalist-acknowledgement.fr.txt.tmpl: missing"},
		"an HTML part in the default only": {map[string]string{"acknowledgement.html.tmpl": "<p>{{.Case}}</p>"},
			"/acknowledgement.de.html.tmpl: missing"},
		"an HTML part in German only": {map[string]string{"status.de.html.tmpl": "<p>{{.Case}}</p>"},
			"status.de.html.tmpl: status has an HTML part in \"de\" but not in the default language"},
	} {
		dir := t.TempDir()
		for f, src := range c.files {
			os.WriteFile(filepath.Join(dir, f), []byte(src), 0o644)
		}
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", name, err, c.want)
		}
	}
	// The shipped languages are complete: every customer mail in English
	// and German, with the same parts.
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range CustomerKinds() {
		en, err1 := s.RenderLang(kind, "en", kinds[kind])
		de, err2 := s.RenderLang(kind, "de", kinds[kind])
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if en.Text == de.Text || (en.HTML == "") != (de.HTML == "") {
			t.Errorf("%s: German is not a variant of its own with the same parts", kind)
		}
	}
}
