package threads

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"casegate/vocab"
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
	cmdNote     = "note"  // the whole reply is an internal note
	cmdMerge    = "merge" // #merge <case>: this case joins that one
)

// command is one parsed staff command.
type command struct {
	line     int
	name     string
	priority vocab.Priority // #priority
	address  string         // #assign
	caseID   int64          // #merge
}

// statusOf maps the status commands to the status they set.
var statusOf = map[string]vocab.CaseStatus{
	cmdResolve: vocab.StatusResolved,
	cmdPending: vocab.StatusPending,
	cmdClose:   vocab.StatusClosed,
	cmdReopen:  vocab.StatusOpen,
}

// allowed lists the statuses each status may change to.
var allowed = map[vocab.CaseStatus][]vocab.CaseStatus{
	vocab.StatusNew:      {vocab.StatusOpen, vocab.StatusPending, vocab.StatusResolved, vocab.StatusClosed},
	vocab.StatusOpen:     {vocab.StatusPending, vocab.StatusResolved, vocab.StatusClosed},
	vocab.StatusPending:  {vocab.StatusOpen, vocab.StatusResolved, vocab.StatusClosed},
	vocab.StatusResolved: {vocab.StatusOpen, vocab.StatusClosed},
	vocab.StatusClosed:   {vocab.StatusOpen},
}

// commandLine is a line that is meant as a command: "#" and a letter. A line
// like "#1042 is fixed" is text.
var commandLine = regexp.MustCompile(`^#[A-Za-z]`)

// parseCommands reads the command lines at the top of text (blank lines
// between them allowed) and returns them with the rest of the text. Errors
// name the line; when there are any, no command may be applied.
func (d *decider) parseCommands(text string) (cmds []command, rest string, errs []string) {
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
			if c.name == cmdEscalate && d.s.opts.PR.Address == "" {
				bad("no PR mailbox is configured ([addresses] pr)")
				continue
			}
		case cmdPriority:
			if len(args) != 1 {
				bad("use #priority low|normal|high|urgent")
				continue
			}
			p, err := vocab.ParsePriority(args[0])
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
			if !d.isStaff(addr) {
				bad("%s is not in the staff directory", addr)
				continue
			}
			c.address = strings.ToLower(addr)
		case cmdMerge:
			id, ok := mergeArgument(args)
			if !ok {
				bad("use #merge <case number>, e.g. #merge 1042")
				continue
			}
			c.caseID = id
		default:
			bad("unknown command #%s", c.name)
			continue
		}
		cmds = append(cmds, c)
	}
	return cmds, strings.TrimSpace(strings.Join(lines[i:], "\n")), errs
}

// mergeArgument reads the case number of "#merge 1042" (or "#merge #1042").
func mergeArgument(args []string) (int64, bool) {
	if len(args) != 1 {
		return 0, false
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(args[0], "#"), 10, 64)
	return id, err == nil && id > 0
}

// mergeTargets lists the cases "#merge N" lines at the top of text name,
// so that the snapshot reads them too.
func mergeTargets(text string) []int64 {
	var out []int64
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if !commandLine.MatchString(t) {
			break
		}
		f := strings.Fields(t)
		if strings.EqualFold(f[0], "#"+cmdMerge) {
			if id, ok := mergeArgument(f[1:]); ok {
				out = append(out, id)
			}
		}
	}
	return out
}
