package main

import (
	"os"
	"strings"
	"testing"
)

// TestManPagesAreUpToDate: the checked-in pages are what mangen writes
// from the README now. When it fails, run go generate ./... and commit.
func TestManPagesAreUpToDate(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	pages, err := render(string(readme))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	for name, want := range pages {
		got, err := os.ReadFile("../../man/" + name)
		if err != nil {
			t.Fatalf("%v (run go generate ./...)", err)
		}
		if string(got) != want {
			t.Errorf("man/%s differs from what README.md makes: run go generate ./... and commit", name)
		}
	}
}

// A key written twice in the configuration table, or a row mangen cannot
// read, stops it.
func TestRenderRefusesABadTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	row := "| `[smtp] hostname` | `localhost` | name in the SMTP greeting |\n"
	if !strings.Contains(text, row) {
		t.Fatal("README lacks the hostname row this test copies")
	}
	if _, err := render(strings.Replace(text, row, row+row, 1)); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a key twice: %v", err)
	}
	if _, err := render(strings.Replace(text, row, "| smtp hostname | x | y |\n", 1)); err == nil {
		t.Error("an unreadable key was accepted")
	}
}

func TestRoff(t *testing.T) {
	for md, want := range map[string]string{
		"a `-x` flag":             `a \fB\-x\fR flag`,
		"see [Reports](#reports)": "see Reports",
		"**bold** and C:\\dir":    `\fBbold\fR and C:\edir`,
		".starts with a dot":      `\&.starts with a dot`,
	} {
		if got := roff(md); got != want {
			t.Errorf("roff(%q) = %q, want %q", md, got, want)
		}
	}
}
