package mailin

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/mail"

	"casegate/internal/pgtest"
	"casegate/templates"
	"casegate/threads"
)

// hostileSeeds are hand-made broken and hostile messages; the fuzzer mutates
// them. Crashers it finds are kept under testdata/fuzz/FuzzParseAndFile.
func hostileSeeds() []string {
	deep := "Content-Type: multipart/mixed; boundary=b0\n\n"
	for i := 0; i < 60; i++ {
		deep += "--b" + strconv.Itoa(i) + "\nContent-Type: multipart/mixed; boundary=b" + strconv.Itoa(i+1) + "\n\n"
	}
	return []string{
		"From: a@b\nSubject: plain\nMessage-ID: <p@x>\n\nhello\n",
		"From: =?x-unknown?q?caf=E9?= <a@b>\nSubject: =?utf-8?b?!!!notbase64?=\nContent-Type: text/plain; charset=x-klingon\n\n\xe9t\xe9\n",
		"From: a@b\nContent-Type: multipart/mixed\n\n--missing\nno boundary parameter\n",
		"From: a@b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n!!!*** not base64 ***\n",
		"From: a@b\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n=ZZ=\n=4\n",
		"From: a@b\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n",
		"From: a\x00b@c\nSubject: nul\x00byte\nMessage-ID: <n\x00l@x>\n\nbody\x00with\x00nuls\n",
		"From: a@b\nX-Long: " + strings.Repeat("x", 20000) + "\n\nbody\n",
		"From: a@b\n" + deep + "innermost\n",
		"From: a@b, c@d\nFrom: e@f\nAuto-Submitted: \xff\xfe\nPrecedence: bulk\xff\n\nx\n",
		"From: MAILER-DAEMON@x\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\nFinal-Recipient: rfc822; \xffa@b\nAction: failed\nStatus: 5.1.1\n\n--B--\n",
		"From: a@b\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Disposition: attachment; filename*=utf-8''..%2F..%2Fetc%2Fpasswd\n\nroot\n--q--\n",
		"\n\n\n",
		"",
	}
}

// FuzzParseAndFile drives arbitrary bytes through Parse and into a real
// database, as the listener does: parsing never fails, everything it
// produces is storable, and filing succeeds.
func FuzzParseAndFile(f *testing.F) {
	for _, s := range hostileSeeds() {
		f.Add([]byte(s))
	}
	if files, _ := filepath.Glob("testdata/*.eml"); len(files) > 0 {
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	db := pgtest.DB(f)
	tpl, err := templates.Load("")
	if err != nil {
		f.Fatal(err)
	}
	store, err := threads.NewStore(threads.Options{
		DB: db, Templates: tpl,
		Support:        mail.Address{Address: "support@support.example.com"},
		Secret:         []byte("test-secret-0123456789"),
		StaffAddresses: []string{"alice@example.com"},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		start := time.Now()
		in := Parse(raw)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("parse took %v", d)
		}
		if in.MessageID == "" || len(in.BodySHA256) != 32 || string(in.Raw) != string(raw) {
			t.Fatalf("parse lost identity: id %q", in.MessageID)
		}
		for _, s := range append([]string{in.MessageID, in.Subject, in.Text, in.NewText, in.From.Address, in.From.Name, in.Why, in.Quarantine}, append(in.Problems, append(in.InReplyTo, in.References...)...)...) {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
				t.Fatalf("unstorable text %q", s)
			}
		}
		for _, a := range in.Attachments {
			if strings.ContainsAny(a.Filename, "/\\\x00") || a.Filename == "" || len(a.Filename) > 200 {
				t.Fatalf("unsafe filename %q", a.Filename)
			}
		}
		in.Source = "fuzz"
		in.Recipients = []string{"support@support.example.com"}
		in.ReceivedAt = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := store.File(ctx, in); err != nil {
			t.Fatalf("file: %v", err)
		}
	})
}
