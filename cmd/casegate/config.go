package main

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casegate/mailin"
)

// Config is the whole configuration, read from one TOML file. Secrets may
// instead come from the environment (CASEGATE_DATABASE_URL,
// CASEGATE_STAFF_SECRET, CASEGATE_SMARTHOST_PASSWORD) or from files
// (*_file keys), so the file itself can be world-readable.
type Config struct {
	Database  DatabaseConfig  `toml:"database"`
	SMTP      SMTPConfig      `toml:"smtp"`
	Addresses AddressesConfig `toml:"addresses"`
	Staff     StaffConfig     `toml:"staff"`
	Outbound  OutboundConfig  `toml:"outbound"`
	Templates TemplatesConfig `toml:"templates"`
	Log       LogConfig       `toml:"log"`
	LMTP      LMTPConfig      `toml:"lmtp"` // config_service.go
	HTTP      HTTPConfig      `toml:"http"` // config_service.go
	Safety    SafetyConfig    `toml:"safety"`
	IMAP      []IMAPConfig    `toml:"imap"` // [[imap]] accounts to poll (imap.go)
	Followup  FollowupConfig  `toml:"followup"`
	Report    ReportConfig    `toml:"report"`

	// Submission is the SMTP AUTH listener for staff (listeners.go).
	Submission SubmissionConfig `toml:"submission"`

	// [classify], [[rule]], [calendars.*] and [escalation]: see rules.go.
	EscalationSettings

	path   string
	lines  keyLines            // where each key is written, for errors
	getenv func(string) string // kept for SIGHUP, which reads the file again

	submissionAccounts *mailin.Accounts // [submission] users_file, read by validate
}

// DatabaseConfig is [database].
type DatabaseConfig struct {
	URL            string `toml:"url"`
	MaxConnections int    `toml:"max_connections"` // default 20
}

// SMTPConfig is [smtp].
type SMTPConfig struct {
	Listen          []string `toml:"listen"`
	Domains         []string `toml:"domains"`
	Hostname        string   `toml:"hostname"`
	MaxMessageBytes int64    `toml:"max_message_bytes"` // default 25 MiB
	MaxRecipients   int      `toml:"max_recipients"`    // default 100
	ReadTimeout     Duration `toml:"read_timeout"`      // default 10m, per read
	// Mail safety (cmd/casegate/safety.go).
	MaxHeaderBytes int    `toml:"max_header_bytes"`       // default 1 MiB
	MaxConnsPerIP  int    `toml:"max_connections_per_ip"` // default 20; -1 for none
	TLSCert        string `toml:"tls_cert"`               // PEM certificate chain for STARTTLS
	TLSKey         string `toml:"tls_key"`                // its PEM private key
	// Bounded sessions (listeners.go); the same for LMTP and submission.
	MaxConnections int      `toml:"max_connections"`  // default 200 per listener kind; -1 for none
	MaxSessionTime Duration `toml:"max_session_time"` // default 1h, or a DATA phase and a read more
	MinDataRate    int64    `toml:"min_data_rate"`    // bytes/s, default 20480; -1 for no DATA limit
}

// AddressesConfig is [addresses].
type AddressesConfig struct {
	Support string   `toml:"support"` // "Example Support <support@example.com>"
	PR      string   `toml:"pr"`
	Staff   []string `toml:"staff"`
}

// StaffConfig is [staff].
type StaffConfig struct {
	Secret     string `toml:"secret"`
	SecretFile string `toml:"secret_file"`
	// Rotation (staff.go): keys rotated out, whose tokens are recognised
	// as stale and never obeyed, in the file or in files of their own.
	PreviousSecrets     []string `toml:"previous_secrets"`
	PreviousSecretFiles []string `toml:"previous_secret_files"`
	// TokenTTL is how long after a case is resolved or closed its reply
	// addresses still work; default 720h.
	TokenTTL Duration `toml:"token_ttl"`
	// Staff work by mail (staff.go).
	TrustedNetworks   []string `toml:"trusted_networks"`    // CIDRs or addresses whose SMTP clients count as proof
	AuthservID        string   `toml:"authserv_id"`         // the upstream MX whose Authentication-Results are trusted
	ShowNames         bool     `toml:"show_names"`          // customers see the staff member's name (never the address)
	AddCCParticipants bool     `toml:"add_cc_participants"` // addresses the customer copies become participants

	trusted []netip.Prefix // TrustedNetworks, parsed by validate
}

