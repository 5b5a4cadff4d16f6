package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"casegate/internal/pgtest"
)

// The behaviour tests of escalation are beside threads
// (threads/deadlines_test.go); what is here is the configuration they
// correspond to, for the tests of what cmd does.

// The default rules of dev/casegate.toml, with a fast sweep for tests.
const escalationConfig = `
[classify]
press_domains = ["daily-planet.example"]

[calendars.office]
timezone = "Europe/Berlin"
hours = { mon = "09:00-17:00", tue = "09:00-17:00", wed = "09:00-17:00", thu = "09:00-17:00", fri = "09:00-17:00" }
holidays = ["2026-12-25"]

[[rule]]
name = "press"
category = "journalist"
when = "opened"
after = "0s"
actions = ["cc_pr"]

[[rule]]
name = "public-risk"
risk = "high"
when = "opened"
after = "0s"
actions = ["cc_pr"]

[[rule]]
name = "first-response"
when = "no_staff_reply"
after = "4h"
calendar = "office"
actions = ["cc_pr"]

[[rule]]
name = "resolution"
when = "unresolved"
after = "24h"
calendar = "office"
actions = ["cc_pr", "priority:high"]

[escalation]
sweep_interval = "50ms"
`

// startEscalationGateway runs casegate serve in-process with the rules
// above on the clock; like startGateway otherwise.
func startEscalationGateway(t *testing.T, dbURL string, clock *movableClock) *gateway {
	t.Helper()
	// Staff replies from loopback count as proven (trusted_networks), so a
	// test can answer as staff through the listener.
	conf := strings.Replace(fmt.Sprintf(testConfig, dbURL), "[staff]\n", "[staff]\ntrusted_networks = [\"127.0.0.0/8\"]\n", 1)
	g, _ := runGateway(t, "", dbURL, conf+escalationConfig, clock.Now)
	return g
}

func berlinTime(t *testing.T, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const journalistMail = `From: Lois Lane <lois@daily-planet.example>
To: support@support.example.com
Subject: Exploding printers
Message-ID: <lois-1@daily-planet.example>
Content-Type: text/plain; charset=utf-8

We are running a story tomorrow on printers catching fire. Does your
company have a comment?

Lois Lane
Daily Planet
`

const fridayMail = `From: Ada Lovelace <ada@customer.example>
To: support@support.example.com
Subject: Invoice wrong
Message-ID: <friday-1@customer.example>
Content-Type: text/plain; charset=utf-8

You charged me twice.
`

// caseOf returns the one case's number.
func caseOf(t *testing.T, db *sqlx.DB) int64 {
	t.Helper()
	var id int64
	if err := db.Get(&id, `SELECT id FROM cases`); err != nil {
		t.Fatal(err)
	}
	return id
}

// rules check -case N reads a real case and prints its deadlines.
func TestRulesCheckCase(t *testing.T) {
	clock := &movableClock{now: berlinTime(t, "2026-11-27 19:30")}
	url := pgtest.URL(t)
	g := startEscalationGateway(t, url, clock)
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, fridayMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	id := caseOf(t, g.db)
	path := filepath.Join(t.TempDir(), "casegate.toml")
	os.WriteFile(path, []byte(fmt.Sprintf(testConfig, url)+escalationConfig), 0o600)
	var out strings.Builder
	err := run(context.Background(), []string{"rules", "check", "-config", path, "-case", fmt.Sprint(id), "-at", "2026-11-30T12:00:00+01:00"},
		func(string) string { return "" }, &out, &out)
	if err != nil {
		t.Fatalf("rules check -case: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		fmt.Sprintf("case #%d: new, customer, priority normal, risk none", id),
		"1 unanswered customer mail(s)",
		"first-response  fires Mon 2026-11-30 13:00 CET (in 1h0m0s)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
