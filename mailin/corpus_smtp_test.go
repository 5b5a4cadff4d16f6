package mailin

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jmoiron/sqlx"

	"casegate/threads"
)

// Every 19th message goes through the SMTP listener too: a fixed stride
// over the sorted list, so which messages it picks moves as folders are
// added (19 rather than 20 since casegate-odd-samples, so the sample did
// not shrink).
const corpusSMTPEvery = 19

// smtpSample sends a sample of the corpus through the real SMTP listener,
// into a database of its own (so the direct run's copies are not
// duplicates), and checks each is stored byte for byte as transmitted and
// that automatic mail, sent with a null return path as MTAs send it, is
// not acknowledged.
func smtpSample(t *testing.T, dir string, msgs []corpusMessage, _ *threads.Store, _ *sqlx.DB, res *corpusResult) {
	store, db := newCorpusStore(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewSMTPServer(SMTPOptions{Filer: store, Domains: []string{"support.example.com"}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("SMTP server: %v", err)
		}
	}()

	for i, m := range msgs {
		if i%corpusSMTPEvery != 0 {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(m.rel)))
		if err != nil {
			t.Fatal(err)
		}
		wire, ok := smtpWireForm(raw)
		if !ok {
			continue // CR-only or over-long lines: no MTA transmits those as they are
		}
		res.count("smtp sent", 1)
		from := "corpus@sender.example"
		if m.automatic {
			from = "" // bounces and reports arrive with a null return path
		}
		if err := sendOne(l.Addr().String(), from, wire); err != nil {
			res.fail(m.rel, "smtp", "%v", err)
			continue
		}
		in := Parse(wire)
		var row struct {
			Raw       []byte `db:"raw"`
			Automatic bool   `db:"automatic"`
		}
		err = db.Get(&row, `SELECT raw, automatic FROM messages WHERE direction = 'inbound' AND message_id = $1 AND body_sha256 = $2`, in.MessageID, in.BodySHA256)
		if errors.Is(err, sql.ErrNoRows) && m.automatic {
			// A bounce of mail casegate never sent (backscatter) is kept in
			// quarantine rather than on a case; it is kept all the same.
			err = db.Get(&row, `SELECT raw, true AS automatic FROM quarantine WHERE message_id = $1 AND body_sha256 = $2`, in.MessageID, in.BodySHA256)
		}
		if err != nil {
			res.fail(m.rel, "smtp", "stored message not found: %v", err)
			continue
		}
		if !bytes.Equal(row.Raw, wire) {
			res.fail(m.rel, "smtp", "stored %d bytes differ from the %d transmitted", len(row.Raw), len(wire))
			continue
		}
		if m.automatic {
			var acks int
			if err := db.Get(&acks, `SELECT count(*) FROM messages WHERE direction = 'outbound' AND $1 = ANY(in_reply_to)`, in.MessageID); err != nil || acks > 0 || !row.Automatic {
				res.fail(m.rel, "smtp", "automatic mail over SMTP: automatic=%v, %d acknowledgements (%v)", row.Automatic, acks, err)
				continue
			}
		}
		res.count("smtp ok", 1)
	}
}

// smtpWireForm is raw as an SMTP client transmits it: CRLF line ends and
// a final line end. It reports false for what SMTP cannot carry as is.
func smtpWireForm(raw []byte) ([]byte, bool) {
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\r")) {
		return nil, false
	}
	lf := bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	for _, line := range bytes.Split(lf, []byte("\n")) {
		if len(line) > 990 {
			return nil, false
		}
	}
	if len(lf) > 0 && !bytes.HasSuffix(lf, []byte("\n")) {
		lf = append(lf, '\n')
	}
	return bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n")), true
}

func sendOne(addr, from string, msg []byte) error {
	var last error
	for attempt := 0; attempt < 3; attempt++ { // a 4xx on a loaded machine is retried, as an MTA would
		c, err := smtp.Dial(addr)
		if err != nil {
			return err
		}
		c.CommandTimeout, c.SubmissionTimeout = time.Minute, 2*time.Minute
		err = c.SendMail(from, []string{"support@support.example.com"}, bytes.NewReader(msg))
		c.Close()
		var se *smtp.SMTPError
		if err == nil || !errors.As(err, &se) || se.Code/100 != 4 {
			return err
		}
		last = err
	}
	return last
}
