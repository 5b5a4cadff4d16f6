package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const journalChildEnv = "CASEGATE_TEST_JOURNAL_CHILD"

// journalChild logs as serve does, through newLogger on stderr, then exits.
func journalChild() {
	log := newLogger(&Config{}, os.Stderr)
	log.Info("smtp: filed", "case", 1041, "message_id", "ok-1@customer.example")
	log.With("remote", "192.0.2.1:40000").Error("smtp: filing failed; answered 451", "case", 1042,
		"message_id", "down-1@customer.example", "err", errors.New("connect: connection refused"))
	os.Exit(0)
}

// TestErrorLinesReachJournalWithPriority runs a real systemd-journald, in a
// mount namespace of its own so the host's journal is untouched, starts a
// process whose stderr is a journal stream (as systemd connects a
// service's, with JOURNAL_STREAM naming it) and asks journalctl -p err what
// it got: the error line, with priority 3, its text and its keys as
// fields; the info line is not an error.
func TestErrorLinesReachJournalWithPriority(t *testing.T) {
	for _, tool := range []string{"unshare", "systemd-cat", "journalctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (make test installs systemd and util-linux): %v", tool, err)
		}
	}
	journald := "/lib/systemd/systemd-journald"
	if _, err := os.Stat(journald); err != nil {
		t.Fatalf("systemd-journald not found (make test installs systemd): %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "journal.json")
	// In the namespace, /run is a fresh tmpfs: journald makes its sockets
	// and keeps its (volatile) journal there, and the child's stream and
	// native socket find it at the standard paths.
	script := `set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/journal /run/log/journal
/lib/systemd/systemd-journald >"$DIR/journald.log" 2>&1 &
jd=$!
for i in $(seq 100); do [ -S /run/systemd/journal/stdout ] && [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
systemd-cat -t casegate sh -c 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$0"' "$SELF"
for i in $(seq 50); do journalctl -D /run/log/journal -p err -o json --no-pager >"$OUT" 2>/dev/null; grep -q 'filing failed' "$OUT" && break; sleep 0.1; done
journalctl -D /run/log/journal -o json --no-pager >"$OUT.all" 2>/dev/null || true
kill $jd
`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script)
	cmd.Env = append(os.Environ(), journalChildEnv+"=1", "SELF="+self, "OUT="+out, "DIR="+dir)
	done := make(chan struct{})
	var cmdOut []byte
	go func() { cmdOut, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("the journal scenario did not finish in 60 s")
	}
	if err != nil {
		jd, _ := os.ReadFile(filepath.Join(dir, "journald.log"))
		t.Fatalf("journal scenario: %v\n%s\njournald: %s", err, cmdOut, jd)
	}
	b, _ := os.ReadFile(out)
	var errs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil {
			errs = append(errs, e)
		}
	}
	all, _ := os.ReadFile(out + ".all")
	if len(errs) != 1 {
		t.Fatalf("journalctl -p err found %d entries, want the one error line; whole journal:\n%s", len(errs), all)
	}
	e := errs[0]
	for field, want := range map[string]string{
		"PRIORITY":            "3",
		"SYSLOG_IDENTIFIER":   filepath.Base(self),
		"CASEGATE_CASE":       "1042",
		"CASEGATE_MESSAGE_ID": "down-1@customer.example",
		"CASEGATE_REMOTE":     "192.0.2.1:40000",
		"CASEGATE_ERR":        "connect: connection refused",
	} {
		if e[field] != want {
			t.Errorf("%s = %v, want %q", field, e[field], want)
		}
	}
	msg, _ := e["MESSAGE"].(string)
	if !strings.HasPrefix(msg, "smtp: filing failed; answered 451 ") || !strings.Contains(msg, "case=1042") || !strings.Contains(msg, "remote=192.0.2.1:40000") {
		t.Errorf("MESSAGE = %q, want the text line with its keys", msg)
	}
	if !strings.Contains(string(all), `"PRIORITY":"6"`) || !strings.Contains(string(all), "smtp: filed") {
		t.Errorf("the info line is missing or not priority 6:\n%s", all)
	}
}
