package main

import (
	"net/mail"
	"net/netip"
	"strings"
	"time"
)

// validateStaff checks the [staff] keys of staff work by mail.
func (c *Config) validateStaff() error {
	c.Staff.trusted = nil
	for _, n := range c.Staff.TrustedNetworks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			a, aerr := netip.ParseAddr(n)
			if aerr != nil {
				return configErrorf("%s: staff.trusted_networks: %q is neither a network (10.0.0.0/8) nor an address", c.path, n)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		c.Staff.trusted = append(c.Staff.trusted, p.Masked())
	}
	if strings.ContainsAny(c.Staff.AuthservID, " \t;\r\n") {
		return configErrorf("%s: staff.authserv_id: %q must be one host name (RFC 8601 §2.5)", c.path, c.Staff.AuthservID)
	}
	for i, p := range c.Staff.PreviousSecrets {
		switch {
		case len(p) < 16:
			return configErrorf("%s: staff.previous_secrets: secret %d is shorter than 16 characters", c.path, i+1)
		case p == c.Staff.Secret:
			return configErrorf("%s: staff.previous_secrets: secret %d is the current secret; a previous secret must be one rotated out", c.path, i+1)
		}
	}
	if c.Staff.TokenTTL.Duration < 0 {
		return configErrorf("%s: staff.token_ttl: must not be negative", c.path)
	}
	if c.Staff.TokenTTL.Duration == 0 {
		c.Staff.TokenTTL.Duration = 720 * time.Hour
	}
	return nil
}

// previousSecrets are the keys of [staff] previous_secrets (and the files
// of previous_secret_files) as threads.Options takes them.
func previousSecrets(c *Config) [][]byte {
	var out [][]byte
	for _, p := range c.Staff.PreviousSecrets {
		out = append(out, []byte(p))
	}
	return out
}

// staffAddresses is the staff directory: the bare, lower-cased addresses of
// [addresses] staff (validated).
func staffAddresses(c *Config) []string {
	var out []string
	for _, s := range c.Addresses.Staff {
		if a, err := mail.ParseAddress(s); err == nil {
			out = append(out, strings.ToLower(a.Address))
		}
	}
	return out
}

// prAddress is the bare address of [addresses] pr, or "".
func prAddress(c *Config) string {
	if a, err := mail.ParseAddress(c.Addresses.PR); err == nil {
		return strings.ToLower(a.Address)
	}
	return ""
}
