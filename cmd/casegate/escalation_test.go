package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casegate/internal/gatewaytest"
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

// rules check -case N reads a real case and prints its deadlines.
func TestRulesCheckCase(t *testing.T) {
	clock := &movableClock{now: gatewaytest.BerlinTime(t, "2026-11-27 19:30")}
	url := pgtest.URL(t)
	g := startEscalationGateway(t, url, clock)
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.FridayMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	id := gatewaytest.OnlyCase(t, g.db)
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
