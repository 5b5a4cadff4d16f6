package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
		return withLine(*path, err)
	}
	ok("configuration file " + *path)
	if _, err := templates.Load(c.resolve(c.Templates.Dir)); err != nil {
		return withLine(*path, &configError{msg: fmt.Sprintf("%s: templates.dir: %v", *path, err), key: "templates.dir"})
	}
	ok("templates")
	if c.Outbound.Maildir != "" {
		if err := writableDir(c.resolve(c.Outbound.Maildir)); err != nil {
			return withLine(*path, &configError{msg: fmt.Sprintf("%s: outbound.maildir: %v", *path, err), key: "outbound.maildir"})
		}
		ok("outbound maildir " + c.resolve(c.Outbound.Maildir))
	}
	if network, addr := c.lmtpNetwork(); c.LMTP.Listen != "" && network == "unix" {
		if fi, err := os.Stat(filepath.Dir(addr)); err != nil || !fi.IsDir() {
			return withLine(*path, &configError{msg: fmt.Sprintf("%s: lmtp.listen: directory of %s: %v", *path, addr, err), key: "lmtp.listen"})
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
			return withLine(*path, &configError{msg: fmt.Sprintf("%s: outbound.smarthost: not set (outbound goes to a maildir)", *path), key: "outbound.smarthost"})
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

// withLine puts the line of the offending key into a configError message:
// "casegate.toml:12: smtp.listen: …".
func withLine(path string, err error) error {
	var ce *configError
	if !errors.As(err, &ce) || ce.key == "" {
		return err
	}
	line := keyLine(path, ce.key)
	if line == 0 {
		return err
	}
	msg := ce.msg
	if rest, ok := strings.CutPrefix(msg, path+": "); ok {
		msg = path + ":" + strconv.Itoa(line) + ": " + rest
	}
	return &configError{msg: msg, key: ce.key}
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
