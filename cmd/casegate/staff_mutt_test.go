package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A staff member answers with the real mutt (installed by make test),
// submitting over SMTP with an attachment, a command and her signature, as
// from a desk.
func TestStaffReplyFromMutt(t *testing.T) {
	mutt, err := exec.LookPath("mutt")
	if err != nil {
		t.Fatalf("mutt is not installed; make test installs it (scripts/install-deps.sh mutt): %v", err)
	}
	g := startStaffGateway(t, `trusted_networks = ["127.0.0.0/8", "::1"]`)
	box := &outbox{db: g.db}
	caseID, _, staffToken, notificationID := openCase(t, g, box)

	dir := t.TempDir()
	rc := filepath.Join(dir, "muttrc")
	draft := filepath.Join(dir, "draft")
	report := filepath.Join(dir, "report.txt")
	signature := filepath.Join(dir, "signature")
	files := map[string]string{
		rc: fmt.Sprintf(`set smtp_url="smtp://%s/"
set ssl_starttls=no
set ssl_force_tls=no
set from="Alice Example <alice@example.com>"
set use_from=yes
set use_envelope_from=yes
set hostname=example.com
set record=""
set charset=utf-8
set send_charset="us-ascii:utf-8"
set signature="%s"
`, g.addr, signature),
		// Her own signature (mutt appends it with "-- ") and the block she
		// types herself: neither reaches the customer (issue 16 item 9).
		signature: "Alice Example\nExample Corp support\n+49 30 1234567\nMusterstrasse 1, 10115 Berlin\n",
		draft: fmt.Sprintf(`To: Example Support <%s>
Subject: Re: [#%d] New case: Printer on fire
In-Reply-To: <%s>
References: <%s>

#pending

Hello Ada,

is it still burning? The log of our call is attached.

Best regards,
Alice Example
Example Corp | +49 30 1234567

On Sun, Nov 22, 2026 at 10:00:00AM +0000, Example Support wrote:
> New case #%d: Printer on fire
`, staffToken, caseID, notificationID, notificationID, caseID),
		report: "10:02 customer called\n10:05 advised to unplug\n",
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mutt, "-n", "-F", rc, "-H", draft, "-a", report)
	cmd.Env = append(os.Environ(), "HOME="+dir, "TMPDIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mutt: %v\n%s", err, out)
	}

	m := box.expect(t, "ada@customer.example")["ada@customer.example"]
	if want := relayedText(caseID, "Hello Ada,\n\nis it still burning? The log of our call is attached."); m.text != want {
		t.Errorf("relayed text %q, want %q", m.text, want)
	}
	for _, private := range []string{"1234567", "Musterstrasse", "Alice"} {
		if strings.Contains(m.raw, private) {
			t.Errorf("the relayed reply holds %q from Alice's signature:\n%s", private, m.raw)
		}
	}
	if got := strings.ReplaceAll(string(m.files["report.txt"]), "\r\n", "\n"); got != files[report] {
		t.Errorf("relayed attachment = %q", got)
	}
	if c := getCase(t, g.db, caseID); c.Status != "pending" {
		t.Errorf("after #pending from mutt: %+v", c)
	}
}
