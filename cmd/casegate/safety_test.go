package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The behaviour tests of mail safety are beside the code: loops, bounces
// and caps in threads (loops_test.go, bounce_test.go), authentication and
// quarantine in mailin (receive_test.go), DKIM signing in mailout
// (delivery_test.go).

// Bad mail-safety settings are configuration errors that name the key.
func TestSafetyConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ extra, key string }{
		{"dkim_key_file = \"missing.pem\"\ndkim_selector = \"s1\"\n", "outbound.dkim_key_file"},
		{"dkim_selector = \"s1\"\n", "outbound.dkim_key_file"},
		{"[safety]\nmax_auto_replies_per_day = -1\n", "safety.max_auto_replies_per_day"},
		{"[safety]\ndns_timeout = \"1h\"\n", "safety.dns_timeout"},
		{"[safety]\nbogus = 1\n", "safety.bogus"},
	} {
		path := filepath.Join(dir, "casegate.toml")
		os.WriteFile(path, []byte(fmt.Sprintf(testConfig, "postgres://x/y")+tc.extra), 0o600)
		_, err := loadConfig(path, func(string) string { return "" })
		var ce *configError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%q: err = %v, want a configuration error naming %s", tc.extra, err, tc.key)
		}
	}
}
