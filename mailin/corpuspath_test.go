package mailin

import (
	"os"
	"path/filepath"
	"testing"
)

// corpusDir is testdata/corpus: real-world mail copied byte for byte from
// public test suites, one folder per upstream repository with its licence
// and a README naming the repository, commit and paths. Tests fail, never
// skip, when it is missing: a corpus test that silently tests nothing
// would prove nothing.
func corpusDir(t testing.TB) string {
	t.Helper()
	corpus, err := filepath.Abs(filepath.Join("testdata", "corpus"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(corpus, "README.md")); err != nil || fi.IsDir() {
		t.Fatalf("corpus: %s/README.md not found (%v)", corpus, err)
	}
	return corpus
}
