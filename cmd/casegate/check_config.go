package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"casegate"
	"casegate/mailout"
	"casegate/templates"
)

// checkConfigCommand is `casegate check-config -config FILE [-smarthost]`:
// everything serve would check at start, without starting. Each problem is
// named by file, line and key. Exit status 2 for a configuration problem,
// 1 when the configuration is fine but the database or relay cannot be
// reached.
func checkConfigCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/casegate/casegate.toml", "configuration file")
	smarthost := fs.Bool("smarthost", false, "also connect to [outbound] smarthost (TLS, EHLO, AUTH; sends nothing)")
	if err := fs.Parse(args); err != nil {
		return configErrorf("check-config: %v", err)
	}
	ok := func(what string) { fmt.Fprintf(stdout, "ok    %s\n", what) }

	c, err := loadConfig(*path, getenv)
	if err != nil {
		return err
	}
	ok("configuration file " + *path)
	for _, w := range c.warnings() {
		fmt.Fprintf(stdout, "warn  %s\n", w)
	}
	if _, err := templates.Load(c.resolve(c.Templates.Dir)); err != nil {
		return c.atLine(&configError{msg: fmt.Sprintf("%s: templates.dir: %v", *path, err), key: "templates.dir"})
	}
	ok("templates")
	if c.Outbound.Maildir != "" {
		if err := writableDir(c.resolve(c.Outbound.Maildir)); err != nil {
			return c.atLine(&configError{msg: fmt.Sprintf("%s: outbound.maildir: %v", *path, err), key: "outbound.maildir"})
		}
		ok("outbound maildir " + c.resolve(c.Outbound.Maildir))
	}
	if network, addr := c.lmtpNetwork(); c.LMTP.Listen != "" && network == "unix" {
		if fi, err := os.Stat(filepath.Dir(addr)); err != nil || !fi.IsDir() {
			return c.atLine(&configError{msg: fmt.Sprintf("%s: lmtp.listen: directory of %s: %v", *path, addr, err), key: "lmtp.listen"})
		}
	}

	dbCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	db, err := openDatabase(dbCtx, c)
	if err != nil {
		return fmt.Errorf("database.url: %w", err)
	}
	defer db.Close()
	if err := casegate.CheckSchema(dbCtx, db.DB); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	ok(fmt.Sprintf("database reachable, schema version %d", casegate.SchemaVersion()))

	if *smarthost {
		if c.Outbound.Smarthost == "" {
			return c.atLine(&configError{msg: fmt.Sprintf("%s: outbound.smarthost: not set (outbound goes to a maildir)", *path), key: "outbound.smarthost"})
		}
		t, _ := newTransport(c)
		sh := t.(*mailout.Smarthost)
		probeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := sh.Probe(probeCtx); err != nil {
			return fmt.Errorf("outbound.smarthost: %w", err)
		}
		ok("smarthost " + c.Outbound.Smarthost)
	}
	fmt.Fprintln(stdout, "configuration OK")
	return nil
}

// warnings are settings that are allowed but likely wrong; check-config
// prints them, each with its line where the key is written.
func (c *Config) warnings() []string {
	var out []string
	warn := func(key, format string, args ...any) {
		where := c.path
		if line := c.lines.line(key); line > 0 {
			where += ":" + strconv.Itoa(line)
		}
		out = append(out, fmt.Sprintf("%s: %s: %s", where, key, fmt.Sprintf(format, args...)))
	}
	if len(c.Addresses.Staff) == 0 {
		warn("addresses.staff", "no staff address: nobody is told of new cases, and no reply is ever acted on as staff")
	}
	if host, _, err := net.SplitHostPort(c.HTTP.Listen); err == nil && !isLoopbackHost(host) {
		warn("http.listen", "%s serves /metrics to other hosts (allow_remote = true): keep it behind a firewall", c.HTTP.Listen)
	}
	return out
}

// writableDir reports whether the service could write into dir (creating
// it as the Maildir transport would).
func writableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".check-config-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}