// OutboundConfig is [outbound].
type OutboundConfig struct {
	Smarthost    string `toml:"smarthost"`
	Username     string `toml:"username"`
	Password     string `toml:"password"`
	PasswordFile string `toml:"password_file"`
	StartTLS     *bool  `toml:"starttls"`     // default true
	ImplicitTLS  bool   `toml:"implicit_tls"` // TLS from the first byte (port 465)
	Maildir      string `toml:"maildir"`
	// DKIM signing of outgoing mail (cmd/casegate/safety.go).
	DKIMKeyFile  string `toml:"dkim_key_file"` // PEM private key; signing is off without it
	DKIMSelector string `toml:"dkim_selector"`
	// FailingUnreadyAfter: /readyz reports outgoing delivery as failing
	// once every attempt has failed for this long (listeners.go); default 15m.
	FailingUnreadyAfter Duration `toml:"failing_unready_after"`
}

// TemplatesConfig is [templates].
type TemplatesConfig struct {
	Dir             string `toml:"dir"`
	DefaultLanguage string `toml:"default_language"` // variant for customers who name no language; "" for the default files
	// TimeZone is the IANA zone times in customer mail are shown in; by
	// default the calendar of the first no_staff_reply rule, else UTC.
	TimeZone string `toml:"timezone"`

	zone *time.Location // built by validateTimeZone
}

// LogConfig is [log].
type LogConfig struct {
	Level  string `toml:"level"`  // debug, info (default), warn, error
	Format string `toml:"format"` // text (default) or json
}

// Duration is a time.Duration written as "90m" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText reads "4h", "90m", "10s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// configError is a configuration problem: the process exits with status 2
// and systemd does not restart it (RestartPreventExitStatus=2).
type configError struct {
	msg string
	key string // the offending key, e.g. "smtp.listen", when one is to blame
	at  string // where key is in the file, when key alone does not say ("rule.2.after")
}

func (e *configError) Error() string { return e.msg }

func configErrorf(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// loadConfig reads and validates the file at path, then applies
// environment overrides through getenv.
func loadConfig(path string, getenv func(string) string) (*Config, error) {
	if path == "" {
		return nil, configErrorf("no configuration file: use -config FILE")
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, configErrorf("%v", err)
	}
	var c Config
	lines, err := decodeConfigFile(path, doc, &c)
	if err != nil {
		return nil, err
	}
	c.path = path
	c.lines = lines
	c.getenv = getenv
	if v := getenv("CASEGATE_DATABASE_URL"); v != "" {
		c.Database.URL = v
	}
	if v := getenv("CASEGATE_STAFF_SECRET"); v != "" {
		c.Staff.Secret = v
	}
	if v := getenv("CASEGATE_SMARTHOST_PASSWORD"); v != "" {
		c.Outbound.Password = v
	}
	if err := c.readSecretFiles(); err != nil {
		return nil, c.atLine(err)
	}
	if err := c.validate(); err != nil {
		return nil, c.atLine(err)
	}
	return &c, nil
}

func (c *Config) readSecretFiles() error {
	read := func(key, file string, into *string) error {
		if file == "" || *into != "" {
			return nil
		}
		b, err := os.ReadFile(c.resolve(file))
		if err != nil {
			return &configError{msg: fmt.Sprintf("%s: %s: %v", c.path, key, err), key: key}
		}
		*into = strings.TrimSpace(string(b))
		return nil
	}
	if err := read("staff.secret_file", c.Staff.SecretFile, &c.Staff.Secret); err != nil {
		return err
	}
	for _, file := range c.Staff.PreviousSecretFiles {
		var previous string
		if err := read("staff.previous_secret_files", file, &previous); err != nil {
			return err
		}
		c.Staff.PreviousSecrets = append(c.Staff.PreviousSecrets, previous)
	}
	return read("outbound.password_file", c.Outbound.PasswordFile, &c.Outbound.Password)
}

// resolve makes a relative path in the config relative to the config file.
func (c *Config) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(c.path), p)
}

