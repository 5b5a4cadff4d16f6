package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
)

// listenLMTP binds [lmtp] listen: a unix socket (a stale socket file left by
// a crash is replaced; the mode lets the MTA's group connect) or a TCP port.
func listenLMTP(c *Config) (net.Listener, error) {
	network, address := c.lmtpNetwork()
	if network == "unix" {
		if fi, err := os.Lstat(address); err == nil {
			if fi.Mode().Type() != fs.ModeSocket {
				return nil, configErrorf("%s: lmtp.listen: %s exists and is not a socket", c.path, address)
			}
			if err := os.Remove(address); err != nil {
				return nil, fmt.Errorf("lmtp.listen: remove stale socket: %w", err)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("lmtp.listen: %w", err)
		}
	}
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("lmtp.listen %s: %w", address, err)
	}
	if network == "unix" {
		if err := os.Chmod(address, c.lmtpSocketMode()); err != nil {
			l.Close()
			return nil, fmt.Errorf("lmtp.listen: %w", err)
		}
	}
	return l, nil
}
