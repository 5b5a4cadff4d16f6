package main

import (
	"net/mail"
	"net/netip"
	"strings"
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
	return nil
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
