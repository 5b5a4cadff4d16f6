package main

import (
	"fmt"
	"testing"

	"github.com/emersion/go-message/mail"

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
