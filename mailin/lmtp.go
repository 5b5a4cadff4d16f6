package mailin

import (
	"casegate/vocab"
	"io"
	"time"

	"github.com/emersion/go-smtp"
)

var _ smtp.LMTPSession = (*session)(nil)

// NewLMTPServer returns a server that speaks LMTP (RFC 2033) instead of SMTP,
// for an MTA (Postfix, an existing mail host) that keeps mail in its own
// durable queue and hands it over on a unix socket or a loopback port. It
// files exactly as the SMTP listener does, with source "lmtp".
func NewLMTPServer(opts SMTPOptions) *SMTPServer {
	s := NewSMTPServer(opts)
	s.lmtp = true
	return s
}

func (s *SMTPServer) source() string {
	switch {
	case s.lmtp:
		return "lmtp"
	case s.opts.Submission != nil:
		return "submission"
	}
	return "smtp"
}

// LMTPData files the message once for all its recipients (they all name
// the support mailbox, and one filing is one transaction), then gives each
// recipient that one outcome: RFC 2033 §4.2 wants a reply per recipient,
// and a 451 for every one of them makes the MTA keep and retry the message.
func (s *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	err := s.Data(r)
	for _, rcpt := range s.rcpts {
		status.SetStatus(rcpt, err)
	}
	return nil
}

func (s *SMTPServer) observe(result string, took time.Duration) {
	if s.opts.Observe != nil {
		s.opts.Observe(s.source(), result, took)
	}
}

func (s *SMTPServer) observeFiling(f vocab.Filed, err error, took time.Duration) {
	switch {
	case err != nil:
		s.observe("failed", took)
	case f.Duplicate:
		s.observe("duplicate", took)
	default:
		s.observe("filed", took)
	}
}
