package main

import (
	"fmt"
	"testing"

	"github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate/internal/gatewaytest"
	"casegate/internal/pgtest"
)

// The behaviour tests of staff work by mail are beside threads
// (threads/staff_mail_test.go) on internal/gatewaytest. What is here
// starts a gateway through cmd's own serve, for the tests of what cmd
// does (configuration, listeners, commands).

// staffTestConfig is testConfig with two staff members, a PR mailbox and the
// [staff] keys of a test (%s).
const staffTestConfig = `
[database]
url = %q
[smtp]
listen = ["127.0.0.1:0"]
domains = ["support.example.com"]
[addresses]
support = "Example Support <support@support.example.com>"
pr = "PR Desk <pr@example.com>"
staff = ["Alice Example <alice@example.com>", "bob@example.com"]
[staff]
secret = "test-secret-0123456789"
%s
[outbound]
maildir = "maildir"
`

// startStaffGateway is startGateway with staffTestConfig.
func startStaffGateway(t *testing.T, staffKeys string) *gateway {
	t.Helper()
	dbURL := pgtest.URL(t)
	g, _ := runGateway(t, "", dbURL, fmt.Sprintf(staffTestConfig, dbURL, staffKeys), nil)
	return g
}

// outMail is one mail casegate queued, as its recipients will get it.
type outMail struct {
	raw     string
	rcpts   []string // envelope recipients
	h       mail.Header
	subject string
	text    string // the text part, LF line endings
	files   map[string][]byte
}

// outbox reads the mail casegate queued since the last call, through
// gatewaytest.Outbox.
type outbox struct {
	db *sqlx.DB
	r  *gatewaytest.Outbox
}

func (o *outbox) reader() *gatewaytest.Outbox {
	if o.r == nil {
		o.r = gatewaytest.NewOutbox(o.db)
	}
	return o.r
}

func (o *outbox) next(t *testing.T) []outMail {
	t.Helper()
	var out []outMail
	for _, m := range o.reader().Next(t) {
		out = append(out, asOutMail(m))
	}
	return out
}

// expect reads the next mails and checks they go to the given envelope
// recipients (sorted, comma-separated), one mail each, in any order.
func (o *outbox) expect(t *testing.T, rcpts ...string) map[string]outMail {
	t.Helper()
	got := map[string]outMail{}
	for k, m := range o.reader().Expect(t, rcpts...) {
		got[k] = asOutMail(m)
	}
	return got
}

func asOutMail(m gatewaytest.Mail) outMail {
	return outMail{raw: m.Raw, rcpts: m.Rcpts, h: m.Header, subject: m.Subject, text: m.Text, files: m.Files}
}

func msgID(t *testing.T, m outMail) string {
	t.Helper()
	return gatewaytest.Mail{Header: m.h}.MessageID(t)
}

func replyTo(t *testing.T, m outMail) string {
	t.Helper()
	return gatewaytest.Mail{Header: m.h}.ReplyTo(t)
}

type caseRow struct {
	Status   string `db:"status"`
	Priority string `db:"priority"`
	Assignee string `db:"assignee"`
}

func getCase(t *testing.T, db *sqlx.DB, id int64) caseRow {
	t.Helper()
	return caseRow(gatewaytest.GetCase(t, db, id))
}

// mailTo keeps the mails addressed (To) to addr.
func mailTo(t *testing.T, mails []*mail.Reader, addr string) []*mail.Reader {
	t.Helper()
	var out []*mail.Reader
	for _, m := range mails {
		to, _ := m.Header.AddressList("To")
		if len(to) == 1 && to[0].Address == addr {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no mail to %s", addr)
	}
	return out
}
