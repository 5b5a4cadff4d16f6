package mailout

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Probe connects to the relay as Deliver would (TLS as configured,
// certificate verified, EHLO, AUTH when a username is set) and quits
// without sending anything: `casegate check-config -smarthost`.
func (s *Smarthost) Probe(ctx context.Context) error {
	d := net.Dialer{Timeout: s.opts.Timeout}
	var conn net.Conn
	var err error
	if s.opts.TLS == "implicit" {
		td := tls.Dialer{NetDialer: &d, Config: s.opts.TLSConfig}
		conn, err = td.DialContext(ctx, "tcp", s.opts.Address)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.opts.Address)
	}
	if err != nil {
		return fmt.Errorf("dial %s: %w", s.opts.Address, err)
	}
	deadline := time.Now().Add(s.opts.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	var c *smtp.Client
	if s.opts.TLS == "starttls" {
		if c, err = smtp.NewClientStartTLS(conn, s.opts.TLSConfig); err != nil {
			conn.Close()
			return fmt.Errorf("starttls %s: %w", s.opts.Address, err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	if err := c.Hello(s.opts.HeloName); err != nil {
		return fmt.Errorf("hello %s: %w", s.opts.Address, err)
	}
	if s.opts.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.opts.Username, s.opts.Password)); err != nil {
			return fmt.Errorf("auth %s: %w", s.opts.Address, err)
		}
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("quit %s: %w", s.opts.Address, err)
	}
	return nil
}
