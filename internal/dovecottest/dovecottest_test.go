package dovecottest

import (
	"fmt"
	"testing"
)

// The helper itself: a server starts, takes APPENDs, survives a restart.
func TestStartAppendRestart(t *testing.T) {
	s := Start(t)
	msg := func(i int) []byte {
		return []byte(fmt.Sprintf("From: a@example.com\r\nTo: %s\r\nSubject: %d\r\nMessage-ID: <%d@example.com>\r\n\r\nbody %d\r\n", Username, i, i, i))
	}
	s.Append(t, "INBOX", msg(1), msg(2))
	if n := s.Count(t, "INBOX"); n != 2 {
		t.Fatalf("INBOX has %d messages, want 2", n)
	}
	s.Stop()
	s.Restart()
	s.Append(t, "Other", msg(3))
	if n := s.Count(t, "INBOX"); n != 2 {
		t.Fatalf("after restart INBOX has %d messages, want 2\n%s", n, s.Log())
	}
	if n := s.Count(t, "Other"); n != 1 {
		t.Fatalf("Other has %d messages, want 1", n)
	}
}
