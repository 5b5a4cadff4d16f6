package mailin

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// relayHeader is the top of a message as Postfix with DKIM and DMARC
// milters hands it on: its verdicts above its own Received field, with
// OpenDKIM's comment holding a ";".
const relayHeader = "Authentication-Results: mx.example.com;\n" +
	"\tdkim=pass (2048-bit key; unprotected) header.d=example.com header.i=@example.com header.b=\"AbCdEfGh\";\n" +
	"\tdkim-atps=neutral\n" +
	"Authentication-Results: mx.example.com; dmarc=pass (p=reject dis=none) header.from=example.com\n" +
	"Received: from mail.example.com (mail.example.com [192.0.2.7])\n" +
	"\tby mx.example.com (Postfix) with ESMTPS id 4XyZ1\n" +
	"\tfor <support@support.example.com>; Sun, 22 Nov 2026 10:00:01 +0000 (UTC)\n"

// What counts as our Authentication-Results (RFC 8601 §5): only fields a
// trusted relay put above its own Received field; every other field that
// claims our authserv-id, however it is spelled, is counted as forged.
func TestRelayAuthResults(t *testing.T) {
	forgedPass := "Authentication-Results: mx.example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com\n"
	msg := func(head string) []byte {
		return crlf(head + "From: alice@example.com\nSubject: hi\n\nbody\n")
	}
	for _, tc := range []struct {
		name            string
		raw             []byte
		trusted         bool
		believed, fake  int
		authservID      string // default mx.example.com
		believedContain string
	}{
		{"untrusted client", msg(forgedPass), false, 0, 1, "", ""},
		{"untrusted, relay's Received too", msg(relayHeader), false, 0, 2, "", ""},
		{"other letter case and a trailing dot", msg("Authentication-Results: MX.Example.COM.; dmarc=pass header.from=example.com\n"), false, 0, 1, "", ""},
		{"comments and folding", msg("Authentication-Results: (checked) mx.example.com (our MX) 1\n\t;\n\tdmarc=pass header.from=example.com\n"), false, 0, 1, "", ""},
		{"nested comment with a semicolon", msg("Authentication-Results: (a (b; c) d) mx.example.com; dmarc=pass header.from=example.com\n"), false, 0, 1, "", ""},
		{"quoted authserv-id", msg("Authentication-Results: \"mx.example.com\"; dmarc=pass header.from=example.com\n"), false, 0, 1, "", ""},
		{"folded before the id", msg("Authentication-Results:\n mx.example.com;\n dmarc=pass header.from=example.com\n"), false, 0, 1, "", ""},
		{"several forged", msg(forgedPass + forgedPass + "Received: from x by y; Sun, 22 Nov 2026 10:00:00 +0000\n" + forgedPass), false, 0, 3, "", ""},
		{"trusted relay", msg(relayHeader), true, 2, 0, "", "dmarc=pass"},
		{"trusted relay, forged below its Received", msg(relayHeader + forgedPass), true, 2, 1, "", "dmarc=pass"},
		{"trusted relay, forged only below", msg("Received: from x by mx.example.com; Sun, 22 Nov 2026 10:00:00 +0000\n" + forgedPass), true, 0, 1, "", ""},
		{"trusted relay, no Received at all", msg(forgedPass), true, 0, 1, "", ""},
		{"another server's verdicts", msg("Authentication-Results: mx.google.com; dmarc=pass header.from=example.com\n"), false, 0, 0, "", ""},
		{"a look-alike id is not ours", msg("Authentication-Results: mx.example.com.evil.example; dmarc=pass header.from=example.com\n"), false, 0, 0, "", ""},
		{"no authserv-id configured", msg(forgedPass), false, 0, 0, "-", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.authservID
			switch id {
			case "":
				id = "mx.example.com"
			case "-":
				id = ""
			}
			believed, forged, _ := relayAuthResults(tc.raw, id, tc.trusted)
			if len(believed) != tc.believed || forged != tc.fake {
				t.Errorf("believed %q, forged %d; want %d believed, %d forged", believed, forged, tc.believed, tc.fake)
			}
			if tc.believedContain != "" && !strings.Contains(strings.Join(believed, "\n"), tc.believedContain) {
				t.Errorf("believed %q lacks %q", believed, tc.believedContain)
			}
		})
	}
	// A header go-message cannot read at all is believed nowhere, and its
	// claims are still counted.
	if n := countClaims([]byte("Authentication-Results: mx.example.com; dmarc=pass\r\nauthentication-results:(x)MX.EXAMPLE.COM;dkim=pass\r\n\r\n"), "mx.example.com"); n != 2 {
		t.Errorf("countClaims = %d, want 2", n)
	}
}

