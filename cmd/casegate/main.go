// Command casegate is an email-driven case gateway: it files support mail
// into cases in PostgreSQL, acknowledges it and relays staff replies.
//
// Usage:
//
//	casegate serve   -config FILE   run the gateway until SIGINT/SIGTERM
//	casegate migrate -config FILE   create or upgrade the database schema
//	casegate version                print the version and schema version
//	casegate check-config, cases, case, outbox, quarantine: see usage
//	casegate rules check -config FILE   validate escalation rules, show what fires when
//	casegate templates check -config FILE   render every template, errors with file and line
//	casegate report -config FILE [-since 30d] [-json|-html|-csv]   outcomes by category
//	casegate hash-password [LOGIN] < password   a line for [submission] users_file
//
// The man pages casegate(8) and casegate.toml(5) are generated from the
// README by internal/mangen (go generate ./...).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "casegate:", err)
		var ce *configError
		if errors.As(err, &ce) {
			os.Exit(2) // bad configuration: restarting will not help
		}
		if code := cliExitCode(err); code != 0 {
			os.Exit(code)
		}
		os.Exit(1)
	}
}

const usage = `usage: casegate <command> [flags]

commands:
  serve   -config FILE   run the gateway until SIGINT or SIGTERM
  migrate -config FILE   create or upgrade the database schema
  version                print the version and schema version

  check-config -config FILE [-smarthost]
                         check everything serve would, and say which line is wrong
  cases [-status S] [-category C] [-customer A] [-assignee A] [-text WORDS]
        [-overdue] [-escalated] [-limit N]
                         list cases (default: new, open and pending)
  case show|resolve|reopen|assign|priority|note N …
                         show or change one case (casegate case, for details)
  case raw|attachment N …
                         the raw mail of a case; its attachments
  outbox [-failed] [-limit N] | outbox retry ID
                         list deliveries; queue a failed one again
  quarantine [-all] | quarantine refile ID
                         list messages that could not be filed; file one again
  rules check -config FILE [-case N] [-at TIME]
                         validate escalation rules, show what fires when
  templates check -config FILE
                         render every template with sample data; errors name file and line
  report -config FILE [-since 30d] [-json | -html | -csv] [-o FILE]
                         outcomes: resolution, response times, escalations, reopens, CSAT
  hash-password [-from FILE] [LOGIN]
                         bcrypt hash of the password on standard input (or FILE's
                         first line), as a [submission] users_file line

Admin commands take -config FILE (default /etc/casegate/casegate.toml) and
-json. Exit status: 0 done, 1 failed, 2 bad configuration or usage, 3 no
such case/delivery/message/attachment, 4 change not allowed. See casegate(8)
and casegate.toml(5).
`

// commands are the commands run knows; the man page, the README and usage
// must name each (man_test.go).
var commands = []string{"serve", "migrate", "version", "check-config", "cases", "case", "outbox", "quarantine", "rules", "templates", "report"}

// run is the whole program, testable without a process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return configErrorf("no command given")
	}
	switch args[0] {
	case "serve":
		return serveCommand(ctx, args[1:], getenv, stderr)
	case "migrate":
		return migrateCommand(ctx, args[1:], getenv, stdout, stderr)
	case "version":
		return versionCommand(stdout)
	case "check-config":
		return checkConfigCommand(ctx, args[1:], getenv, stdout, stderr)
	case "cases":
		return casesCommand(ctx, args[1:], getenv, stdout, stderr)
	case "case":
		return caseCommand(ctx, args[1:], getenv, stdout, stderr)
	case "outbox":
		return outboxCommand(ctx, args[1:], getenv, stdout, stderr)
	case "quarantine":
		return quarantineCommand(ctx, args[1:], getenv, stdout, stderr)
	case "rules":
		return rulesCommand(ctx, args[1:], getenv, stdout, stderr)
	case "templates":
		return templatesCommand(ctx, args[1:], getenv, stdout, stderr)
	case "report":
		return reportCommand(ctx, args[1:], getenv, stdout, stderr)
	case "hash-password":
		return hashPasswordCommand(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return configErrorf("unknown command %q", args[0])
}
