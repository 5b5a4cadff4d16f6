package mailin

import (
	"os"
	"path/filepath"
	"testing"
)

// corpusDir is ../shared/corpus beside the repository (its README says
// where each file comes from). Tests fail, never skip, when it is missing:
// a corpus test that silently tests nothing would prove nothing.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("corpus: cannot find the repository root (go.mod) above the test's directory")
		}
		dir = parent
	}
	corpus := filepath.Join(dir, "..", "shared", "corpus")
	if fi, err := os.Stat(filepath.Join(corpus, "README.md")); err != nil || fi.IsDir() {
		t.Fatalf("corpus: %s/README.md not found (%v): the real-world mail corpus must sit beside the repository as ../shared/corpus", corpus, err)
	}
	return corpus
}
