package mailout_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"casegate/internal/gatewaytest"
	"casegate/mailout"
)

// A customer address that does not exist: the acknowledgement fails for
// good and staff get one notice naming the case, the address and the
// relay's answer. Staff mail that fails (bob's mailbox is gone too) causes
// no notice: notices never feed notices.
func TestDeliveryFailureNoticeToStaff(t *testing.T) {
	relay := gatewaytest.StartRelay(t)
	relay.Reject("nobody@customer.example", "bob@example.com")
	g := gatewaytest.Start(t, gatewaytest.Options{Relay: relay, Staff: []string{"alice@example.com", "bob@example.com"}})

	raw := "From: Nobody <nobody@customer.example>\nTo: support@support.example.com\nSubject: Help\nMessage-ID: <nobody-1@customer.example>\n\nHello?\n"
	if err := g.Send(t, "nobody@customer.example", []string{"support@support.example.com"}, raw); err != nil {
		t.Fatal(err)
	}
	// Alice gets the new-case notification and then the failure notice.
	deadline := time.Now().Add(20 * time.Second)
	var notice *gatewaytest.Mail
	for notice == nil {
		for _, m := range relay.To(t, "alice@example.com") {
			// On the case's staff thread: the case's subject, and the news
			// in the first line.
			if m.Subject == "[#1000] Help" && strings.Contains(m.Raw, "could not be delivered") {
				notice = &m
			}
		}
		if notice == nil && time.Now().After(deadline) {
			t.Fatalf("no failure notice to alice; she got %d mails", len(relay.To(t, "alice@example.com")))
		}
		time.Sleep(20 * time.Millisecond)
	}
	text := notice.Text
	for _, want := range []string{"Recipient:  nobody@customer.example", "no such user here", "casegate outbox retry"} {
		if !strings.Contains(text, want) {
			t.Errorf("notice lacks %q:\n%s", want, text)
		}
	}
	if v := notice.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("notice Auto-Submitted = %q", v)
	}
	// Every delivery to bob failed too (the notification and the notice),
	// yet exactly one notice exists: for the customer's acknowledgement.
	for deadline := time.Now().Add(20 * time.Second); g.Count(t, `SELECT count(*) FROM deliveries WHERE recipient = 'bob@example.com' AND status = 'failed'`) != 2; {
		if time.Now().After(deadline) {
			t.Fatal("the deliveries to bob did not both fail")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a notice about bob would be queued by now
	if n := g.Count(t, `SELECT count(*) FROM delivery_failure_notices`); n != 1 {
		t.Errorf("failure notices = %d, want 1", n)
	}
	if n := g.Count(t, `SELECT count(*) FROM events WHERE kind = 'delivery-failed'`); n != 1 {
		t.Errorf("delivery-failed events = %d, want 1", n)
	}
}

// With a key configured, outgoing mail is DKIM-signed as the support domain
// and verifies against the published key.
func TestOutboundMailIsDKIMSigned(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := mailout.NewDKIMSigner("support.example.com", "s1", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, gatewaytest.Options{Sign: signer.Sign})
	if err := g.Send(t, "ada@customer.example", []string{"support@support.example.com"}, gatewaytest.CustomerMail); err != nil {
		t.Fatal(err)
	}
	ack := g.Relay.WaitTo(t, "ada@customer.example", 1)[0].Raw
	record := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	verifs, err := dkim.VerifyWithOptions(strings.NewReader(ack), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
		if name == "s1._domainkey.support.example.com" {
			return []string{record}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}})
	if err != nil || len(verifs) != 1 || verifs[0].Err != nil || verifs[0].Domain != "support.example.com" {
		t.Fatalf("verify: %v %+v", err, verifs)
	}
	signed := strings.ToLower(strings.Join(verifs[0].HeaderKeys, ":"))
	for _, h := range []string{"from", "subject", "auto-submitted", "x-casegate-loop"} {
		if !slices.Contains(strings.Split(signed, ":"), h) {
			t.Errorf("%s is not signed (h=%s)", h, signed)
		}
	}
}
