package mailin

import (
	"bufio"
	"bytes"
	"casegate/vocab"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate/internal/pgtest"
	"casegate/templates"
	"casegate/threads"
)

// The corpus test feeds every message of testdata/corpus (about 1,200
// real mails from public test suites and mail written for casegate in the
// styles of many mail clients; see its README) through the real
// inbound path, Parse and threads.Store.File against PostgreSQL, and a
// sample through the SMTP listener. What it cannot yet do right is listed,
// with a reason, in testdata/corpus-gaps.txt; anything else failing fails
// the test, and so does a listed gap that no longer fails (the list must
// only shrink).

const (
	corpusParseBound = 20 * time.Second // one Parse; real ones take milliseconds
	corpusFileBound  = time.Minute      // one File, on a loaded machine
	corpusWorkers    = 4
)

// corpusMessage is one corpus file to file, and what the corpus says of it.
type corpusMessage struct {
	rel       string // path under the corpus directory, with "/"
	automatic bool   // a bounce, DSN, MDN, report or auto-reply: must be Automatic
	person    bool   // written by a person: must not be Automatic
}

// Files that are not single messages: expectations, fragments, mailbox
// archives (sisimai's maildir/err holds mbox-0 already split).
var corpusSkip = []*regexp.Regexp{
	regexp.MustCompile(`\.(json|xml|out|list|md|txt_|tnef|html|htm|rtf|png|jpg|doc|dat|pdf|mp3|bin|cfg|BAT|SYS|ini|src)$`),
	regexp.MustCompile(`_decoded(_[0-9_]+)?\.(txt|xml)$`),
	regexp.MustCompile(`(^|/)(LICENSE|LICENSES|NOTICE|COPYING|README)[^/]*$|ARTISTIC-LICENSE|gitattributes`),
	regexp.MustCompile(`^mimekit/UnitTests/TestData/tnef/[^/]+/`),           // files MimeKit extracted from winmail.dat
	regexp.MustCompile(`^sisimai-set-of-emails/mailbox/`),                   // mbox archives
	regexp.MustCompile(`^mimekit/UnitTests/TestData/mbox/`),                 // mbox archives and their summaries
	regexp.MustCompile(`^james-mime4j/mbox/`),                               // mbox archives
	regexp.MustCompile(`_reply_text$`),                                      // talon's expected reply texts
	regexp.MustCompile(`^stalwart-mail-auth/resources/(dkim|arc)/.*\.txt$`), // DNS records
	regexp.MustCompile(`^james-mime4j/.*\.txt$`),                            // mime4j's decoded parts
}

// Messages that must be classified Automatic: every sisimai sample except
// maildir/not (bounces, ARF, vacation replies), the report samples of
// stalwart-mail-auth, MimeKit, enmime and mikel/mail.
var corpusAutomatic = []*regexp.Regexp{
	regexp.MustCompile(`^sisimai-set-of-emails/(maildir/(bsd|dos|mac|err|tmp)|to-be-debugged-because)/`),
	regexp.MustCompile(`^stalwart-mail-auth/resources/(arf|dmarc-feedback|tlsrpt)/.*\.eml$`),
	regexp.MustCompile(`^mimekit/UnitTests/TestData/messages/(delivery-status|disposition-notification|bounce|feedback-report)`),
	regexp.MustCompile(`^enmime/dsn/`),
	regexp.MustCompile(`^mikel-mail/spec/fixtures/emails/multipart_report_emails/`),
}

// Messages a person wrote, which must be answered like any customer mail:
// talon's replies, the mail written in the styles of old and new mail
// clients and with the damage real mail shows (casegate-mua-samples,
// casegate-odd-samples), sisimai's non-bounces,
// and two people forwarding a bounce to ask about it (sisimai counts those
// as bounces, but a person is waiting for an answer and no loop can arise).
var corpusPerson = []*regexp.Regexp{
	regexp.MustCompile(`^mailgun-talon/.*\.eml$`),
	regexp.MustCompile(`^casegate-(mua|odd)-samples/`),
	regexp.MustCompile(`^sisimai-set-of-emails/maildir/not/is-not-bounce-`),
	regexp.MustCompile(`^sisimai-set-of-emails/maildir/(bsd|dos|mac)/lhost-sendmail-14\.eml$`),
	regexp.MustCompile(`^sisimai-set-of-emails/maildir/err/make-test-36\.eml$`),
}

