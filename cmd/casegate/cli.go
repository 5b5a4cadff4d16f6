package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"casegate"
	"casegate/mailout"
	"casegate/templates"
	"casegate/threads"
	"casegate/views"
	"casegate/vocab"
)

// Exit statuses of the admin commands, beyond 0 (done), 1 (failed, e.g.
// the database is unreachable) and 2 (bad configuration or usage).
const (
	exitNotFound = 3 // no such case, delivery or quarantined message
	exitRefused  = 4 // the change is not allowed in the current state
)

// cliExitCode maps an admin command's error to its exit status; 0 when the
// error has no status of its own.
func cliExitCode(err error) int {
	switch {
	case errors.Is(err, threads.ErrNoCase), errors.Is(err, threads.ErrNoQuarantined), errors.Is(err, mailout.ErrNoDelivery),
		errors.Is(err, views.ErrNoMessage), errors.Is(err, errNoAttachment):
		return exitNotFound
	case errors.Is(err, threads.ErrInvalidTransition), errors.Is(err, threads.ErrAlreadyRefiled), errors.Is(err, mailout.ErrAlreadySent),
		errors.Is(err, threads.ErrNotStaff), errors.Is(err, threads.ErrBadMerge):
		return exitRefused
	case errors.Is(err, views.ErrBadFilter), errors.Is(err, vocab.ErrBadPriority):
		return 2
	}
	return 0
}

// cliFlags are the flags every admin command takes.
type cliFlags struct {
	*flag.FlagSet
	config *string
	json   *bool
}

func newCLIFlags(name string, stderr io.Writer) cliFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return cliFlags{
		FlagSet: fs,
		config:  fs.String("config", "/etc/casegate/casegate.toml", "configuration file"),
		json:    fs.Bool("json", false, "print JSON for scripts instead of a table"),
	}
}

// parse reads flags wherever they stand among the arguments
// ("case resolve 1042 -reason done" as well as "-reason done 1042") and
// returns the others.
func (f cliFlags) parse(args []string, wantArgs string, min, max int) ([]string, error) {
	var rest []string
	for {
		if err := f.Parse(args); err != nil {
			return nil, configErrorf("%s: %v", f.Name(), err)
		}
		args = f.Args()
		if len(args) == 0 {
			break
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
	if len(rest) < min || (max >= 0 && len(rest) > max) {
		return nil, configErrorf("usage: casegate %s %s", f.Name(), wantArgs)
	}
	return rest, nil
}

// admin is what an admin command works with: the configuration, the
// database and a Store, the same the service uses, so every change leaves
// the same events a change by mail would.
type admin struct {
	c      *Config
	db     *sqlx.DB
	store  *threads.Store // changes, through the same code as mail
	views  *views.Reader  // listings, case views, reports
	stdout io.Writer
	json   bool
	actor  string
}

func openAdmin(ctx context.Context, f cliFlags, getenv func(string) string, stdout, stderr io.Writer) (*admin, error) {
	c, err := loadConfig(*f.config, getenv)
	if err != nil {
		return nil, err
	}
	tpl, err := templates.Load(c.resolve(c.Templates.Dir))
	if err != nil {
		return nil, configErrorf("%s: templates: %v", c.path, err)
	}
	db, err := openDatabase(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := casegate.CheckSchema(ctx, db.DB); err != nil {
		db.Close()
		return nil, err
	}
	// No AfterCommit: the running service's sender finds mail queued
	// here at its next poll.
	store, err := threads.NewStore(storeOptions(c, db, tpl, newLogger(c, stderr)))
	if err != nil {
		db.Close()
		return nil, configErrorf("%s: %v", c.path, err)
	}
	reader, err := views.New(db, c.now)
	if err != nil {
		db.Close()
		return nil, err
	}
	user := getenv("SUDO_USER")
	if user == "" {
		user = getenv("USER")
	}
	if user == "" {
		user = "unknown"
	}
	return &admin{c: c, db: db, store: store, views: reader, stdout: stdout, json: *f.json, actor: "cli:" + user}, nil
}

func (a *admin) close() { a.db.Close() }

func (a *admin) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// openAdminOn parses s as the number of a what (a case, a delivery, …) and
// then opens the admin connection: a bad number is reported before the
// database is tried.
func openAdminOn(ctx context.Context, f cliFlags, what, s string, getenv func(string) string, stdout, stderr io.Writer) (*admin, int64, error) {
	id, err := parseID(what, s)
	if err != nil {
		return nil, 0, err
	}
	a, err := openAdmin(ctx, f, getenv, stdout, stderr)
	return a, id, err
}

func parseID(what, s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, configErrorf("%q is not a %s number", s, what)
	}
	return id, nil
}

// caseJSON is a case header for -json output.
type caseJSON struct {
	ID         int64      `json:"id"`
	Subject    string     `json:"subject"`
	Status     string     `json:"status"`
	Priority   string     `json:"priority"`
	Category   string     `json:"category"`
	Customer   string     `json:"customer"`
	Assignee   string     `json:"assignee"`
	OpenedAt   time.Time  `json:"opened_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

func toCaseJSON(c threads.Case) caseJSON {
	j := caseJSON{ID: c.ID, Subject: c.Subject, Status: string(c.Status), Priority: string(c.Priority),
		Category: c.Category, Customer: c.Customer, Assignee: c.Assignee, OpenedAt: c.OpenedAt, UpdatedAt: c.UpdatedAt}
	if c.ResolvedAt.Valid {
		t := c.ResolvedAt.Time
		j.ResolvedAt = &t
	}
	return j
}

// when formats a time for tables: local time to the minute.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// oneLine shortens s to one line of at most n characters for a table cell.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}
