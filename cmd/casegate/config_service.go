package main

import (
	"net"
	"os"
	"strconv"
	"strings"
)

// LMTPConfig is [lmtp]: an LMTP listener (RFC 2033) for an MTA in front of
// casegate that keeps mail in its own queue.
type LMTPConfig struct {
	// Listen is a unix socket path ("/run/casegate/lmtp.sock") or a
	// host:port ("127.0.0.1:2424"); empty: no LMTP listener.
	Listen string `toml:"listen"`
	// SocketMode is the permission of a unix socket, octal; default "0660"
	// (the MTA's user must be in casegate's group).
	SocketMode string `toml:"socket_mode"`
	// TrustAuthenticationResults: the MTA handing mail over here is a
	// trusted relay, whose Authentication-Results under [staff]
	// authserv_id are believed as it added them (RFC 8601 §5). Default
	// true for a unix socket, false for host:port.
	TrustAuthenticationResults *bool `toml:"trust_authentication_results"`
}

// HTTPConfig is [http]: /metrics, /healthz and /readyz.
type HTTPConfig struct {
	// Listen is host:port; a bare ":port" binds loopback only. Empty: no
	// HTTP listener.
	Listen string `toml:"listen"`
	// Pprof serves Go's runtime profiles under /debug/pprof/ on the same
	// listener, for measuring where a loaded gateway spends its time. Only
	// on a loopback listener: profiles show the process's innards.
	Pprof bool `toml:"pprof"`
	// AllowRemote lets Listen be an address other hosts reach (0.0.0.0, a
	// LAN address). Metrics reveal mail volume and queue sizes, so a
	// non-loopback listener must be asked for; default false.
	AllowRemote bool `toml:"allow_remote"`
}

func (c *Config) validateService(bad func(key, format string, args ...any) error) error {
	if l := c.LMTP.Listen; l != "" && !isSocketPath(l) {
		if _, _, err := net.SplitHostPort(l); err != nil {
			return bad("lmtp.listen", "%q: use a unix socket path (/run/casegate/lmtp.sock) or host:port: %v", l, err)
		}
	}
	if m := c.LMTP.SocketMode; m != "" {
		if _, err := strconv.ParseUint(m, 8, 32); err != nil {
			return bad("lmtp.socket_mode", "%q: use an octal mode such as \"0660\"", m)
		}
	}
	if l := c.HTTP.Listen; l != "" {
		host, _, err := net.SplitHostPort(l)
		if err != nil {
			return bad("http.listen", "%q: %v", l, err)
		}
		if host == "" {
			// Metrics reveal queue sizes and mail volume: loopback unless
			// the admin names an address.
			c.HTTP.Listen = "127.0.0.1" + l
			host = "127.0.0.1"
		}
		if !isLoopbackHost(host) {
			if c.HTTP.Pprof {
				return bad("http.pprof", "profiles are served only on a loopback listener, and http.listen is %q: use 127.0.0.1:PORT (an SSH tunnel reaches it)", l)
			}
			if !c.HTTP.AllowRemote {
				return bad("http.listen", "%q is reachable from other hosts, and metrics reveal mail volume and queue sizes: use 127.0.0.1:PORT, or set [http] allow_remote = true and keep it behind a firewall", l)
			}
		}
	}
	return nil
}

// isLoopbackHost reports whether host (of a listen address) is reachable
// from this machine only. A wildcard (0.0.0.0, ::) or a name other than
// localhost is not.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isSocketPath(s string) bool { return strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") }

// lmtpNetwork says where to listen for LMTP; a relative socket path is
// relative to the config file.
func (c *Config) lmtpNetwork() (network, address string) {
	if isSocketPath(c.LMTP.Listen) {
		return "unix", c.resolve(c.LMTP.Listen)
	}
	return "tcp", c.LMTP.Listen
}

func (c *Config) lmtpSocketMode() os.FileMode {
	if c.LMTP.SocketMode == "" {
		return 0o660
	}
	m, _ := strconv.ParseUint(c.LMTP.SocketMode, 8, 32) // validated
	return os.FileMode(m)
}