func listCorpus(t *testing.T, dir string) []corpusMessage {
	t.Helper()
	var out []corpusMessage
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, dir+string(filepath.Separator)))
		if !strings.Contains(rel, "/") {
			return nil // the corpus README
		}
		for _, re := range corpusSkip {
			if re.MatchString(rel) {
				return nil
			}
		}
		m := corpusMessage{rel: rel}
		for _, re := range corpusAutomatic {
			m.automatic = m.automatic || re.MatchString(rel)
		}
		for _, re := range corpusPerson {
			if re.MatchString(rel) {
				m.automatic, m.person = false, true
			}
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out
}

// corpusGap is one known failure: a file, a check, and why.
type corpusGap struct{ rel, check string }

func readCorpusGaps(t *testing.T) map[corpusGap]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "corpus-gaps.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gaps := map[corpusGap]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields, reason, _ := strings.Cut(line, "#")
		f := strings.Fields(fields)
		if len(f) != 2 || strings.TrimSpace(reason) == "" {
			t.Fatalf("testdata/corpus-gaps.txt:%d: want \"<file> <check> # <reason>\"", n)
		}
		gaps[corpusGap{f[0], f[1]}] = strings.TrimSpace(reason)
	}
	return gaps
}

// corpusResult collects what went wrong with each message.
type corpusResult struct {
	mu       sync.Mutex
	failures map[corpusGap]string // check → detail
	counts   map[string]int
	sisimai  map[string][]sisimaiExpectation // Sisimai's own expectations of its bounces
}

func (r *corpusResult) fail(rel, check, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures[corpusGap{rel, check}] = fmt.Sprintf(format, args...)
}

func (r *corpusResult) count(name string, n int) {
	r.mu.Lock()
	r.counts[name] += n
	r.mu.Unlock()
}

func newCorpusStore(t *testing.T) (*threads.Store, *sqlx.DB) {
	t.Helper()
	db := pgtest.DB(t)
	db.SetMaxOpenConns(corpusWorkers + 2)
	tpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	s, err := threads.NewStore(threads.Options{
		DB:        db,
		Templates: tpl,
		Support:   mail.Address{Name: "Example Support", Address: "support@support.example.com"},
		Secret:    []byte("corpus-secret-0123456789"),
		Now:       func() time.Time { return time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, db
}

// parseBounded runs Parse, turning a panic or a hang into an error.
func parseBounded(raw []byte) (in *vocab.Inbound, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		in = Parse(raw)
	}()
	select {
	case <-done:
		return in, err
	case <-time.After(corpusParseBound):
		return nil, fmt.Errorf("Parse took longer than %v", corpusParseBound)
	}
}

func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	msgs := listCorpus(t, dir)
	if len(msgs) < 1000 {
		t.Fatalf("corpus: only %d messages found in %s; expected about 1,200", len(msgs), dir)
	}
	gaps := readCorpusGaps(t)
	store, db := newCorpusStore(t)
	res := &corpusResult{failures: map[corpusGap]string{}, counts: map[string]int{}, sisimai: loadSisimaiExpectations(t)}
	expectations := loadExpectations(t, dir)
	mime4j := loadMime4j(t, dir)

	start := time.Now()
	work := make(chan corpusMessage)
	var wg sync.WaitGroup
	for range corpusWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				fileCorpusMessage(t, dir, m, store, db, res, expectations, mime4j)
			}
		}()
	}
	for _, m := range msgs {
		work <- m
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)

	smtpSample(t, dir, msgs, store, db, res)

	// Compare with the known gaps.
	var unexpected, stale []string
	known := 0
	for g, detail := range res.failures {
		if _, ok := gaps[g]; ok {
			known++
			continue
		}
		unexpected = append(unexpected, fmt.Sprintf("%s %s: %s", g.rel, g.check, detail))
	}
	for g, reason := range gaps {
		if _, ok := res.failures[g]; !ok {
			stale = append(stale, fmt.Sprintf("%s %s (%s)", g.rel, g.check, reason))
		}
	}
	sort.Strings(unexpected)
	sort.Strings(stale)
	misclassified := 0
	for g := range res.failures {
		if g.check == "automatic" {
			misclassified++
		}
	}
	c := res.counts
	scorecard := fmt.Sprintf("corpus scorecard: %d messages, %d filed (%d new cases, %d duplicates) in %v with %d workers; "+
		"expectations: %d/%d checks matched over %d messages with expectation files; automatic: %d/%d recognised, people: %d/%d answered, %d misclassified; "+
		"SMTP sample: %d/%d; bounces read: %d/%d (recipient and status, agreeing with Sisimai where it has expectations); names and subjects decoded: %d/%d; "+
		"%d problems recorded on %d messages; known gaps %d, new failures %d, stale gaps %d",
		len(msgs), c["filed"], c["new case"], c["duplicate"], elapsed.Round(time.Millisecond), corpusWorkers,
		c["expect ok"], c["expect checks"], c["expect messages"], c["automatic ok"], c["automatic expected"], c["person ok"], c["person expected"], misclassified,
		c["smtp ok"], c["smtp sent"], c["bounce ok"], c["bounces"], c["decoded ok"], c["decoded"], c["problems"], c["messages with problems"], known, len(unexpected), len(stale))
	t.Log(scorecard)
	// make test prints it (go test shows the log of passing tests only
	// with -v).
	if f := os.Getenv("CASEGATE_CORPUS_SCORECARD"); f != "" {
		if err := os.WriteFile(f, []byte(scorecard+"\n"), 0o644); err != nil {
			t.Errorf("write scorecard: %v", err)
		}
	}
	for _, u := range unexpected {
		t.Errorf("corpus regression: %s", u)
	}
	for _, s := range stale {
		t.Errorf("corpus gap fixed, remove it from testdata/corpus-gaps.txt: %s", s)
	}
}

