package views

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate/internal/gatewaytest"
	"casegate/internal/pgtest"
	"casegate/templates"
	"casegate/threads"
	"casegate/vocab"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// fixture is a fresh database with a threads.Store that files into it and
// a Reader on it, sharing one clock.
type fixture struct {
	db     *sqlx.DB
	store  *threads.Store
	reader *Reader
	clock  *gatewaytest.Clock
}

func newFixture(t *testing.T, rules []threads.Rule) *fixture {
	t.Helper()
	db := pgtest.DB(t)
	tpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	clock := gatewaytest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	s, err := threads.NewStore(threads.Options{
		DB: db, Templates: tpl, Now: clock.Now, Rules: rules,
		Support:        mail.Address{Name: "Example Support", Address: "support@support.example.com"},
		PR:             mail.Address{Name: "Press Office", Address: "pr@example.com"},
		StaffAddresses: []string{"alice@example.com", "bob@example.com"},
		Secret:         []byte("test-secret-0123456789"),
		Logger:         slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(db, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, store: s, reader: r, clock: clock}
}

// file files a plain mail and returns its case.
func (f *fixture) file(t *testing.T, id, from, subject, body string) int64 {
	t.Helper()
	in := inbound(id, from, subject, body)
	filed, err := f.store.File(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return filed.Case
}

func inbound(id, from, subject, body string) *vocab.Inbound {
	sum := sha256.Sum256([]byte(body))
	return &vocab.Inbound{
		Raw:        []byte("Message-ID: <" + id + ">\r\nSubject: " + subject + "\r\n\r\n" + body),
		BodySHA256: sum[:],
		Source:     "test",
		Recipients: []string{"support@support.example.com"},
		MessageID:  id,
		From:       mail.Address{Address: from},
		Subject:    subject,
		Text:       body,
		NewText:    body,
	}
}

// ids lists the cases filter selects, once the search index holds every
// message filed so far (the service's indexer does it after each filing).
func (f *fixture) ids(t *testing.T, filter CaseFilter) []int64 {
	t.Helper()
	if _, err := NewIndexer(f.reader, IndexerOptions{}).IndexOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	cs, err := f.reader.ListCases(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	out := []int64{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}
