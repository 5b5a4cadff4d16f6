// Package testcert makes a throwaway self-signed certificate for the tests
// of casegate's TLS listeners (STARTTLS on SMTP and on submission).
package testcert

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// Name is the host name the certificate is for.
const Name = "casegate.test"

// Cert is a certificate for Name, valid for an hour either side of now.
type Cert struct {
	TLS             tls.Certificate // for a server's tls.Config
	CertPEM, KeyPEM []byte          // as a configuration's cert and key files
}

// New returns a fresh certificate or fails the test.
func New(t testing.TB) Cert {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: Name},
		DNSNames:     []string{Name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	c := Cert{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	if c.TLS, err = tls.X509KeyPair(c.CertPEM, c.KeyPEM); err != nil {
		t.Fatal(err)
	}
	c.TLS.Leaf, _ = x509.ParseCertificate(der)
	return c
}

// ClientConfig is a client TLS configuration that trusts c for Name.
func (c Cert) ClientConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(c.TLS.Leaf)
	return &tls.Config{RootCAs: pool, ServerName: Name}
}
