package templates

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// A Moment survives the JSON of a committed mail intent: its zone keeps
// its name (an abbreviation that follows daylight saving, or a fixed
// offset), so the mail rendered later says the same.
func TestMomentSurvivesJSON(t *testing.T) {
	berlin, err := LoadZone("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 18, 30, 0, 0, time.UTC)
	for _, zone := range []*time.Location{berlin, time.FixedZone("UTC+05:30", 5*3600+1800), time.UTC} {
		m := NewMoment(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), zone, now)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back Moment
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.Date() != m.Date() || back.Ago() != m.Ago() {
			t.Errorf("%s: %q / %q after JSON, want %q / %q (%s)", zone, back.Date(), back.Ago(), m.Date(), m.Ago(), b)
		}
	}
}
