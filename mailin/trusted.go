package mailin

import (
	"bufio"
	"bytes"
	"casegate/vocab"
	"net"
	"net/netip"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// markTrusted sets in.Auth.Trusted when the SMTP client at remote is in
// one of the trusted networks: the admin vouches that mail from there was
// authenticated by the organisation's own relay.
func markTrusted(in *vocab.Inbound, remote net.Addr, trusted []netip.Prefix) {
	if p, ok := inNetworks(remote, trusted); ok {
		in.Auth.Trusted = true
		if in.Auth.Summary != "" {
			in.Auth.Summary += "; "
		}
		in.Auth.Summary += "trusted network " + p.String()
	}
}

// inNetworks returns the first of nets that holds the IP of a, if any; a
// unix socket peer is in none.
func inNetworks(a net.Addr, nets []netip.Prefix) (netip.Prefix, bool) {
	ip, ok := addrIP(a)
	if !ok {
		return netip.Prefix{}, false
	}
	for _, p := range nets {
		if p.Contains(ip) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// addrIP is the IP of a TCP peer, unmapped and without zone; false for a
// unix socket peer.
func addrIP(a net.Addr) (netip.Addr, bool) {
	if a == nil {
		return netip.Addr{}, false
	}
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, ok := netip.AddrFromSlice(ta.IP)
		return ip.Unmap().WithZone(""), ok
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap().WithZone(""), true
}

// relayAuthResults reads the Authentication-Results fields (RFC 8601) of
// raw that claim authservID, our own authserv-id, and sorts them.
//
// RFC 8601 §5: such a field counts only when the relay that wrote it is
// trusted, and only as that relay added it. A relay adds its fields on
// top of the header, above its own Received field; everything below that
// Received field came from further away, where anyone could have written
// it. So believed holds the values of the fields above the first Received
// field, and only when trustedRelay (the client is in trusted_networks, or
// the MTA on the LMTP socket); forged counts every other field that claims
// our authserv-id, in any letter case or with comments around it. A
// message with no Received field at all has nothing that marks where the
// relay's own fields end, so none of it is believed.
//
// Nothing else in casegate reads Authentication-Results: the forged fields
// are thereby removed from what authentication sees. The raw bytes are
// stored unchanged, as evidence. others counts the fields of other
// authserv-ids (all of them when authservID is empty), ignored too.
func relayAuthResults(raw []byte, authservID string, trustedRelay bool) (believed []string, forged, others int) {
	end := headerEnd(raw)
	if end < 0 {
		end = len(raw)
	}
	if !containsFold(raw[:end], "authentication-results") {
		return nil, 0, 0 // most mail: no header to parse
	}
	ours := normalAuthservID(authservID)
	repaired, _ := repairForParsing(raw)
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(repaired)))
	if err != nil {
		// An unreadable header: believe none of it, and count what claims
		// to be ours line by line.
		if ours == "" {
			return nil, 0, 0
		}
		return nil, countClaims(repaired, ours), 0
	}
	relayBlock := trustedRelay
	var above []string
	sawReceived := false
	for fields := h.Fields(); fields.Next(); {
		switch strings.ToLower(fields.Key()) {
		case "received":
			relayBlock, sawReceived = false, true
		case "authentication-results":
			if ours == "" || normalAuthservID(authservIDOf(fields.Value())) != ours {
				others++ // another server's verdicts: not ours to believe or strip
				continue
			}
			if relayBlock {
				above = append(above, fields.Value())
			} else {
				forged++
			}
		}
	}
	if !sawReceived {
		return nil, forged + len(above), others
	}
	return above, forged, others
}

// containsFold reports whether b holds the lower-case ASCII word, in any
// letter case.
func containsFold(b []byte, word string) bool {
	for i := 0; i+len(word) <= len(b); i++ {
		if b[i]|0x20 == word[0] && strings.EqualFold(string(b[i:i+len(word)]), word) {
			return true
		}
	}
	return false
}

// countClaims counts header lines of raw that start an
// Authentication-Results field claiming ours.
func countClaims(raw []byte, ours string) int {
	end := headerEnd(raw)
	if end < 0 {
		end = len(raw)
	}
	n := 0
	for _, line := range bytes.Split(raw[:end], []byte("\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(strings.TrimSpace(string(name)), "Authentication-Results") &&
			normalAuthservID(authservIDOf(string(value))) == ours {
			n++
		}
	}
	return n
}

// authservIDOf returns the authserv-id of an Authentication-Results value
// (RFC 8601 §2.2: authserv-id [ CFWS authres-version ] ; results), read
// leniently: comments anywhere, folding, a quoted-string form.
func authservIDOf(value string) string {
	id, _, _ := strings.Cut(stripComments(value), ";")
	f := strings.Fields(id)
	if len(f) == 0 {
		return ""
	}
	return strings.Trim(f[0], `"`)
}

// normalAuthservID compares authserv-ids as host names do: without letter
// case or a trailing dot.
func normalAuthservID(id string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(id)), ".")
}

// stripComments removes RFC 5322 comments (nested parentheses, with
// quoted-pairs) outside quoted strings, leaving a space in their place.
// Real relays put comments in Authentication-Results, even with ";" in
// them (OpenDKIM: "dkim=pass (2048-bit key; unprotected)"), which
// authres.Parse would otherwise split on.
func stripComments(s string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (quoted || depth > 0):
			if depth == 0 && i+1 < len(s) {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case quoted:
			b.WriteByte(c)
			if c == '"' {
				quoted = false
			}
		case c == '(':
			if depth == 0 {
				b.WriteByte(' ')
			}
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
		case c == '"':
			quoted = true
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
