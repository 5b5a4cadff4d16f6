package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigErrorsNameTheirLine writes configurations with one mistake each
// and checks that the error names the file, the line the mistake is on and
// the key: an unknown key, a value of the wrong type, a value a key refuses,
// and a value validation refuses, also in the third of three [[rule]] or
// the second of two [[imap]] blocks, where the line of the first one would
// send the admin to the wrong place.
func TestConfigErrorsNameTheirLine(t *testing.T) {
	base := fmt.Sprintf(testConfig, "postgres://unused/x")
	rule := func(name, when string) string {
		return fmt.Sprintf("\n[[rule]]\nname = %q\nwhen = %q\nafter = \"1h\"\nactions = [\"cc_pr\"]\n", name, when)
	}
	imap := func(name, tls string) string {
		return fmt.Sprintf("\n[[imap]]\nname = %q\naddress = \"imap.example.com:993\"\ntls = %q\nusername = \"u\"\npassword = \"p\"\n", name, tls)
	}
	for _, tc := range []struct {
		name string
		text string // the whole file
		mark string // the text on the line that must be named
		key  string
	}{
		{"unknown key", base + "[log]\nlevel = \"info\"\nlevle = \"debug\"\n", `levle = "debug"`, "log.levle: unknown key"},
		{"unknown table", base + "[metrics]\nlisten = \":9425\"\n", `[metrics]`, "metrics: unknown key"},
		{"wrong type", strings.Replace(base, "[smtp]\n", "[smtp]\nmax_recipients = \"many\"\n", 1), `max_recipients = "many"`, "smtp.max_recipients: want an integer"},
		{"bad duration", base + "[followup]\ndelay = \"72h\"\nclose_after = \"a week\"\n", `close_after = "a week"`, "followup.close_after:"},
		{"bad value", strings.Replace(base, "max_message_bytes = 200000", "max_message_bytes = -1", 1), "max_message_bytes = -1", "smtp.max_message_bytes:"},
		{"third rule", base + rule("a", "opened") + rule("b", "unresolved") + rule("c", "later"), `when = "later"`, `rule "c".when`},
		{"repeated rule name", base + rule("a", "opened") + rule("a", "unresolved"), `when = "unresolved"`, `rule "a".name`},
		{"second imap", base + imap("one", "implicit") + imap("two", "sometimes"), `tls = "sometimes"`, "imap[1].tls"},
		{"report calendar", base + "[report]\ncalendar = \"office\"\n", `calendar = "office"`, "report.calendar"},
		{"weekly report time", base + "[report]\nweekly_to = [\"pr@example.com\"]\nweekly_at = \"monday morning\"\n", `weekly_at = "monday morning"`, "report.weekly_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "casegate.toml")
			if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			i := strings.LastIndex(tc.text, tc.mark)
			if i < 0 {
				t.Fatalf("test text lacks %q", tc.mark)
			}
			if tc.name == "repeated rule name" {
				// The second rule is to blame; its name is on the line
				// before its when.
				i = strings.LastIndex(tc.text, `name = "a"`)
			}
			line := 1 + strings.Count(tc.text[:i], "\n")
			_, err := loadConfig(path, func(string) string { return "" })
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a configuration error", err)
			}
			want := fmt.Sprintf("%s:%d: %s", path, line, tc.key)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v\nwant it to contain %q", err, want)
			}
		})
	}
}

// TestConfigSyntaxErrorNamesLineAndColumn: a TOML syntax error is named by
// line and column.
func TestConfigSyntaxErrorNamesLineAndColumn(t *testing.T) {
	text := fmt.Sprintf(testConfig, "postgres://unused/x") + "[log\n"
	path := filepath.Join(t.TempDir(), "casegate.toml")
	os.WriteFile(path, []byte(text), 0o600)
	_, err := loadConfig(path, func(string) string { return "" })
	want := fmt.Sprintf("%s:%d:5:", path, strings.Count(text, "\n"))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestHTTPListenerStaysOnLoopback: metrics on an address other hosts reach
// need allow_remote, profiles are never served there, and check-config
// warns about both a remote metrics listener and a missing staff list.
func TestHTTPListenerStaysOnLoopback(t *testing.T) {
	load := func(extra string) (*Config, error) {
		return loadConfig(writeConfig(t, extra), func(string) string { return "" })
	}
	for _, listen := range []string{"0.0.0.0:9425", "[::]:9425", "192.0.2.7:9425", "metrics.example.com:9425"} {
		_, err := load(fmt.Sprintf("[http]\nlisten = %q\n", listen))
		if err == nil || !strings.Contains(err.Error(), ":17: http.listen:") || !strings.Contains(err.Error(), "allow_remote") {
			t.Errorf("listen %s: err = %v, want http.listen refused at its line", listen, err)
		}
		_, err = load(fmt.Sprintf("[http]\nlisten = %q\nallow_remote = true\npprof = true\n", listen))
		if err == nil || !strings.Contains(err.Error(), "http.pprof") {
			t.Errorf("pprof on %s: err = %v, want http.pprof refused", listen, err)
		}
	}
	c, err := load("[http]\nlisten = \"0.0.0.0:9425\"\nallow_remote = true\n")
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.warnings(), "\n"); !strings.Contains(w, ":17: http.listen: 0.0.0.0:9425 serves /metrics to other hosts") {
		t.Errorf("warnings = %q, want one about the remote metrics listener", w)
	}
	for _, listen := range []string{"127.0.0.1:9425", "localhost:9425", "[::1]:9425", ":9425"} {
		c, err := load(fmt.Sprintf("[http]\nlisten = %q\npprof = true\n", listen))
		if err != nil {
			t.Errorf("listen %s with pprof: %v", listen, err)
			continue
		}
		if w := c.warnings(); len(w) != 0 {
			t.Errorf("listen %s: warnings %q", listen, w)
		}
		if listen == ":9425" && c.HTTP.Listen != "127.0.0.1:9425" {
			t.Errorf(":9425 listens on %q, want loopback", c.HTTP.Listen)
		}
	}

	noStaff := strings.Replace(fmt.Sprintf(testConfig, "postgres://unused/x"), `staff = ["alice@example.com"]`, "", 1)
	path := filepath.Join(t.TempDir(), "casegate.toml")
	os.WriteFile(path, []byte(noStaff), 0o600)
	c, err = loadConfig(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.warnings(), "\n"); !strings.Contains(w, path+":8: addresses.staff: no staff address") {
		t.Errorf("warnings = %q, want one naming addresses.staff", w)
	}
}
