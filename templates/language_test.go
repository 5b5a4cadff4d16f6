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
	if de.HTML != "" {
		t.Errorf("a language variant borrowed the default's HTML")
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
	write("resolution.nl.txt.tmpl", "Subject: Opgelost [#{{.Case}}]\n\nZaak {{.Case}} is opgelost.\n")
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
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, c.file), []byte(c.src), 0o644)
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", name, err, c.want)
		}
	}
}
