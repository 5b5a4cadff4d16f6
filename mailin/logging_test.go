package mailin

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects log lines from concurrent sessions.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

// TestListenerLogLines: what go-smtp itself reports reaches the log as one
// well-formed line with the remote address and error as keys of their own
// (no second "msg" key); a client that resets its connection is a debug
// line, not a warning; a panic in a session is an error.
func TestListenerLogLines(t *testing.T) {
	var logs lockedBuffer
	l := startListener(t, SMTPOptions{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	l.filer.panicOn = "Make it panic"

	// A client says EHLO, then resets the connection (RST, not FIN).
	conn, err := net.Dial("tcp", l.addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	r.ReadString('\n')
	conn.Write([]byte("EHLO client.example\r\n"))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "250 ") {
			break
		}
	}
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close()

	// A session whose filing panics.
	sendMail(t, l.addr, "ada@customer.example", []string{"support@support.example.com"},
		crlf("From: ada@customer.example\nSubject: Make it panic\nMessage-ID: <panic-1@customer.example>\n\nboom\n"))

	var wentAway, panicked map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for (wentAway == nil || panicked == nil) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		for _, line := range logs.lines() {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			switch rec["msg"] {
			case "smtp: client went away":
				wentAway = rec
			case "smtp: panic in a session; it was closed":
				panicked = rec
			}
		}
	}
	if wentAway == nil || panicked == nil {
		t.Fatalf("no reset line (%v) or panic line (%v) in:\n%s", wentAway, panicked, strings.Join(logs.lines(), "\n"))
	}
	if wentAway["level"] != "DEBUG" || !strings.Contains(wentAway["err"].(string), "reset") {
		t.Errorf("reset logged as %v, want a DEBUG line naming the reset", wentAway)
	}
	if remote, ok := wentAway["remote"].(string); !ok || !strings.HasPrefix(remote, "127.0.0.1:") {
		t.Errorf("remote = %#v, want the address as a string", wentAway["remote"])
	}
	if panicked["level"] != "ERROR" {
		t.Errorf("panic logged as %v, want ERROR", panicked)
	}
	for _, line := range logs.lines() {
		if n := strings.Count(line, `"msg":`); n != 1 {
			t.Errorf("log line with %d msg keys: %s", n, line)
		}
		if strings.Contains(line, `"level":"WARN"`) {
			t.Errorf("warning logged: %s", line)
		}
	}
}