// Through the listener: a trusted relay's verdicts (with real-world
// comments) are believed; the same fields from any other client are
// removed unread, and the attempt is stored as a problem of the message and
// an event on its case.
func TestAuthenticationResultsOnlyFromTrustedRelay(t *testing.T) {
	zone := &dnsZone{}
	auth := NewAuthenticator(AuthOptions{LookupTXT: zone.LookupTXT, TrustedAuthservID: "mx.example.com", Timeout: 5 * time.Second})
	relay := startListener(t, SMTPOptions{Auth: auth, TrustedRelay: true})
	open := startListener(t, SMTPOptions{Auth: auth})
	mk := func(id, head string) []byte {
		return crlf(fmt.Sprintf("%sFrom: alice@example.com\nTo: support@support.example.com\nSubject: hi\nMessage-ID: <%s>\n\nbody\n", head, id))
	}
	if err := sendMail(t, relay.addr, "alice@example.com", []string{"support@support.example.com"}, mk("relay-1@x", relayHeader)); err != nil {
		t.Fatal(err)
	}
	if in := relay.filer.lastInbound(); !in.Auth.DMARCPass || !in.Auth.DKIMAligned || in.Auth.Forged != "" {
		t.Errorf("trusted relay: auth = %+v", in.Auth)
	}
	// The relay's verdict for another From domain, or a failing one, is no pass.
	failing := strings.Replace(relayHeader, "dmarc=pass (p=reject dis=none)", "dmarc=fail (p=reject dis=none)", 1)
	if err := sendMail(t, relay.addr, "alice@example.com", []string{"support@support.example.com"}, mk("relay-2@x", failing+
		"Authentication-Results: mx.example.com; dmarc=pass header.from=example.com\n")); err != nil {
		t.Fatal(err)
	}
	if in := relay.filer.lastInbound(); in.Auth.DMARCPass || in.Auth.Forged == "" {
		t.Errorf("trusted relay saying fail, forged pass below: auth = %+v", in.Auth)
	}

	if err := sendMail(t, open.addr, "alice@example.com", []string{"support@support.example.com"}, mk("open-1@x", relayHeader)); err != nil {
		t.Fatal(err)
	}
	in := open.filer.lastInbound()
	if in.Auth.DMARCPass || in.Auth.DKIMAligned || !strings.Contains(in.Auth.Forged, "2 Authentication-Results") {
		t.Errorf("untrusted client: auth = %+v", in.Auth)
	}
	var problems, raw string
	open.db.Get(&problems, `SELECT array_to_string(problems, '|') FROM messages WHERE message_id = 'open-1@x'`)
	open.db.Get(&raw, `SELECT convert_from(raw, 'UTF8') FROM messages WHERE message_id = 'open-1@x'`)
	if !strings.Contains(problems, "not added by a trusted relay") {
		t.Errorf("problems = %q", problems)
	}
	if !strings.HasPrefix(raw, "Authentication-Results: mx.example.com;") {
		t.Errorf("raw bytes not kept as received: %.80q", raw)
	}
	var events int
	open.db.Get(&events, `SELECT count(*) FROM events WHERE kind = 'forged-authentication-results' AND detail LIKE '%mx.example.com%'`)
	if events != 1 {
		t.Errorf("forged-authentication-results events = %d, want 1", events)
	}
}
