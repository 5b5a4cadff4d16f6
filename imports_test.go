package casegate_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Imports go one way: cmd → mailin → threads → mailout, with templates
// below all (DESIGN.md). The read side, views, sits beside the filing path:
// cmd uses it, it may use threads' vocabulary, and nothing on the filing
// path uses it; reportmail sends what views reads through mailout. This
// test fails when a package reaches up.
func TestImportDirection(t *testing.T) {
	forbidden := map[string][]string{
		"casegate/templates":  {"casegate/mailout", "casegate/threads", "casegate/mailin", "casegate/views"},
		"casegate/calendar":   {"casegate/templates", "casegate/mailout", "casegate/threads", "casegate/mailin", "casegate/views"},
		"casegate/mailout":    {"casegate/threads", "casegate/mailin", "casegate/views", "casegate/reportmail"},
		"casegate/threads":    {"casegate/mailin", "casegate/views", "casegate/reportmail"},
		"casegate/mailin":     {"casegate/views", "casegate/reportmail"},
		"casegate/views":      {"casegate/mailin", "casegate/reportmail"},
		"casegate/reportmail": {"casegate/mailin"},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, d := range deps {
			for _, b := range bad {
				if d == b {
					t.Errorf("%s imports %s: imports must go cmd → mailin → threads → mailout", pkg, b)
				}
			}
		}
	}
}
