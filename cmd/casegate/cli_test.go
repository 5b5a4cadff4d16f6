package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casegate/internal/gatewaytest"
	"casegate/internal/pgtest"
)

// admin runs one admin command as a user would, against the configuration
// of g, and returns its output and error.
func (g *serviceGateway) admin(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		if k == "USER" {
			return "tester"
		}
		return ""
	}
	err := run(context.Background(), append(args, "-config", g.config), getenv, &out, &errOut)
	return out.String(), err
}

func (g *serviceGateway) mustAdmin(t *testing.T, args ...string) string {
	t.Helper()
	out, err := g.admin(t, args...)
	if err != nil {
		t.Fatalf("casegate %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func wantExit(t *testing.T, err error, code int, what string) {
	t.Helper()
	got := cliExitCode(err)
	var ce *configError
	if errors.As(err, &ce) {
		got = 2
	}
	if err == nil || got != code {
		t.Errorf("%s: err = %v (exit %d), want exit %d", what, err, got, code)
	}
}

func waitCount(t *testing.T, g *serviceGateway, want int, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := count(t, g.db, query, args...)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d, want %d", query, n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAdminCasesWhileServiceRuns(t *testing.T) {
	g := startService(t, pgtest.URL(t), "")
	if err := send(t, g.smtp(), "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatal(err)
	}
	bob := strings.NewReplacer("Ada Lovelace <ada@", "Bob <bob@", "first-1", "bob-1", "Printer on fire", "Invoice wrong").Replace(gatewaytest.CustomerMail)
	if err := send(t, g.smtp(), "bob@customer.example", []string{"support@support.example.com"}, bob); err != nil {
		t.Fatal(err)
	}

	out := g.mustAdmin(t, "cases")
	for _, want := range []string{"CASE", "#1000", "#1001", "Printer on fire", "Invoice wrong", "ada@customer.example", "new"} {
		if !strings.Contains(out, want) {
			t.Errorf("cases lacks %q:\n%s", want, out)
		}
	}
	var list []caseJSON
	if err := json.Unmarshal([]byte(g.mustAdmin(t, "cases", "-json")), &list); err != nil || len(list) != 2 {
		t.Fatalf("cases -json: %v %+v", err, list)
	}

	out = g.mustAdmin(t, "case", "show", "1000")
	for _, want := range []string{"Case #1000: Printer on fire", "customer ada@customer.example", "Participants:", "Timeline:",
		"** opened by ada@customer.example", "** acknowledged by casegate", "| My printer is on fire. Please help.", "-> message"} {
		if !strings.Contains(out, want) {
			t.Errorf("case show lacks %q:\n%s", want, out)
		}
	}

	// Changes, each leaving an event by the CLI user.
	if out := g.mustAdmin(t, "case", "resolve", "1000", "-reason", "printer replaced"); !strings.Contains(out, "case #1000: resolved") {
		t.Errorf("resolve said %q", out)
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = 1000 AND kind = 'status' AND actor = 'cli:tester' AND detail = 'new → resolved: printer replaced'`); n != 1 {
		t.Errorf("resolve event missing")
	}
	_, err := g.admin(t, "case", "resolve", "1000")
	wantExit(t, err, exitRefused, "resolving a resolved case")
	if out := g.mustAdmin(t, "cases"); strings.Contains(out, "#1000") {
		t.Errorf("open cases list a resolved case:\n%s", out)
	}
	if err := json.Unmarshal([]byte(g.mustAdmin(t, "cases", "-status", "resolved", "-json")), &list); err != nil || len(list) != 1 || list[0].ID != 1000 || list[0].ResolvedAt == nil {
		t.Errorf("cases -status resolved: %v %+v", err, list)
	}
	g.mustAdmin(t, "case", "reopen", "1000")
	g.mustAdmin(t, "case", "assign", "#1000", "Alice@Example.com")
	g.mustAdmin(t, "case", "priority", "1000", "urgent")
	g.mustAdmin(t, "case", "note", "1000", "called", "the", "customer")
	var detail struct {
		Case         caseJSON `json:"case"`
		Participants []struct {
			Address string `json:"address"`
			Role    string `json:"role"`
		} `json:"participants"`
		Messages []struct {
			Direction string `json:"direction"`
			Text      string `json:"text"`
		} `json:"messages"`
		Events []struct {
			Kind   string `json:"kind"`
			Actor  string `json:"actor"`
			Detail string `json:"detail"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(g.mustAdmin(t, "case", "show", "1000", "-json")), &detail); err != nil {
		t.Fatal(err)
	}
	if c := detail.Case; c.Status != "open" || c.Assignee != "alice@example.com" || c.Priority != "urgent" || c.ResolvedAt != nil {
		t.Errorf("case after changes = %+v", c)
	}
	// The customer's mail, its acknowledgement, the staff notification and
	// the resolution notice.
	if len(detail.Participants) != 1 || detail.Participants[0].Role != "customer" || len(detail.Messages) != 4 {
		t.Errorf("participants %+v, messages %d", detail.Participants, len(detail.Messages))
	}
	last := detail.Events[len(detail.Events)-1]
	if last.Kind != "note" || last.Actor != "cli:tester" || last.Detail != "called the customer" {
		t.Errorf("last event = %+v, want the note", last)
	}

	// Bad input: clear errors and exit statuses, nothing changed.
	_, err = g.admin(t, "case", "show", "9999")
	wantExit(t, err, exitNotFound, "show a missing case")
	_, err = g.admin(t, "case", "resolve", "9999")
	wantExit(t, err, exitNotFound, "resolve a missing case")
	_, err = g.admin(t, "case", "show", "abc")
	wantExit(t, err, 2, "a case number that is not one")
	_, err = g.admin(t, "case", "priority", "1000", "whenever")
	wantExit(t, err, 2, "an unknown priority")
	_, err = g.admin(t, "case", "explode", "1000")
	wantExit(t, err, 2, "an unknown action")
	_, err = g.admin(t, "cases", "-status", "bogus")
	wantExit(t, err, 2, "an unknown status")
	if out := g.mustAdmin(t, "cases", "-category", "journalist", "-json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("journalist cases = %s, want []", out)
	}
}

func TestAdminOutboxAndQuarantineWhileServiceRuns(t *testing.T) {
	g := startService(t, pgtest.URL(t), "")
	if err := send(t, g.smtp(), "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatal(err)
	}
	waitMaildir(t, g.maildir, 2) // the acknowledgement and the staff notification
	waitCount(t, g, 2, `SELECT count(*) FROM deliveries WHERE status = 'sent'`)
	out := g.mustAdmin(t, "outbox")
	if !strings.Contains(out, "sent") || !strings.Contains(out, "ada@customer.example") {
		t.Errorf("outbox:\n%s", out)
	}

	// The relay refused the acknowledgement for good (as a 5xx would): it
	// is not in the mailbox.
	g.db.MustExec(`UPDATE deliveries SET status = 'failed', failed_at = now(), last_error = '550 5.1.1 mailbox unavailable' WHERE id = 1`)
	if err := os.Remove(filepath.Join(g.maildir, "new", "d1.casegate")); err != nil {
		t.Fatal(err)
	}
	out = g.mustAdmin(t, "outbox", "-failed")
	if !strings.Contains(out, "failed") || !strings.Contains(out, "550 5.1.1 mailbox unavailable") {
		t.Errorf("outbox -failed:\n%s", out)
	}
	if out := g.mustAdmin(t, "outbox", "retry", "1"); !strings.Contains(out, "queued again") {
		t.Errorf("retry said %q", out)
	}
	// The running service sends the same recorded bytes again.
	waitCount(t, g, 1, `SELECT count(*) FROM deliveries WHERE id = 1 AND status = 'sent'`)
	waitMaildir(t, g.maildir, 2)
	var ds []struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(g.mustAdmin(t, "outbox", "-failed", "-json")), &ds); err != nil || len(ds) != 0 {
		t.Errorf("outbox -failed -json after the retry: %v %+v", err, ds)
	}
	_, err := g.admin(t, "outbox", "retry", "1")
	wantExit(t, err, exitRefused, "retry a sent delivery")
	_, err = g.admin(t, "outbox", "retry", "999")
	wantExit(t, err, exitNotFound, "retry a missing delivery")

	// A message that could not be filed waits in quarantine.
	raw := strings.ReplaceAll(strings.NewReplacer("first-1", "held-1", "Printer on fire", "Held message").Replace(gatewaytest.CustomerMail), "\n", "\r\n")
	g.db.MustExec(`INSERT INTO quarantine (source, reason, raw, envelope_from, envelope_to, message_id, received_at)
		VALUES ('smtp', 'filing failed: template error', $1, 'ada@customer.example', '{support@support.example.com}', 'held-1@customer.example', now())`, []byte(raw))
	out = g.mustAdmin(t, "quarantine")
	if !strings.Contains(out, "filing failed: template error") || !strings.Contains(out, "ada@customer.example") {
		t.Errorf("quarantine:\n%s", out)
	}
	out = g.mustAdmin(t, "quarantine", "refile", "1")
	if !strings.Contains(out, "filed as new case #1001") {
		t.Errorf("refile said %q", out)
	}
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE message_id = 'held-1@customer.example'`); n != 1 {
		t.Errorf("refiled message stored %d times", n)
	}
	// Exactly once: a second refile is refused and files nothing.
	_, err = g.admin(t, "quarantine", "refile", "1")
	wantExit(t, err, exitRefused, "refile twice")
	_, err = g.admin(t, "quarantine", "refile", "7")
	wantExit(t, err, exitNotFound, "refile a missing message")
	if n := count(t, g.db, `SELECT count(*) FROM messages WHERE message_id = 'held-1@customer.example'`); n != 1 {
		t.Errorf("refiled message stored %d times after a second refile", n)
	}
	if out := g.mustAdmin(t, "quarantine", "-json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("quarantine after refiling = %s", out)
	}
	var qs []struct {
		ID          int64 `json:"id"`
		RefiledCase int64 `json:"refiled_case"`
	}
	if err := json.Unmarshal([]byte(g.mustAdmin(t, "quarantine", "-all", "-json")), &qs); err != nil || len(qs) != 1 || qs[0].RefiledCase != 1001 {
		t.Errorf("quarantine -all -json: %v %+v", err, qs)
	}
	// The refiled customer gets the acknowledgement the service sends.
	waitMaildir(t, g.maildir, 4) // and staff are told of the new case
}

func TestCheckConfig(t *testing.T) {
	dbURL := pgtest.URL(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	check := func(path string, extra ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"check-config", "-config", path}, extra...), func(string) string { return "" }, &out, io.Discard)
		return out.String(), err
	}

	good := write("good.toml", fmt.Sprintf(testConfig, dbURL))
	out, err := check(good)
	if err != nil || !strings.Contains(out, "configuration OK") || !strings.Contains(out, "database reachable") {
		t.Fatalf("good config: %v\n%s", err, out)
	}

	if strings.Contains(out, "warn") {
		t.Errorf("good config warned:\n%s", out)
	}
	// Allowed but likely wrong: a warning naming the key, and still OK.
	noStaff := strings.Replace(fmt.Sprintf(testConfig, dbURL), `staff = ["alice@example.com"]`, "", 1)
	out, err = check(write("nostaff.toml", noStaff))
	if err != nil || !strings.Contains(out, "warn  ") || !strings.Contains(out, "addresses.staff: no staff address") || !strings.Contains(out, "configuration OK") {
		t.Errorf("no staff: %v\n%s", err, out)
	}

	// A bad value names file, line and key.
	bad := strings.Replace(fmt.Sprintf(testConfig, dbURL), `listen = ["127.0.0.1:0"]`, `listen = ["nowhere"]`, 1)
	line := 1 + strings.Count(bad[:strings.Index(bad, `listen = ["nowhere"]`)], "\n")
	_, err = check(write("bad.toml", bad))
	wantExit(t, err, 2, "bad smtp.listen")
	if want := fmt.Sprintf("bad.toml:%d: smtp.listen:", line); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v does not name %q", err, want)
	}
	// A TOML syntax error and an unknown key are named too.
	_, err = check(write("syntax.toml", fmt.Sprintf(testConfig, dbURL)+"[log\n"))
	if wantExit(t, err, 2, "syntax error"); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("syntax.toml:%d:", strings.Count(fmt.Sprintf(testConfig, dbURL), "\n")+1)) {
		t.Errorf("syntax error: %v", err)
	}
	_, err = check(write("unknown.toml", fmt.Sprintf(testConfig, dbURL)+"[log]\nlevle = \"info\"\n"))
	if wantExit(t, err, 2, "unknown key"); err == nil || !strings.Contains(err.Error(), "log.levle") {
		t.Errorf("unknown key: %v", err)
	}
	// A broken template names templates.dir and the template file.
	tpl := filepath.Join(dir, "tpl")
	os.Mkdir(tpl, 0o755)
	os.WriteFile(filepath.Join(tpl, "acknowledgement.txt.tmpl"), []byte("Subject: {{.Nope}}\n\nx\n"), 0o644)
	text := fmt.Sprintf(testConfig, dbURL) + "[templates]\ndir = \"tpl\"\n"
	_, err = check(write("tpl.toml", text))
	if want := fmt.Sprintf("tpl.toml:%d: templates.dir:", strings.Count(text, "\n")); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "acknowledgement.txt.tmpl") {
		t.Errorf("broken template: %v, want %q and the file name", err, want)
	}
	// An unreachable database is a failure of its own (exit 1).
	closed := closedPort(t)
	_, err = check(write("nodb.toml", fmt.Sprintf(testConfig, "postgres://postgres@"+closed+"/x?sslmode=disable&connect_timeout=5")))
	var ce *configError
	if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "database.url") {
		t.Errorf("unreachable database: %v, want a non-configuration error naming database.url", err)
	}

	// -smarthost connects to the relay and says hello.
	relay := gatewaytest.StartRelay(t)
	withRelay := func(addr string) string {
		return strings.Replace(fmt.Sprintf(testConfig, dbURL), `maildir = "maildir"`, fmt.Sprintf("smarthost = %q\nstarttls = false", addr), 1)
	}
	out, err = check(write("relay.toml", withRelay(relay.Addr)), "-smarthost")
	if err != nil || !strings.Contains(out, "smarthost "+relay.Addr) {
		t.Errorf("-smarthost with a relay: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(10 * time.Second); len(relay.Hellos()) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Error("the relay saw no connection")
			break
		}
	}
	// A relay on loopback needs no TLS by default (the mail never leaves
	// the machine); starttls = true still demands it, and this relay has
	// none.
	loopback := strings.Replace(withRelay(relay.Addr), "\nstarttls = false", "", 1)
	if out, err := check(write("loopback.toml", loopback), "-smarthost"); err != nil {
		t.Errorf("-smarthost on loopback without a starttls key: %v\n%s", err, out)
	}
	demand := strings.Replace(withRelay(relay.Addr), "starttls = false", "starttls = true", 1)
	if _, err := check(write("demand.toml", demand), "-smarthost"); err == nil || !strings.Contains(err.Error(), "outbound.smarthost") {
		t.Errorf("-smarthost with starttls = true at a relay without STARTTLS: %v", err)
	}
	_, err = check(write("norelay.toml", withRelay(closed)), "-smarthost")
	if err == nil || !strings.Contains(err.Error(), "outbound.smarthost") {
		t.Errorf("-smarthost without a relay: %v", err)
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// `casegate case assign` applies the rule #assign applies by mail: only a
// staff address (or the PR mailbox) can be given a case, since the assignee
// alone is told of the customer's next mail. Anything else is refused with
// exit status 4 and changes nothing; "-" unassigns.
func TestAdminAssignIsStaffOnly(t *testing.T) {
	g := startService(t, pgtest.URL(t), "")
	if err := send(t, g.smtp(), "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatal(err)
	}
	for _, outsider := range []string{"eve@outside.example", "<eve@outside.example>", "Eve <eve@outside.example>", "ada@customer.example", "alice@example.com.outside.example"} {
		_, err := g.admin(t, "case", "assign", "1000", outsider)
		wantExit(t, err, exitRefused, "assign to "+outsider)
		if err != nil && !strings.Contains(err.Error(), "not in the staff directory") {
			t.Errorf("assign to %s: %v, want it to say the address is not in the staff directory", outsider, err)
		}
	}
	if n := count(t, g.db, `SELECT count(*) FROM cases WHERE id = 1000 AND assignee = ''`); n != 1 {
		t.Errorf("a refused assignment changed the case")
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = 1000 AND kind = 'assigned'`); n != 0 {
		t.Errorf("a refused assignment left %d events", n)
	}
	// The customer's next mail goes to staff, not outside.
	next := strings.NewReplacer("first-1", "first-2", "Please help.", "Still burning.").Replace(gatewaytest.CustomerMail)
	if err := send(t, g.smtp(), "ada@customer.example", []string{"support@support.example.com"}, next); err != nil {
		t.Fatal(err)
	}
	waitCount(t, g, 2, `SELECT count(*) FROM deliveries WHERE recipient = 'alice@example.com'`)
	if n := count(t, g.db, `SELECT count(*) FROM deliveries WHERE recipient LIKE '%outside.example'`); n != 0 {
		t.Errorf("%d mails went outside", n)
	}

	// Staff addresses, in any case, and the PR mailbox are accepted; "-" unassigns.
	if out := g.mustAdmin(t, "case", "assign", "1000", "<Alice@Example.com>"); !strings.Contains(out, "assignee alice@example.com") {
		t.Errorf("assign to staff said %q", out)
	}
	g.mustAdmin(t, "case", "assign", "1000", "pr@example.com")
	g.mustAdmin(t, "case", "assign", "1000", "-")
	if n := count(t, g.db, `SELECT count(*) FROM cases WHERE id = 1000 AND assignee = ''`); n != 1 {
		t.Errorf("\"-\" did not unassign")
	}
	if n := count(t, g.db, `SELECT count(*) FROM events WHERE case_id = 1000 AND kind = 'assigned' AND actor = 'cli:tester'`); n != 3 {
		t.Errorf("assigned events = %d, want 3", n)
	}
}

