package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "casegate.toml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(testConfig, "postgres://unused/x")+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEscalationConfigErrorsNameTheKey(t *testing.T) {
	rule := func(body string) string { return "\n[[rule]]\n" + body + "\n" }
	for _, tc := range []struct {
		name, extra, key string
	}{
		{"duplicate name", rule(`name = "a"`+"\nwhen = \"opened\"\nafter = \"0s\"\nactions = [\"cc_pr\"]") +
			rule(`name = "a"`+"\nwhen = \"unresolved\"\nafter = \"1h\"\nactions = [\"cc_pr\"]"), `rule "a".name`},
		{"unknown calendar", rule(`name = "a"` + "\nwhen = \"opened\"\nafter = \"1h\"\ncalendar = \"office\"\nactions = [\"cc_pr\"]"), `rule "a".calendar`},
		{"missing after", rule(`name = "a"` + "\nwhen = \"opened\"\nactions = [\"cc_pr\"]"), `rule "a".after`},
		{"bad action", rule(`name = "a"` + "\nwhen = \"opened\"\nafter = \"0s\"\nactions = [\"page_the_ceo\"]"), `rule "a".actions`},
		{"bad when", rule(`name = "a"` + "\nwhen = \"later\"\nafter = \"0s\"\nactions = [\"cc_pr\"]"), `rule "a"`},
		{"unknown rule key", rule(`name = "a"` + "\nwhen = \"opened\"\nafter = \"0s\"\nactions = [\"cc_pr\"]\nsevertiy = \"high\""), `rule.severtiy`},
		{"bad timezone", "\n[calendars.office]\ntimezone = \"Mars/Olympus\"\nhours = { mon = \"09:00-17:00\" }\n", "calendars.office"},
		{"bad hours", "\n[calendars.office]\ntimezone = \"UTC\"\nhours = { mon = \"9 to 5\" }\n", "calendars.office"},
		{"bad weight", "\n[classify]\nrisk_words = { lawyer = 0 }\n", "classify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(writeConfig(t, tc.extra), func(string) string { return "" })
			var ce *configError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("err = %v, want a configuration error naming %s", err, tc.key)
			}
		})
	}
	noPR := strings.Replace(fmt.Sprintf(testConfig, "postgres://unused/x"), `pr = "pr@example.com"`, "", 1) +
		"\n[[rule]]\nname = \"press\"\nwhen = \"opened\"\nafter = \"0s\"\nactions = [\"cc_pr\"]\n"
	path := filepath.Join(t.TempDir(), "casegate.toml")
	os.WriteFile(path, []byte(noPR), 0o600)
	if _, err := loadConfig(path, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "addresses] pr") {
		t.Errorf("cc_pr without [addresses] pr: %v", err)
	}
}

func TestRulesCheck(t *testing.T) {
	path := writeConfig(t, escalationConfig)
	var out bytes.Buffer
	err := run(context.Background(), []string{"rules", "check", "-config", path, "-at", "2026-11-27T19:30:00+01:00"},
		func(string) string { return "" }, &out, &out)
	if err != nil {
		t.Fatalf("rules check: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"configuration valid; 4 rule(s), 1 calendar(s)",
		`rule "first-response": when no staff reply 4h0m0s of business time (office)`,
		"first-response  fires Mon 2026-11-30 13:00 CET (in 65h30m0s)",
		"resolution      fires Wed 2026-12-02 17:00 CET",
		"press           fires at once",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// A broken rule is a configuration error (exit status 2).
	var ce *configError
	err = run(context.Background(), []string{"rules", "check", "-config", writeConfig(t, "\n[[rule]]\nname = \"x\"\n")},
		func(string) string { return "" }, &out, &out)
	if !errors.As(err, &ce) {
		t.Errorf("broken rule: %v, want a configuration error", err)
	}
}

// The example configuration we ship must stay valid.
func TestShippedConfigRulesCheck(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"rules", "check", "-config", "../../dev/casegate.toml"},
		func(string) string { return "" }, &out, &out); err != nil {
		t.Fatalf("dev/casegate.toml: %v\n%s", err, out.String())
	}
}
