package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"casegate/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestSmoke runs every scenario of make bench at toy sizes, so the suite
// keeps working between benchmark runs (the figures mean nothing here).
func TestSmoke(t *testing.T) {
	work := t.TempDir()
	bin := filepath.Join(work, "casegate")
	if out, err := exec.Command("go", "build", "-o", bin, "casegate/cmd/casegate").CombinedOutput(); err != nil {
		t.Fatalf("build casegate: %v\n%s", err, out)
	}
	pgBin, err := pgtest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	// The threading scenario reads threads/queries.sql from the repository root.
	if err := os.Chdir(".."); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir("bench")
	e := &env{adminURL: pgtest.URL(t), casegate: bin, pgBin: pgBin, quick: true, runs: 1, work: work}
	r := &report{}
	for _, sc := range scenarios {
		if err := sc.run(context.Background(), e, r); err != nil {
			t.Errorf("scenario %s: %v", sc.name, err)
		}
	}
	if len(r.Sections) != len(scenarios) {
		t.Errorf("%d sections for %d scenarios", len(r.Sections), len(scenarios))
	}
	if err := r.write(filepath.Join(work, "results")); err != nil {
		t.Fatal(err)
	}
}