// fileCorpusMessage files one message the way the SMTP listener does and
// checks what was stored.
func fileCorpusMessage(t *testing.T, dir string, m corpusMessage, store *threads.Store, db *sqlx.DB, res *corpusResult, exp map[string]expectation, mime4j map[string]mime4jExpectation) {
	raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(m.rel)))
	if err != nil {
		t.Errorf("%s: %v", m.rel, err)
		return
	}
	in, err := parseBounded(raw)
	if err != nil {
		res.fail(m.rel, "parse", "%v", err)
		return
	}
	in.Source = "corpus"
	in.Recipients = []string{"support@support.example.com"}
	in.ReceivedAt = time.Now()
	if len(in.Problems) > 0 {
		res.count("problems", len(in.Problems))
		res.count("messages with problems", 1)
	}
	for what, s := range map[string]string{"subject": in.Subject, "from name": in.From.Name, "from address": in.From.Address, "text": in.Text, "new text": in.NewText} {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			res.fail(m.rel, "utf8", "%s is not valid UTF-8 text", what)
		}
	}
	for _, a := range in.Attachments {
		if !utf8.ValidString(a.Filename) || a.Filename == "" {
			res.fail(m.rel, "utf8", "attachment name %q", a.Filename)
		}
	}
	if bounceSample.MatchString(m.rel) {
		res.count("bounces", 1)
		exp := res.sisimai[filepath.Base(m.rel)]
		if identified, agrees, _, _ := sisimaiVerdict(in, exp); identified && (len(exp) == 0 || agrees) {
			res.count("bounce ok", 1)
		}
	}
	countDecoded(raw, in, res)
	if e, ok := exp[m.rel]; ok {
		res.count("expect messages", 1)
		checks, okCount := e.check(in, func(check, format string, args ...any) { res.fail(m.rel, check, format, args...) })
		res.count("expect checks", checks)
		res.count("expect ok", okCount)
	}
	if e, ok := mime4j[m.rel]; ok {
		res.count("expect messages", 1)
		checks, okCount := e.check(in, func(check, format string, args ...any) { res.fail(m.rel, check, format, args...) })
		res.count("expect checks", checks)
		res.count("expect ok", okCount)
	}

	ctx, cancel := context.WithTimeout(context.Background(), corpusFileBound)
	defer cancel()
	filed, err := store.File(ctx, in)
	if err != nil {
		res.fail(m.rel, "filed", "%v", err)
		return
	}
	res.count("filed", 1)
	if filed.NewCase {
		res.count("new case", 1)
	}
	if filed.Duplicate {
		res.count("duplicate", 1)
	}

	if filed.Quarantined {
		// Kept whole in quarantine rather than on a case (a bounce of mail
		// casegate never sent, a loop): the bytes must still be exact.
		res.count("quarantined", 1)
		var qraw []byte
		if err := db.GetContext(ctx, &qraw, `SELECT raw FROM quarantine WHERE message_id = $1 AND body_sha256 = $2`, in.MessageID, in.BodySHA256); err != nil {
			res.fail(m.rel, "raw", "quarantined message not found: %v", err)
		} else if !bytes.Equal(qraw, raw) {
			res.fail(m.rel, "raw", "quarantined %d bytes differ from the %d received", len(qraw), len(raw))
		}
	} else if !checkStored(t, ctx, db, res, m, in, filed, raw) {
		return
	}

	if m.person {
		res.count("person expected", 1)
		if in.Automatic {
			res.fail(m.rel, "automatic", "a person's mail classified automatic: %s", in.Why)
		} else {
			res.count("person ok", 1)
		}
	}
	if m.automatic {
		res.count("automatic expected", 1)
		if !in.Automatic {
			res.fail(m.rel, "automatic", "not classified automatic (From %q, Subject %q)", in.From.Address, in.Subject)
		} else {
			res.count("automatic ok", 1)
		}
		var acks int
		err := db.GetContext(ctx, &acks, `SELECT count(*) FROM messages WHERE direction = 'outbound' AND $1 = ANY(in_reply_to)`, in.MessageID)
		if err != nil {
			t.Errorf("%s: count acknowledgements: %v", m.rel, err)
		} else if acks > 0 {
			res.fail(m.rel, "acknowledged", "automatic mail was acknowledged")
		}
	}
}

