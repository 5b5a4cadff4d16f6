package gatewaytest

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"
)

// Mail is one mail casegate sent, as its recipients get it: read from the
// outbox (Outbox) or as the smarthost received it (Relay).
type Mail struct {
	Raw string
	// From is the envelope sender (the return path) the smarthost saw;
	// empty for mail read from the outbox, which gets it at delivery.
	From string
	// Rcpts are the envelope recipients, sorted: every recipient of an
	// outbox mail, or the one a Relay delivery was for.
	Rcpts   []string
	Header  mail.Header
	Subject string
	Text    string            // the text/plain part, LF line endings
	HTML    string            // the text/html part, LF line endings, or ""
	Files   map[string][]byte // attachments by file name
}

// ParseMail parses raw as a recipient's client would, failing the test if
// it does not parse.
func ParseMail(t testing.TB, raw []byte) Mail {
	t.Helper()
	m := Mail{Raw: string(raw), Files: map[string][]byte{}}
	mr, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("mail does not parse: %v\n%s", err, raw)
	}
	m.Header = mr.Header
	m.Subject, _ = m.Header.Subject()
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("mail part does not parse: %v\n%s", err, raw)
		}
		b, _ := io.ReadAll(p.Body)
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			switch ct, _, _ := h.ContentType(); ct {
			case "text/html":
				m.HTML = strings.ReplaceAll(string(b), "\r\n", "\n")
			default:
				m.Text = strings.ReplaceAll(string(b), "\r\n", "\n")
			}
		case *mail.AttachmentHeader:
			name, _ := h.Filename()
			m.Files[name] = b
		}
	}
	return m
}

// MessageID is m's Message-ID, failing the test when it has none.
func (m Mail) MessageID(t testing.TB) string {
	t.Helper()
	id, err := m.Header.MessageID()
	if err != nil || id == "" {
		t.Fatalf("no Message-ID: %v", err)
	}
	return id
}

// ReplyTo is m's one Reply-To address, failing the test otherwise.
func (m Mail) ReplyTo(t testing.TB) string {
	t.Helper()
	list, err := m.Header.AddressList("Reply-To")
	if err != nil || len(list) != 1 {
		t.Fatalf("Reply-To = %v, %v", list, err)
	}
	return list[0].Address
}

// To returns the one mail among ms to the envelope recipients rcpts
// (sorted, comma-separated), failing the test unless there is exactly one.
func To(t testing.TB, ms []Mail, rcpts string) Mail {
	t.Helper()
	var found []Mail
	for _, m := range ms {
		if strings.Join(m.Rcpts, ",") == rcpts {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d mails to %s, want 1", len(found), rcpts)
	}
	return found[0]
}

// WithSubject returns the one mail among ms whose subject contains s.
func WithSubject(t testing.TB, ms []Mail, s string) Mail {
	t.Helper()
	var found []Mail
	for _, m := range ms {
		if strings.Contains(m.Subject, s) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d mails with %q in the subject, want 1", len(found), s)
	}
	return found[0]
}

// Outbox reads the mail a gateway queued, in the order it was queued,
// from the outbox table: one Mail per outbox row with all its
// recipients. Filing commits an intent for each mail before the SMTP 250;
// the composer renders it into the outbox right after, which every read
// waits for.
type Outbox struct {
	db   *sqlx.DB
	last int64
}

// NewOutbox reads the outbox of db from its start.
func NewOutbox(db *sqlx.DB) *Outbox { return &Outbox{db: db} }

// Next returns the mail queued since the last call.
func (o *Outbox) Next(t testing.TB) []Mail {
	t.Helper()
	Rendered(t, o.db)
	var rows []struct {
		ID  int64  `db:"id"`
		Raw []byte `db:"raw"`
	}
	if err := o.db.Select(&rows, `SELECT id, raw FROM outbox WHERE id > $1 ORDER BY id`, o.last); err != nil {
		t.Fatal(err)
	}
	var out []Mail
	for _, r := range rows {
		o.last = r.ID
		m := ParseMail(t, r.Raw)
		if err := o.db.Select(&m.Rcpts, `SELECT recipient FROM deliveries WHERE outbox_id = $1 ORDER BY recipient`, r.ID); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// Expect reads the next mail and checks it is one mail to each of the
// given envelope recipients (each sorted and comma-separated: one mail to
// several), in any order; nothing else. With no rcpts it checks that
// nothing was queued.
func (o *Outbox) Expect(t testing.TB, rcpts ...string) map[string]Mail {
	t.Helper()
	mails := o.Next(t)
	got := map[string]Mail{}
	var list []string
	for _, m := range mails {
		key := strings.Join(m.Rcpts, ",")
		got[key] = m
		list = append(list, key+": "+m.Subject)
	}
	ok := len(mails) == len(rcpts)
	for _, r := range rcpts {
		_, found := got[r]
		ok = ok && found
	}
	if !ok {
		t.Fatalf("queued mail:\n  %s\nwant one each to %q", strings.Join(list, "\n  "), rcpts)
	}
	return got
}

// Wait reads the mail queued from now on, waiting (up to 20 s) until there
// are n, e.g. after a clock move the sweeper acts on; it fails if more
// than n arrive (it looks again 100 ms after the n-th).
func (o *Outbox) Wait(t testing.TB, n int) []Mail {
	t.Helper()
	var got []Mail
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		got = append(got, o.Next(t)...)
		if len(got) < n {
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(100 * time.Millisecond) // and nothing more arrives
	got = append(got, o.Next(t)...)
	if len(got) != n {
		var list []string
		for _, m := range got {
			list = append(list, strings.Join(m.Rcpts, ",")+": "+m.Subject)
		}
		t.Fatalf("%d mails queued, want %d:\n  %s", len(got), n, strings.Join(list, "\n  "))
	}
	return got
}
