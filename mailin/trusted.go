package mailin

import (
	"casegate/vocab"
	"net/netip"
)

// markTrusted sets in.Auth.Trusted when the SMTP client at remote
// ("ip:port") is in one of the trusted networks: the admin vouches that
// mail from there was authenticated by the organisation's own relay.
func markTrusted(in *vocab.Inbound, remote string, trusted []netip.Prefix) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return
	}
	ip := ap.Addr().Unmap()
	for _, p := range trusted {
		if p.Contains(ip) {
			in.Auth.Trusted = true
			if in.Auth.Summary != "" {
				in.Auth.Summary += "; "
			}
			in.Auth.Summary += "trusted network " + p.String()
			return
		}
	}
}
