package mailin

import (
	"bytes"
	"casegate/vocab"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// Each proof of origin the README lists under "Who counts as staff" makes a
// staff reply (staff address, staff token) obeyed, through the real
// listener into the real store: an aligned DKIM signature under a DMARC
// policy, the trusted relay's Authentication-Results, a client in the
// trusted networks. Without any of them the same reply is not. (SMTP AUTH
// on the submission listener: cmd/casegate TestStaffRepliesThroughSubmission.)
func TestEachProofGrantsStaffAuthority(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	zone := &dnsZone{txt: map[string][]string{
		"s1._domainkey.example.com": {"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)},
		"_dmarc.example.com":        {"v=DMARC1; p=reject"},
	}}
	auth := NewAuthenticator(AuthOptions{LookupTXT: zone.LookupTXT, TrustedAuthservID: "mx.example.com", Timeout: 5 * time.Second})
	reply := func(token, id string) []byte {
		return crlf(fmt.Sprintf("From: Alice <alice@example.com>\nTo: %s\nSubject: Re: help\nMessage-ID: <%s>\nDate: Mon, 30 Nov 2026 10:00:00 +0000\n\n#priority urgent\n\nOn it.\n", token, id))
	}
	for _, tc := range []struct {
		name   string
		opts   SMTPOptions
		proof  func(raw []byte) []byte
		obeyed bool
	}{
		{"no proof", SMTPOptions{Auth: auth}, func(raw []byte) []byte { return raw }, false},
		{"aligned DKIM and DMARC", SMTPOptions{Auth: auth}, func(raw []byte) []byte {
			var out bytes.Buffer
			if err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{Domain: "example.com", Selector: "s1", Signer: priv}); err != nil {
				t.Fatal(err)
			}
			return out.Bytes()
		}, true},
		{"the trusted relay's Authentication-Results", SMTPOptions{Auth: auth, TrustedRelay: true}, func(raw []byte) []byte {
			return append(crlf(relayHeader), raw...)
		}, true},
		{"the same fields from an untrusted client", SMTPOptions{Auth: auth}, func(raw []byte) []byte {
			return append(crlf(relayHeader), raw...)
		}, false},
		{"a trusted network", SMTPOptions{Auth: auth, TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, func(raw []byte) []byte { return raw }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startListener(t, tc.opts)
			if err := sendMail(t, l.addr, "ada@customer.example", []string{"support@support.example.com"},
				crlf("From: ada@customer.example\nTo: support@support.example.com\nSubject: help\nMessage-ID: <open@x>\n\nHelp.\n")); err != nil {
				t.Fatal(err)
			}
			var caseID int64
			l.db.Get(&caseID, `SELECT id FROM cases`)
			token := l.filer.Store.ReplyAddress(caseID, vocab.RoleStaff)
			if err := sendMail(t, l.addr, "alice@example.com", []string{token}, tc.proof(reply(token, "reply@x"))); err != nil {
				t.Fatal(err)
			}
			var priority string
			l.db.Get(&priority, `SELECT priority FROM cases WHERE id = $1`, caseID)
			if obeyed := priority == "urgent"; obeyed != tc.obeyed {
				t.Errorf("obeyed = %t, want %t (auth %+v)", obeyed, tc.obeyed, l.filer.lastInbound().Auth)
			}
		})
	}
}