// checkStored compares what filing stored with what was parsed; false
// means the row could not be read.
func checkStored(t *testing.T, ctx context.Context, db *sqlx.DB, res *corpusResult, m corpusMessage, in *vocab.Inbound, filed vocab.Filed, raw []byte) bool {
	var row struct {
		Raw       []byte `db:"raw"`
		Subject   string `db:"subject"`
		Text      string `db:"text_body"`
		From      string `db:"from_address"`
		Automatic bool   `db:"automatic"`
		Hash      []byte `db:"body_sha256"`
	}
	err := db.GetContext(ctx, &row, `SELECT raw, subject, text_body, from_address, automatic, body_sha256 FROM messages WHERE id = $1`, filed.Message)
	if err != nil {
		t.Errorf("%s: read back message %d: %v", m.rel, filed.Message, err)
		return false
	}
	switch {
	case filed.Duplicate && !bytes.Equal(row.Hash, in.BodySHA256):
		res.fail(m.rel, "raw", "treated as a duplicate of a message with another body")
	case !filed.Duplicate && !bytes.Equal(row.Raw, raw):
		res.fail(m.rel, "raw", "stored %d bytes differ from the %d received", len(row.Raw), len(raw))
	case !filed.Duplicate && (row.Subject != in.Subject || row.Text != in.Text):
		res.fail(m.rel, "stored", "stored subject or text differs from the parsed one")
	}

	return true
}

// Sisimai's sample bounces, whose reading the scorecard counts.
var bounceSample = regexp.MustCompile(`^sisimai-set-of-emails/maildir/(bsd|dos)/`)

// countDecoded counts the subjects and sender names a message has and how
// many of them came out decoded: no encoded-word left, no replacement
// character, no C1 control (the trace of a Latin-1 reading of another
// charset's bytes), and not empty.
func countDecoded(raw []byte, in *vocab.Inbound, res *corpusResult) {
	subject, from := headerValues(raw, "Subject"), headerValues(raw, "From")
	if len(subject) > 0 && strings.TrimSpace(subject[0]) != "" {
		res.count("decoded", 1)
		if decodedWell(in.Subject) {
			res.count("decoded ok", 1)
		}
	}
	if len(from) > 0 {
		if name, _, ok := strings.Cut(from[0], "<"); ok && strings.Trim(name, " \t\"") != "" {
			res.count("decoded", 1)
			if decodedWell(in.From.Name) {
				res.count("decoded ok", 1)
			}
		}
	}
}

func decodedWell(s string) bool {
	if strings.TrimSpace(s) == "" || encodedWord.MatchString(s) || strings.ContainsRune(s, utf8.RuneError) {
		return false
	}
	for _, r := range s {
		if r >= 0x80 && r <= 0x9f {
			return false
		}
	}
	return true
}
