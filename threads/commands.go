package threads

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Staff commands, written at the top of a staff reply, one per line.
const (
	cmdResolve  = "resolve"
	cmdPending  = "pending"
	cmdClose    = "close"
	cmdReopen   = "reopen"
	cmdPriority = "priority" // #priority low|normal|high|urgent
	cmdAssign   = "assign"   // #assign <staff address>
	cmdEscalate = "escalate"
	cmdNote     = "note" // the whole reply is an internal note
)

// command is one parsed staff command.
type command struct {
	line     int
	name     string
	priority Priority // #priority
	address  string   // #assign
}

// statusOf maps the status commands to the status they set.
var statusOf = map[string]CaseStatus{
	cmdResolve: StatusResolved,
	cmdPending: StatusPending,
	cmdClose:   StatusClosed,
	cmdReopen:  StatusOpen,
}

// commandLine is a line that is meant as a command: "#" and a letter. A line
// like "#1042 is fixed" is text.
var commandLine = regexp.MustCompile(`^#[A-Za-z]`)

// parseCommands reads the command lines at the top of text (blank lines
// between them allowed) and returns them with the rest of the text. Errors
// name the line; when there are any, no command may be applied.
func (s *Store) parseCommands(text string) (cmds []command, rest string, errs []string) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	i := 0
	for ; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" {
			continue
		}
		if !commandLine.MatchString(t) {
			break
		}
		fields := strings.Fields(t)
		c := command{line: i + 1, name: strings.ToLower(strings.TrimPrefix(fields[0], "#"))}
		args := fields[1:]
		bad := func(format string, a ...any) {
			errs = append(errs, fmt.Sprintf("line %d, %q: ", c.line, t)+fmt.Sprintf(format, a...))
		}
		switch c.name {
		case cmdResolve, cmdPending, cmdClose, cmdReopen, cmdEscalate, cmdNote:
			if len(args) > 0 {
				bad("#%s takes no argument", c.name)
				continue
			}
			if c.name == cmdEscalate && s.opts.PR.Address == "" {
				bad("no PR mailbox is configured ([addresses] pr)")
				continue
			}
		case cmdPriority:
			if len(args) != 1 {
				bad("use #priority low|normal|high|urgent")
				continue
			}
			p, err := ParsePriority(args[0])
			if err != nil {
				bad("unknown priority %q: use low, normal, high or urgent", args[0])
				continue
			}
			c.priority = p
		case cmdAssign:
			if len(args) != 1 {
				bad("use #assign <staff address>")
				continue
			}
			addr := strings.Trim(args[0], "<>")
			if !s.isStaff(addr) {
				bad("%s is not in the staff directory", addr)
				continue
			}
			c.address = strings.ToLower(addr)
		default:
			bad("unknown command #%s", c.name)
			continue
		}
		cmds = append(cmds, c)
	}
	return cmds, strings.TrimSpace(strings.Join(lines[i:], "\n")), errs
}

// applyCommands applies cmds in order inside a savepoint: if one of them
// cannot be applied (a status change the case does not allow), none is and
// the reasons are returned. Other errors fail the whole filing.
func (s *Store) applyCommands(ctx context.Context, tx *sqlx.Tx, caseID int64, cmds []command, actor string, now time.Time) ([]string, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT staff_commands"); err != nil {
		return nil, err
	}
	var errs []string
	for _, c := range cmds {
		var err error
		switch c.name {
		case cmdPriority:
			err = s.setPriority(ctx, tx, caseID, c.priority, actor, now)
		case cmdAssign:
			err = s.assign(ctx, tx, caseID, c.address, actor, now)
		case cmdEscalate:
			err = s.escalate(ctx, tx, caseID, actor, now)
		case cmdNote:
		default:
			err = s.changeStatus(ctx, tx, caseID, statusOf[c.name], actor, "#"+c.name+" by mail", now)
		}
		if errors.Is(err, ErrInvalidTransition) {
			st, _ := s.lockCase(ctx, tx, caseID)
			errs = append(errs, fmt.Sprintf("line %d, #%s: not allowed while the case is %s", c.line, c.name, st))
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(errs) > 0 {
		_, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT staff_commands")
		return errs, err
	}
	_, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT staff_commands")
	return nil, err
}
