package main

import (
	"crypto/tls"
	"net/mail"
	"os"
	"strings"
	"time"

	"casegate/mailin"
	"casegate/mailout"
	"casegate/threads"
)

// SafetyConfig is [safety]: loops, bounces and sender authentication.
type SafetyConfig struct {
	MaxAutoRepliesPerDay  int      `toml:"max_auto_replies_per_day"`  // default 5
	MaxAutoRepliesPerCase int      `toml:"max_auto_replies_per_case"` // default 10
	BounceSuppression     Duration `toml:"bounce_suppression"`        // default 168h
	SPF                   bool     `toml:"spf"`                       // check SPF: only when casegate is the MX
	DNSTimeout            Duration `toml:"dns_timeout"`               // default 10s
	MaxDKIMSignatures     int      `toml:"max_dkim_signatures"`       // default 5
}

// validateSafety checks [safety] and the mail-safety keys of [smtp].
func (c *Config) validateSafety() error {
	bad := func(key, format string, args ...any) error {
		return configErrorf("%s: %s: "+format, append([]any{c.path, key}, args...)...)
	}
	s := &c.Safety
	if s.MaxAutoRepliesPerDay < 0 {
		return bad("safety.max_auto_replies_per_day", "must not be negative")
	}
	if s.MaxAutoRepliesPerCase < 0 {
		return bad("safety.max_auto_replies_per_case", "must not be negative")
	}
	if s.BounceSuppression.Duration < 0 {
		return bad("safety.bounce_suppression", "must not be negative")
	}
	if s.DNSTimeout.Duration < 0 || s.DNSTimeout.Duration > 5*time.Minute {
		return bad("safety.dns_timeout", "must be between 0 and 5m")
	}
	if s.MaxDKIMSignatures < 0 {
		return bad("safety.max_dkim_signatures", "must not be negative")
	}
	if c.SMTP.MaxHeaderBytes < 0 {
		return bad("smtp.max_header_bytes", "must not be negative")
	}
	if (c.SMTP.TLSCert == "") != (c.SMTP.TLSKey == "") {
		return bad("smtp.tls_cert", "tls_cert and tls_key go together")
	}
	if (c.Outbound.DKIMKeyFile == "") != (c.Outbound.DKIMSelector == "") {
		return bad("outbound.dkim_key_file", "dkim_key_file and dkim_selector go together")
	}
	if _, err := dkimSigner(c); err != nil {
		return err
	}
	if c.SMTP.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.resolve(c.SMTP.TLSCert), c.resolve(c.SMTP.TLSKey)); err != nil {
			return bad("smtp.tls_cert", "%v", err)
		}
	}
	return nil
}

// safetyOptions is what threads needs of the configuration for loops and
// bounces.
func safetyOptions(c *Config) threads.SafetyOptions {
	return threads.SafetyOptions{
		MaxAutoRepliesPerDay:  c.Safety.MaxAutoRepliesPerDay,
		MaxAutoRepliesPerCase: c.Safety.MaxAutoRepliesPerCase,
		BounceSuppression:     c.Safety.BounceSuppression.Duration,
	}
}

func authenticator(c *Config) *mailin.Authenticator {
	return mailin.NewAuthenticator(mailin.AuthOptions{
		SPF:               c.Safety.SPF,
		Timeout:           c.Safety.DNSTimeout.Duration,
		MaxSignatures:     c.Safety.MaxDKIMSignatures,
		TrustedAuthservID: c.Staff.AuthservID,
	})
}

// dkimSigner signs outgoing mail as the support address's domain, or is
// nil when no key is configured.
func dkimSigner(c *Config) (func([]byte) ([]byte, error), error) {
	if c.Outbound.DKIMKeyFile == "" {
		return nil, nil
	}
	key, err := os.ReadFile(c.resolve(c.Outbound.DKIMKeyFile))
	if err != nil {
		return nil, configErrorf("%s: outbound.dkim_key_file: %v", c.path, err)
	}
	support, err := mail.ParseAddress(c.Addresses.Support)
	if err != nil {
		return nil, configErrorf("%s: addresses.support: %v", c.path, err)
	}
	_, domain, _ := strings.Cut(support.Address, "@")
	s, err := mailout.NewDKIMSigner(domain, c.Outbound.DKIMSelector, key)
	if err != nil {
		return nil, configErrorf("%s: outbound.dkim_key_file: %v", c.path, err)
	}
	return s.Sign, nil
}

// smtpTLS is the STARTTLS configuration of the listener, nil without a
// certificate.
func smtpTLS(c *Config) (*tls.Config, error) {
	if c.SMTP.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.resolve(c.SMTP.TLSCert), c.resolve(c.SMTP.TLSKey))
	if err != nil {
		return nil, configErrorf("%s: smtp.tls_cert: %v", c.path, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
