package mailout

import (
	"context"
	"fmt"
)

// Probe connects to the relay as Deliver would (TLS as configured,
// certificate verified, EHLO, AUTH when a username is set) and quits
// without sending anything: `casegate check-config -smarthost`.
func (s *Smarthost) Probe(ctx context.Context) error {
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Quit(); err != nil {
		return fmt.Errorf("quit %s: %w", s.opts.Address, err)
	}
	return nil
}