// casegate cases finds cases by customer, assignee and words of the mail;
// casegate case raw and case attachment give back exactly what arrived.
func TestAdminFindsCasesAndExportsMail(t *testing.T) {
	g := startService(t, pgtest.URL(t), "")
	pdf := []byte("%PDF-1.4\n% not really a PDF, but bytes that must come back exactly\n\x00\x01\x02\xff")
	withAttachment := "From: Grace Hopper <grace@navy.example>\nTo: support@support.example.com\n" +
		"Subject: Invoice 2026-117 is wrong\nMessage-ID: <invoice-1@navy.example>\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain; charset=utf-8\n\n" +
		"The invoice lists a fax machine we never ordered.\n--b1\nContent-Type: application/pdf; name=\"invoice.pdf\"\n" +
		"Content-Disposition: attachment; filename=\"invoice.pdf\"\nContent-Transfer-Encoding: base64\n\n" +
		base64.StdEncoding.EncodeToString(pdf) + "\n--b1--\n"
	if err := send(t, g.smtp(), "grace@navy.example", []string{"support@support.example.com"}, withAttachment); err != nil {
		t.Fatal(err)
	}
	if err := send(t, g.smtp(), "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatal(err)
	}
	g.mustAdmin(t, "case", "assign", "1001", "alice@example.com")
	ids := func(args ...string) string {
		var list []caseJSON
		if err := json.Unmarshal([]byte(g.mustAdmin(t, append([]string{"cases", "-json"}, args...)...)), &list); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range list {
			out = append(out, fmt.Sprint(c.ID))
		}
		return strings.Join(out, ",")
	}
	// The search index is built after the filing: the README promises
	// "within about two seconds"; a loaded test machine gets five.
	for start := time.Now(); ids("-text", "printer") != "1001"; {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the second mail is not found by -text five seconds after its filing")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-text", "fax machine"}, "1000"},
		{[]string{"-text", `"machine fax"`}, ""},
		{[]string{"-text", "printer"}, "1001"},
		{[]string{"-customer", "GRACE@navy.example"}, "1000"},
		{[]string{"-customer", "@customer.example"}, "1001"},
		{[]string{"-assignee", "alice@example.com"}, "1001"},
		{[]string{"-assignee", "-"}, "1000"},
	} {
		if got := ids(tc.args...); got != tc.want {
			t.Errorf("cases %v = [%s], want [%s]", tc.args, got, tc.want)
		}
	}
	_, err := g.admin(t, "cases", "-customer", "grace")
	wantExit(t, err, 2, "a customer that is not an address")

	// The raw mail, byte for byte as the listener took it.
	if raw := g.mustAdmin(t, "case", "raw", "1000"); raw != strings.ReplaceAll(withAttachment, "\n", "\r\n") {
		t.Errorf("case raw 1000 = %q, want the mail as sent", raw)
	}
	// The attachment: listed, then written out decoded.
	if list := g.mustAdmin(t, "case", "attachment", "1000"); !strings.Contains(list, "invoice.pdf") || !strings.Contains(list, "application/pdf") {
		t.Errorf("case attachment 1000 lists:\n%s", list)
	}
	out := filepath.Join(t.TempDir(), "invoice.pdf")
	g.mustAdmin(t, "case", "attachment", "1000", "invoice.pdf", "-o", out)
	if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, pdf) {
		t.Errorf("written attachment = %q, %v; want the original bytes", b, err)
	}
	if got := g.mustAdmin(t, "case", "attachment", "1000", "-message", "1", "1"); got != string(pdf) {
		t.Errorf("attachment by number = %q", got)
	}
	_, err = g.admin(t, "case", "attachment", "1000", "contract.pdf")
	wantExit(t, err, exitNotFound, "an attachment that is not there")
	_, err = g.admin(t, "case", "raw", "1001", "-message", "1")
	wantExit(t, err, exitNotFound, "another case's message")
	_, err = g.admin(t, "case", "raw", "4242")
	wantExit(t, err, exitNotFound, "a missing case")
}
