package mailout

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIMSigner signs outgoing mail (RFC 6376) so that receivers can tell it
// from forgeries of the support domain and DMARC passes.
type DKIMSigner struct {
	opts dkim.SignOptions
}

// NewDKIMSigner reads a PEM private key (RSA in PKCS #1 or #8, or Ed25519 in
// PKCS #8) and signs as domain with selector. It signs a sample message once,
// so a key that cannot sign stops the gateway at start.
func NewDKIMSigner(domain, selector string, keyPEM []byte) (*DKIMSigner, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("dkim: no PEM block in key")
	}
	var key any
	var err error
	if block.Type == "RSA PRIVATE KEY" {
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	} else {
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("dkim: key of type %T cannot sign", key)
	}
	s := &DKIMSigner{opts: dkim.SignOptions{
		Domain:                 domain,
		Selector:               selector,
		Signer:                 signer,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		// RFC 6376 §5.4.1, plus our loop and auto-reply markers so that
		// no one can strip or add them in transit unnoticed.
		HeaderKeys: []string{"From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-Id",
			"In-Reply-To", "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
			"Auto-Submitted", LoopHeader},
	}}
	if _, err := s.Sign([]byte("From: a@" + domain + "\r\nSubject: test\r\n\r\ntest\r\n")); err != nil {
		return nil, err
	}
	return s, nil
}

// Sign returns raw with a DKIM-Signature field prepended.
func (s *DKIMSigner) Sign(raw []byte) ([]byte, error) {
	var out bytes.Buffer
	if err := dkim.Sign(&out, bytes.NewReader(raw), &s.opts); err != nil {
		return nil, fmt.Errorf("dkim: sign: %w", err)
	}
	return out.Bytes(), nil
}
