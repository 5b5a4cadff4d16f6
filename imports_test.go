package casegate_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Imports go one way: cmd → mailin → threads → mailout, with the vocabulary
// (vocab), templates and calendar below all (DESIGN.md). mailin and threads
// meet only in vocab: mailin hands threads a vocab.Inbound through a small
// interface of its own, so mailin imports no threads code. The read side,
// views, sits beside the filing path: cmd uses it, it may use threads' and
// vocab's words, and nothing on the filing path uses it; reportmail sends
// what views reads through mailout. This test fails when a package reaches
// up or sideways.
func TestImportDirection(t *testing.T) {
	forbidden := map[string][]string{
		"casegate/vocab":      {"casegate/templates", "casegate/calendar", "casegate/mailout", "casegate/threads", "casegate/mailin", "casegate/views"},
		"casegate/templates":  {"casegate/mailout", "casegate/threads", "casegate/mailin", "casegate/views"},
		"casegate/calendar":   {"casegate/templates", "casegate/mailout", "casegate/threads", "casegate/mailin", "casegate/views"},
		"casegate/mailout":    {"casegate/threads", "casegate/mailin", "casegate/views", "casegate/reportmail"},
		"casegate/threads":    {"casegate/mailin", "casegate/views", "casegate/reportmail"},
		"casegate/mailin":     {"casegate/threads", "casegate/views", "casegate/reportmail"},
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
