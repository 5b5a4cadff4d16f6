package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"casegate/internal/pgtest"
)

func TestMain(m *testing.M) {
	// The cluster pgtest starts (without CASEGATE_TEST_DATABASE_URL)
	// loads pg_stat_statements, as make bench's and make test's do, so the
	// smoke run counts statements too.
	if os.Getenv("CASEGATE_TEST_DATABASE_URL") == "" && os.Getenv("CASEGATE_PG_OPTIONS") == "" {
		os.Setenv("CASEGATE_PG_OPTIONS", "-c shared_preload_libraries=pg_stat_statements")
	}
	pgtest.Main(m)
}

// TestSmoke runs every scenario of make bench at toy sizes, so the suite
// keeps working between benchmark runs (the figures mean nothing here).
// Scenarios 3 and 5 (scaled-up tests of their own packages) only say that
// the quick run leaves them out; scenario 9 needs Debian's postfix package
// (make bench installs it) and says so when it is missing.
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
	// Scenarios read the queries.sql files from the repository root.
	if err := os.Chdir(".."); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir("bench")
	e := &env{adminURL: pgtest.URL(t), casegate: bin, pgBin: pgBin, quick: true, runs: 1, work: work, smtpConc: []int{1, 32}}
	r := &report{ingest: map[int]float64{}}
	for _, sc := range scenarios {
		if err := sc.run(context.Background(), e, r); err != nil {
			t.Errorf("scenario %s: %v", sc.name, err)
		}
	}
	if err := r.write(filepath.Join(work, "results")); err != nil {
		t.Fatal(err)
	}
	md := r.markdown()
	// Every target of issue 17 has its line, beside its ceiling.
	for _, want := range []string{
		"| messages/s at 32 connections ", "| p99 end of DATA → 250 at 1 ", "| p99 end of DATA → 250 at 32 ",
		"| ingest ÷ pgbench ceiling at 32 ",
		"| statements per filed message before the 250 ", "| messages per group commit ",
		"| acknowledgement p99, 250 → received by the sink ", "| outbox backlog growth ",
		"| burst: time for the backlog to drain after it ",
		"| p99 to place a reply (the snapshot statement, prepared) ",
		"| plain text, without SIZE: peak RSS growth ÷ message size ",
		"## 3. IMAP drain", "## 5. Escalation sweep", "## 9. One sender, 32 sessions",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report has no %q line:\n%s", want, md)
		}
	}
	if lookSbin("postfix") != "" && lookSbin("smtp-source") != "" && os.Geteuid() == 0 &&
		!strings.Contains(md, "| casegate ÷ Postfix ") {
		t.Errorf("postfix is installed, and the report has no casegate ÷ Postfix line:\n%s", md)
	}
}
