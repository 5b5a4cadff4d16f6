package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// Scenarios 3 and 5 are the scaled-up forms of tests that own their
// set-up (a Dovecot, the sweeper's bulk load): the bench runs them with
// `go test` against its PostgreSQL and reads the figures they log. The
// quick run leaves them out (make test runs them at their small sizes).

// goTest runs one test of pkg verbosely with env added and returns its
// output.
func goTest(ctx context.Context, e *env, pkg, test string, env ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-timeout", "60m", "-run", test, "-v", pkg)
	cmd.Env = append(os.Environ(), append([]string{"CASEGATE_TEST_DATABASE_URL=" + e.adminURL}, env...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("go test %s -run %s: %v\n%s", pkg, test, err, tail(out, 3000))
	}
	return string(out), nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

var drainedLine = regexp.MustCompile(`drained (\d+) messages in (\S+): (\d+) messages/s`)

// runIMAPDrain is scenario 3: mailin's TestIMAPBacklogDrains at 10,000
// messages: a real Dovecot mailbox holds the backlog, the poller files
// every message (with group commit, as casegate serve does), which is
// acknowledged, and moves it out of the inbox.
func runIMAPDrain(ctx context.Context, e *env, r *report) error {
	const total = 10000
	sec := section{Title: fmt.Sprintf("3. IMAP drain (%d messages in a Dovecot mailbox; filed, acknowledged and moved)", total)}
	if e.quick {
		sec.Skipped = "the quick run leaves it out (it is mailin's TestIMAPBacklogDrains, which make test runs at 2,000 messages); target ≥ 500 msg/s"
		r.add(sec)
		return nil
	}
	var rates []float64
	for run := 0; run < e.runs; run++ {
		out, err := goTest(ctx, e, "./mailin", "^TestIMAPBacklogDrains$", fmt.Sprintf("CASEGATE_IMAP_BACKLOG=%d", total))
		if err != nil {
			return err
		}
		m := drainedLine.FindStringSubmatch(out)
		if m == nil {
			return fmt.Errorf("TestIMAPBacklogDrains logged no drain rate:\n%s", tail([]byte(out), 2000))
		}
		rate, _ := strconv.ParseFloat(m[3], 64)
		rates = append(rates, rate)
	}
	f := newFigure("messages drained per second", "msg/s", rates).withTarget(">=", 500)
	if v, ok := r.ingest[8]; ok {
		f.Beside = fmt.Sprintf("SMTP ingest at 8 connections %s msg/s", num(v))
	}
	sec.Figures = append(sec.Figures, f)
	sec.Notes = append(sec.Notes, "From the poller's start until every message is filed and gone from INBOX (mailin's TestIMAPBacklogDrains with CASEGATE_IMAP_BACKLOG=10000; Dovecot on the same machine). No ceiling is run beside it: scenario 1's 8-connection SMTP ingest (the poller files in batches of a few messages at once) is the nearest comparison.")
	r.add(sec)
	return nil
}

var (
	emptySweepLine = regexp.MustCompile(`empty sweep \(no due timers among \d+\): median (\S+), max (\S+)`)
	fullSweepLine  = regexp.MustCompile(`sweep of (\d+) due among (\d+) open cases: (\S+) .*`)
)

// runSweep is scenario 5: threads' TestSweepScale at 1,000,000 open cases
// of which 1 % have a due deadline.
func runSweep(ctx context.Context, e *env, r *report) error {
	sec := section{Title: "5. Escalation sweep (1,000,000 open cases, 10,000 due timers)"}
	if e.quick {
		sec.Skipped = "the quick run leaves it out (it is threads' TestSweepScale, which make test runs at 20,000 open cases); targets ≤ 10 s, empty ≤ 5 ms"
		r.add(sec)
		return nil
	}
	out, err := goTest(ctx, e, "./threads", "^TestSweepScale$", "CASEGATE_SWEEP_SCALE=1")
	if err != nil {
		return err
	}
	empty, full := emptySweepLine.FindStringSubmatch(out), fullSweepLine.FindStringSubmatch(out)
	if empty == nil || full == nil {
		return fmt.Errorf("TestSweepScale logged no sweep times:\n%s", tail([]byte(out), 2000))
	}
	seconds := func(s string) float64 { d, _ := time.ParseDuration(s); return d.Seconds() }
	sec.Figures = append(sec.Figures,
		newFigure(fmt.Sprintf("sweep firing %s due timers", full[1]), "s", []float64{seconds(full[3])}).withTarget("<=", 10),
		newFigure("empty sweep (nothing due), median of 20", "ms", []float64{seconds(empty[1]) * 1000}).withTarget("<=", 5),
		newFigure("empty sweep, slowest of 20", "ms", []float64{seconds(empty[2]) * 1000}))
	sec.Notes = append(sec.Notes, "threads' TestSweepScale with CASEGATE_SWEEP_SCALE=1, one run (the bulk load takes minutes): every due deadline fires its rule (a PR copy and a digest mail each) through the same decide-then-write path as filing. The test's own line: "+full[0])
	r.add(sec)
	return nil
}
