package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"casegate/internal/gatewaytest"
	"casegate/internal/pgtest"
	"casegate/threads"
)

// The behaviour tests of threads, mailin and mailout run on
// internal/gatewaytest, which wires the components as serve does. These
// two check serve's own wiring, from a configuration file: what it hands
// threads (storeOptions), and what it connects between the components
// while serving.

// Every [staff], [safety], [followup] and [templates] key that threads
// acts on reaches threads.Options.
func TestStoreOptionsFollowTheConfiguration(t *testing.T) {
	conf := strings.Replace(fmt.Sprintf(testConfig, "postgres://unused/x"), "[staff]\n", "[staff]\nshow_names = true\nadd_cc_participants = true\n", 1) + `
[safety]
max_auto_replies_per_day = 3
bounce_suppression = "24h"
[followup]
delay = "48h"
close_after = "96h"
reopen_at_or_below = 0
[templates]
default_language = "DE"
` + escalationConfig
	path := filepath.Join(t.TempDir(), "casegate.toml")
	os.WriteFile(path, []byte(conf), 0o600)
	c, err := loadConfig(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	o := storeOptions(c, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !o.ShowNames || !o.AddCCParticipants {
		t.Errorf("show_names %v, add_cc_participants %v: want both", o.ShowNames, o.AddCCParticipants)
	}
	if want := (threads.SafetyOptions{MaxAutoRepliesPerDay: 3, BounceSuppression: 24 * time.Hour}); o.Safety != want {
		t.Errorf("safety = %+v, want %+v", o.Safety, want)
	}
	if want := (threads.FollowupOptions{Delay: 48 * time.Hour, CloseAfter: 96 * time.Hour, ReopenAtOrBelow: -1}); o.Followup != want {
		t.Errorf("followup = %+v, want %+v (reopen_at_or_below = 0: never)", o.Followup, want)
	}
	if o.DefaultLanguage != "de" || o.TimeZone.String() != "Europe/Berlin" {
		t.Errorf("default language %q, zone %s; want de, Europe/Berlin", o.DefaultLanguage, o.TimeZone)
	}
	if !reflect.DeepEqual(o.StaffAddresses, []string{"alice@example.com"}) || o.PR.Address != "pr@example.com" || len(o.Rules) != 4 {
		t.Errorf("staff %v, PR %v, %d rules", o.StaffAddresses, o.PR, len(o.Rules))
	}
	if o.Attachments == nil {
		t.Error("no attachment reader: notifications would carry no attachments")
	}
}

// serve connects the sender to threads and signs what it sends: with a
// relay that refuses one customer, an acknowledgement goes out from the
// case's VERP bounce address (the sender's ReturnPath is threads'),
// DKIM-signed with [outbound] dkim_key_file; the staff notification
// carries the customer's attachment (threads reads it with mailin's
// parser); the refused acknowledgement tells staff (the sender's OnFailed
// is threads').
func TestServeWiresSenderAndThreads(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "dkim.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	relay := gatewaytest.StartRelay(t)
	relay.Reject("nobody@customer.example")
	dbURL := pgtest.URL(t)
	conf := strings.Replace(fmt.Sprintf(testConfig, dbURL), `maildir = "maildir"`,
		fmt.Sprintf("smarthost = %q\nstarttls = false\ndkim_key_file = %q\ndkim_selector = \"s1\"", relay.Addr, keyFile), 1)
	g, _ := runGateway(t, dir, dbURL, conf, nil)

	withPhoto := "From: Ada <ada@customer.example>\nTo: support@support.example.com\nSubject: Printer on fire\nMessage-ID: <w-1@customer.example>\n" +
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nPhoto attached.\n" +
		"--B\nContent-Type: image/jpeg\nContent-Disposition: attachment; filename=photo.jpg\nContent-Transfer-Encoding: base64\n\n/9j/4AAQSkZJRgABAQ==\n--B--\n"
	if err := send(t, g.addr, "ada@customer.example", []string{"support@support.example.com"}, withPhoto); err != nil {
		t.Fatal(err)
	}
	ack := relay.WaitTo(t, "ada@customer.example", 1)[0]
	var delivery int64
	g.db.Get(&delivery, `SELECT id FROM deliveries WHERE recipient = 'ada@customer.example'`)
	if want := fmt.Sprintf("support+bounce-%d-", delivery); !strings.HasPrefix(ack.From, want) {
		t.Errorf("acknowledgement sent from %q, want the bounce address %s<mac>@…", ack.From, want)
	}
	record := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	verifs, err := dkim.VerifyWithOptions(strings.NewReader(ack.Raw), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
		if name == "s1._domainkey.support.example.com" {
			return []string{record}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}})
	if err != nil || len(verifs) != 1 || verifs[0].Err != nil {
		t.Errorf("the acknowledgement does not verify: %v %+v", err, verifs)
	}
	if n := relay.WaitTo(t, "alice@example.com", 1)[0]; string(n.Files["photo.jpg"]) != "\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" {
		t.Errorf("the staff notification carries %q as the photo", n.Files["photo.jpg"])
	}

	if err := send(t, g.addr, "nobody@customer.example", []string{"support@support.example.com"},
		"From: <nobody@customer.example>\nTo: support@support.example.com\nSubject: Help\nMessage-ID: <w-2@customer.example>\n\nHello?\n"); err != nil {
		t.Fatal(err)
	}
	var notice *gatewaytest.Mail
	for deadline := time.Now().Add(20 * time.Second); notice == nil; time.Sleep(20 * time.Millisecond) {
		for _, m := range relay.To(t, "alice@example.com") {
			if strings.Contains(m.Text, "could not be delivered") && strings.Contains(m.Text, "nobody@customer.example") {
				notice = &m
			}
		}
		if notice == nil && time.Now().After(deadline) {
			t.Fatal("no failure notice to staff")
		}
	}
}
