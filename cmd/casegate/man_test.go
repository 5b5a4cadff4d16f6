package main

import (
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// manTableKeys lists the configuration keys of a config struct as the man
// page groups them: "[smtp] listen", "[[imap]] tls", "[calendars.NAME] hours".
func manTableKeys(t reflect.Type, table string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			out = append(out, manTableKeys(f.Type, table)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		ft := f.Type
		switch {
		case table == "" && ft.Kind() == reflect.Struct:
			out = append(out, manTableKeys(ft, "["+name+"]")...)
		case table == "" && ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, manTableKeys(ft.Elem(), "[["+name+"]]")...)
		case table == "" && ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			out = append(out, manTableKeys(ft.Elem(), "["+name+".NAME]")...)
		default:
			out = append(out, table+" "+name)
		}
	}
	return out
}

var manSection = regexp.MustCompile(`^\.SS "(\[\[?[a-zA-Z_.]+\]\]?)( keys)?"$`)
var manKey = regexp.MustCompile(`\\fB([a-z_]+)\\fR`)

// TestManPagesNameEveryKeyAndCommand: casegate.toml(5) documents every key
// Config has and no other; casegate(8), the README and the usage text name
// every command; man reads both pages without a warning.
func TestManPagesNameEveryKeyAndCommand(t *testing.T) {
	page, err := os.ReadFile("../../man/casegate.toml.5")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	lines := strings.Split(string(page), "\n")
	table := ""
	for i, l := range lines {
		if m := manSection.FindStringSubmatch(l); m != nil {
			table = m[1]
		}
		if l == ".TP" && table != "" && i+1 < len(lines) {
			names, _, _ := strings.Cut(lines[i+1], " (default:")
			for _, k := range manKey.FindAllStringSubmatch(names, -1) {
				documented[table+" "+k[1]] = true
			}
		}
	}
	want := map[string]bool{}
	for _, k := range manTableKeys(reflect.TypeOf(Config{}), "") {
		want[k] = true
		if !documented[k] {
			t.Errorf("casegate.toml(5) does not document %s (add it to the README's configuration table, then go generate ./...)", k)
		}
	}
	for k := range documented {
		if !want[k] {
			t.Errorf("casegate.toml(5) documents %s, which Config does not have", k)
		}
	}
	if len(want) < 60 {
		t.Errorf("only %d keys found in Config", len(want))
	}

	eight, err := os.ReadFile("../../man/casegate.8")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, ops, _ := strings.Cut(string(readme), "\n## Operations\n")
	ops, _, _ = strings.Cut(ops, "\n## ")
	for _, c := range commands {
		if !strings.Contains(string(eight), `\fBcasegate `+strings.ReplaceAll(c, "-", `\-`)) {
			t.Errorf("casegate(8) does not list the command %s", c)
		}
		if !strings.Contains(ops, "\ncasegate "+c+" ") {
			t.Errorf("the README's commands block does not list %s", c)
		}
		if !strings.Contains(usage, "\n  "+c+" ") {
			t.Errorf("the usage text does not list %s", c)
		}
	}
	for _, c := range commands {
		if err := run(t.Context(), []string{c, "-config", "/nonexistent/casegate.toml"}, func(string) string { return "" }, &strings.Builder{}, &strings.Builder{}); err != nil && strings.Contains(err.Error(), "unknown command") {
			t.Errorf("run does not know %s", c)
		}
	}

	manCmd, err := exec.LookPath("man")
	if err != nil {
		t.Fatalf("man not found (make test installs man-db): %v", err)
	}
	for _, p := range []string{"../../man/casegate.8", "../../man/casegate.toml.5"} {
		cmd := exec.Command(manCmd, "--warnings", "-E", "UTF-8", "-l", p)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=0")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 || len(out) < 1000 {
			t.Errorf("man %s: %v, %d bytes, warnings:\n%s", p, err, len(out), stderr.String())
		}
	}
}
