package main

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
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
	// listener, for measuring where a loaded gateway spends its time.
	Pprof bool `toml:"pprof"`
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
		}
	}
	return nil
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

// keyLine finds the line of key ("smtp.listen") in the TOML file at path, so
// check-config can point at it; 0 when the key is not written in the file
// (a missing required key). BurntSushi/toml keeps key positions private, so
// this only locates "[table]" headers and "name =" lines; it never reads
// values, which the decoder has already checked.
func keyLine(path, key string) int {
	table, name, ok := strings.Cut(key, ".")
	if !ok {
		table, name = key, ""
	}
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	current, tableLine := "", 0
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			current = strings.TrimSpace(strings.Trim(line, "[]"))
			if current == table {
				tableLine = n
				if name == "" {
					return n
				}
			}
			continue
		}
		if current != table || name == "" {
			continue
		}
		if k, _, ok := strings.Cut(line, "="); ok && strings.Trim(strings.TrimSpace(k), `"`) == name {
			return n
		}
	}
	return tableLine
}
