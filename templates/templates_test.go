package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultsLoadAndRender(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Render(Acknowledgement, AcknowledgementData{Case: 7, Subject: "Broken\r\nBcc: evil@example.net", Team: "T"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Re: Broken Bcc: evil@example.net [#7]"; r.Subject != want {
		t.Errorf("subject = %q, want %q (no header injection)", r.Subject, want)
	}
	if !strings.Contains(r.Text, "case #7") || !strings.Contains(r.Text, `"status"`) {
		t.Errorf("text lacks case number or status instructions:\n%s", r.Text)
	}
}

func TestOverrideDirectory(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "acknowledgement.txt.tmpl"), []byte("Subject: Got it [#{{.Case}}]\n\nCase {{.Case}}.\n"), 0o644)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := s.Render(Acknowledgement, AcknowledgementData{Case: 9})
	if r.Subject != "Got it [#9]" || r.Text != "Case 9.\n" {
		t.Errorf("got %+v", r)
	}
}

func TestBrokenTemplateRefusedAtLoad(t *testing.T) {
	for name, src := range map[string]string{
		"syntax":          "Subject: x\n\n{{.Case\n",
		"unknown field":   "Subject: x\n\n{{.NoSuchField}}\n",
		"missing subject": "Hello\n\nbody\n",
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "acknowledgement.txt.tmpl"), []byte(src), 0o644)
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), "acknowledgement.txt.tmpl") {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
	}
}