func (c *Config) validate() error {
	bad := func(key, format string, args ...any) error {
		return &configError{msg: fmt.Sprintf("%s: %s: %s", c.path, key, fmt.Sprintf(format, args...)), key: key}
	}
	if c.Database.URL == "" {
		return bad("database.url", "required (or set CASEGATE_DATABASE_URL)")
	}
	if c.Database.MaxConnections == 0 {
		c.Database.MaxConnections = 20
	}
	if len(c.SMTP.Listen) == 0 {
		return bad("smtp.listen", "at least one address is required, e.g. [\"127.0.0.1:2525\"]")
	}
	for _, l := range c.SMTP.Listen {
		if _, _, err := net.SplitHostPort(l); err != nil {
			return bad("smtp.listen", "%q: %v", l, err)
		}
	}
	if len(c.SMTP.Domains) == 0 {
		return bad("smtp.domains", "at least one recipient domain is required")
	}
	if c.SMTP.MaxMessageBytes < 0 {
		return bad("smtp.max_message_bytes", "must be positive")
	}
	support, err := mail.ParseAddress(c.Addresses.Support)
	if err != nil {
		return bad("addresses.support", "%q: %v", c.Addresses.Support, err)
	}
	_, domain, _ := strings.Cut(support.Address, "@")
	if !containsFold(c.SMTP.Domains, domain) {
		return bad("smtp.domains", "must include the support address's domain %q", domain)
	}
	if strings.Contains(support.Address, "+") {
		return bad("addresses.support", "must not contain \"+\": casegate adds +<case>-<token> itself")
	}
	if c.Addresses.PR != "" {
		if _, err := mail.ParseAddress(c.Addresses.PR); err != nil {
			return bad("addresses.pr", "%q: %v", c.Addresses.PR, err)
		}
	}
	for _, s := range c.Addresses.Staff {
		if _, err := mail.ParseAddress(s); err != nil {
			return bad("addresses.staff", "%q: %v", s, err)
		}
	}
	if err := c.validateStaff(); err != nil {
		return err
	}
	if len(c.Staff.Secret) < 16 {
		return bad("staff.secret", "at least 16 characters are required (or set CASEGATE_STAFF_SECRET or staff.secret_file)")
	}
	switch {
	case c.Outbound.Smarthost != "" && c.Outbound.Maildir != "":
		return bad("outbound", "set smarthost or maildir, not both")
	case c.Outbound.Smarthost == "" && c.Outbound.Maildir == "":
		return bad("outbound", "set smarthost (host:port) or maildir (a directory)")
	case c.Outbound.Smarthost != "":
		if _, _, err := net.SplitHostPort(c.Outbound.Smarthost); err != nil {
			return bad("outbound.smarthost", "%q: %v", c.Outbound.Smarthost, err)
		}
		if c.Outbound.ImplicitTLS && c.Outbound.StartTLS != nil && *c.Outbound.StartTLS {
			return bad("outbound.implicit_tls", "cannot be combined with starttls = true")
		}
	}
	if err := c.validateSafety(); err != nil {
		return err
	}
	switch c.Log.Level {
	case "", "debug", "info", "warn", "error":
	default:
		return bad("log.level", "%q: use debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		return bad("log.format", "%q: use text or json", c.Log.Format)
	}
	if err := c.validateService(bad); err != nil {
		return err
	}
	if err := c.validateListeners(bad); err != nil {
		return err
	}
	if err := c.validateIMAP(); err != nil {
		return err
	}
	if err := c.validateFollowup(); err != nil {
		return err
	}
	if err := c.validateEscalation(); err != nil {
		return err
	}
	if err := c.validateTimeZone(); err != nil {
		return err
	}
	return c.validateReport()
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
