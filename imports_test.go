package casegate_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Imports go one way: cmd → mailin → threads → mailout, with the vocabulary
// (vocab), templates and calendar below all (DESIGN.md). mailin and threads
// meet only in vocab: mailin hands threads a vocab.Inbound through a small
// interface of its own, so mailin imports no threads code. This test fails
// when a package reaches up or sideways.
func TestImportDirection(t *testing.T) {
	forbidden := map[string][]string{
		"casegate/vocab":     {"casegate/templates", "casegate/calendar", "casegate/mailout", "casegate/threads", "casegate/mailin"},
		"casegate/templates": {"casegate/mailout", "casegate/threads", "casegate/mailin"},
		"casegate/calendar":  {"casegate/templates", "casegate/mailout", "casegate/threads", "casegate/mailin"},
		"casegate/mailout":   {"casegate/threads", "casegate/mailin"},
		"casegate/mailin":    {"casegate/threads"},
		"casegate/threads":   {"casegate/mailin"},
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
