package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"casegate/mailin"
)

// IMAPConfig is one [[imap]] block: an account whose mailboxes casegate
// polls (see README "IMAP mailboxes").
type IMAPConfig struct {
	Name            string   `toml:"name"`    // default: username
	Address         string   `toml:"address"` // host:port
	TLS             string   `toml:"tls"`     // implicit (default), starttls, none (loopback only)
	Username        string   `toml:"username"`
	Password        string   `toml:"password"`
	PasswordFile    string   `toml:"password_file"`
	Mailboxes       []string `toml:"mailboxes"`     // default ["INBOX"]
	After           string   `toml:"after"`         // seen, move (default), delete
	MoveTo          string   `toml:"move_to"`       // default "Processed"
	QuarantineTo    string   `toml:"quarantine_to"` // default "Quarantine"
	PollInterval    Duration `toml:"poll_interval"` // default 1m; only without IDLE
	Trusted         bool     `toml:"trusted"`       // an internal source (staff authority still needs a token)
	MaxMessageBytes int64    `toml:"max_message_bytes"`
	Concurrency     int      `toml:"concurrency"` // default 16: messages filed at once
	// FailingUnreadyAfter: /readyz reports a mailbox with no working
	// session for this long; default 15m.
	FailingUnreadyAfter Duration `toml:"failing_unready_after"`
}

// validateIMAP checks the [[imap]] blocks, fills in defaults and reads
// password files.
func (c *Config) validateIMAP() error {
	names := make(map[string]bool)
	for i := range c.IMAP {
		a := &c.IMAP[i]
		bad := func(key, format string, args ...any) error {
			return &configError{msg: fmt.Sprintf("%s: imap[%d].%s: %s", c.path, i, key, fmt.Sprintf(format, args...)),
				key: fmt.Sprintf("imap[%d].%s", i, key), at: fmt.Sprintf("imap.%d.%s", i, key)}
		}
		host, _, err := net.SplitHostPort(a.Address)
		if err != nil {
			return bad("address", "%q: want host:port (%v)", a.Address, err)
		}
		switch a.TLS {
		case "":
			a.TLS = string(mailin.TLSImplicit)
		case string(mailin.TLSImplicit), string(mailin.TLSStartTLS):
		case string(mailin.TLSNone):
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return bad("tls", "\"none\" sends the password in clear: allowed only for a loopback address, not %q", host)
			}
		default:
			return bad("tls", "%q: use implicit, starttls or none", a.TLS)
		}
		if a.Username == "" {
			return bad("username", "required")
		}
		if a.Password == "" && a.PasswordFile != "" {
			b, err := os.ReadFile(c.resolve(a.PasswordFile))
			if err != nil {
				return bad("password_file", "%v", err)
			}
			a.Password = strings.TrimSpace(string(b))
		}
		if a.Password == "" {
			return bad("password", "required (or password_file)")
		}
		if a.Name == "" {
			a.Name = a.Username
		}
		if strings.Contains(a.Name, "/") {
			return bad("name", "%q must not contain \"/\"", a.Name)
		}
		if names[a.Name] {
			return bad("name", "%q is used by two [[imap]] blocks; give each a distinct name", a.Name)
		}
		names[a.Name] = true
		if len(a.Mailboxes) == 0 {
			a.Mailboxes = []string{"INBOX"}
		}
		if a.MoveTo == "" {
			a.MoveTo = "Processed"
		}
		if a.QuarantineTo == "" {
			a.QuarantineTo = "Quarantine"
		}
		switch a.After {
		case "":
			a.After = string(mailin.AfterMove)
		case string(mailin.AfterSeen), string(mailin.AfterMove), string(mailin.AfterDelete):
		default:
			return bad("after", "%q: use seen, move or delete", a.After)
		}
		seen := make(map[string]bool)
		for _, m := range a.Mailboxes {
			switch {
			case strings.TrimSpace(m) == "":
				return bad("mailboxes", "empty mailbox name")
			case seen[m]:
				return bad("mailboxes", "%q listed twice", m)
			case a.After == string(mailin.AfterMove) && m == a.MoveTo:
				return bad("move_to", "%q is also polled: filed mail would be read again", m)
			case m == a.QuarantineTo:
				return bad("quarantine_to", "%q is also polled", m)
			}
			seen[m] = true
		}
		if a.PollInterval.Duration != 0 && a.PollInterval.Duration < time.Second {
			return bad("poll_interval", "%v is too short; at least 1s", a.PollInterval.Duration)
		}
		if a.MaxMessageBytes < 0 {
			return bad("max_message_bytes", "must be positive")
		}
		if a.MaxMessageBytes == 0 {
			a.MaxMessageBytes = c.SMTP.MaxMessageBytes
		}
		if a.FailingUnreadyAfter.Duration < 0 {
			return bad("failing_unready_after", "%v: must not be negative", a.FailingUnreadyAfter.Duration)
		}
		if a.Concurrency < 0 || a.Concurrency > 256 {
			return bad("concurrency", "%d: use 1 to 256 (default 16)", a.Concurrency)
		}
	}
	return nil
}

// newIMAPPollers builds one poller per [[imap]] block.
func newIMAPPollers(c *Config, db *sqlx.DB, filer mailin.Filer, log *slog.Logger) ([]*mailin.IMAPPoller, error) {
	var out []*mailin.IMAPPoller
	for _, a := range c.IMAP {
		p, err := mailin.NewIMAPPoller(mailin.IMAPOptions{
			Name:            a.Name,
			Address:         a.Address,
			TLS:             mailin.IMAPTLS(a.TLS),
			Username:        a.Username,
			Password:        a.Password,
			Mailboxes:       a.Mailboxes,
			After:           mailin.IMAPAfter(a.After),
			MoveTo:          a.MoveTo,
			QuarantineTo:    a.QuarantineTo,
			PollInterval:    a.PollInterval.Duration,
			Trusted:         a.Trusted,
			Auth:            authenticator(c),
			Classifier:      c.classifier,
			MaxMessageBytes: a.MaxMessageBytes,
			Concurrency:     a.Concurrency,
			UnreadyAfter:    a.FailingUnreadyAfter.Duration,
			DB:              db,
			Filer:           filer,
			Logger:          log,
		})
		if err != nil {
			return nil, configErrorf("%s: %v", c.path, err)
		}
		out = append(out, p)
	}
	return out, nil
}
