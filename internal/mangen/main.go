// Command mangen writes casegate's man pages, casegate(8) and
// casegate.toml(5), from the README, their one source: the commands block
// and the exit status, signals and files paragraphs of "Operations", the
// configuration table and the rule keys of "Escalation". So the pages
// cannot drift from the README; cmd/casegate's tests check that the README
// (and so the pages) names every command and every configuration key.
//
//	go run ./internal/mangen [-readme README.md] [-out man]
//
// Run by go generate ./... (man.go at the root); a test fails when the
// checked-in pages differ from what mangen writes.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

func main() {
	readme := flag.String("readme", "README.md", "the README to read")
	out := flag.String("out", "man", "directory to write casegate.8 and casegate.toml.5 into")
	flag.Parse()
	src, err := os.ReadFile(*readme)
	if err != nil {
		fail(err)
	}
	pages, err := render(string(src))
	if err != nil {
		fail(fmt.Errorf("%s: %w", *readme, err))
	}
	for name, text := range pages {
		if err := os.WriteFile(filepath.Join(*out, name), []byte(text), 0o644); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mangen:", err)
	os.Exit(1)
}

// date is the pages' date. A fixed one keeps the output the same on every
// run; change it with the pages' content when a release needs it.
const date = "2026-12-03"

// render returns the pages by file name.
func render(readme string) (map[string]string, error) {
	r := readmeDoc{text: readme}
	casegate, err := r.casegate8()
	if err != nil {
		return nil, err
	}
	conf, err := r.casegateToml5()
	if err != nil {
		return nil, err
	}
	return map[string]string{"casegate.8": casegate, "casegate.toml.5": conf}, nil
}

type readmeDoc struct{ text string }

// section returns the text of the README section whose heading is title
// (any level), up to the next heading of the same or a higher level.
func (r readmeDoc) section(title string) (string, error) {
	lines := strings.Split(r.text, "\n")
	for i, l := range lines {
		level := len(l) - len(strings.TrimLeft(l, "#"))
		if level == 0 || strings.TrimSpace(l[level:]) != title {
			continue
		}
		var body []string
		inCode := false
		for _, m := range lines[i+1:] {
			if strings.HasPrefix(m, "```") {
				inCode = !inCode
			}
			if !inCode {
				if l2 := len(m) - len(strings.TrimLeft(m, "#")); l2 > 0 && l2 <= level && strings.HasPrefix(m[l2:], " ") {
					break
				}
			}
			body = append(body, m)
		}
		return strings.Join(body, "\n"), nil
	}
	return "", fmt.Errorf("no section %q", title)
}

// paragraph returns the paragraph of text that starts with lead
// ("**Signals.**"), without it.
func paragraph(text, lead string) (string, error) {
	for _, p := range strings.Split(text, "\n\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(p), lead); ok {
			return strings.TrimSpace(rest), nil
		}
	}
	return "", fmt.Errorf("no paragraph %q", lead)
}

// codeBlock returns the first fenced code block of text.
func codeBlock(text string) (string, error) {
	_, rest, ok := strings.Cut(text, "```\n")
	if !ok {
		return "", errors.New("no code block")
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		return "", errors.New("unterminated code block")
	}
	return block, nil
}

// tableRows returns the cells of the rows of the first markdown table in
// text, without its header.
func tableRows(text string) [][]string {
	var rows [][]string
	started := false
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "|") {
			if started {
				break
			}
			continue
		}
		if !started {
			started = true
			continue // the header
		}
		if strings.HasPrefix(l, "|---") || strings.HasPrefix(l, "| ---") {
			continue
		}
		// Split on | that is not escaped as \|.
		var cells []string
		var cur strings.Builder
		for i := 1; i < len(l); i++ {
			switch {
			case l[i] == '\\' && i+1 < len(l) && l[i+1] == '|':
				cur.WriteByte('|')
				i++
			case l[i] == '|':
				cells = append(cells, strings.TrimSpace(cur.String()))
				cur.Reset()
			default:
				cur.WriteByte(l[i])
			}
		}
		rows = append(rows, cells)
	}
	return rows
}

var (
	mdLink = regexp.MustCompile(`\[([^\]]+)\]\([^)]+\)`)
	mdCode = regexp.MustCompile("`([^`]+)`")
	mdBold = regexp.MustCompile(`\*\*([^*]+)\*\*`)
)

// roff turns one markdown paragraph into roff text: links become their
// text, code bold, bold bold; backslashes and leading dots are escaped.
func roff(md string) string {
	md = strings.Join(strings.Fields(md), " ")
	md = strings.ReplaceAll(md, `\`, `\e`)
	md = mdLink.ReplaceAllString(md, "$1")
	md = mdCode.ReplaceAllStringFunc(md, func(m string) string {
		return `\fB` + strings.ReplaceAll(m[1:len(m)-1], "-", `\-`) + `\fR`
	})
	md = mdBold.ReplaceAllString(md, `\fB$1\fR`)
	return escapeLineStart(md)
}

// escapeLineStart keeps a line that starts with . or ' from being read as
// a request.
func escapeLineStart(s string) string {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		return `\&` + s
	}
	return s
}

func header(b *bytes.Buffer, name, section, title string) {
	fmt.Fprintf(b, ".\\\" Generated by internal/mangen from README.md; do not edit.\n")
	fmt.Fprintf(b, ".TH %s %s %s \"casegate\" \"%s\"\n", strings.ToUpper(name), section, date, title)
	b.WriteString(".nh\n") // flags and keys must not be hyphenated
}

// casegate8 is the page of the program: commands, exit status, signals,
// files.
func (r readmeDoc) casegate8() (string, error) {
	ops, err := r.section("Operations")
	if err != nil {
		return "", err
	}
	block, err := codeBlock(ops)
	if err != nil {
		return "", fmt.Errorf("Operations: %w", err)
	}
	var b bytes.Buffer
	header(&b, "casegate", "8", "System Administration")
	b.WriteString(".SH NAME\ncasegate \\- email\\-driven case gateway\n")
	b.WriteString(".SH SYNOPSIS\n.B casegate\n.I command\n.RI [ flags ]\n")
	intro := strings.SplitN(strings.SplitN(r.text, "\n## ", 2)[0], "\n\n", 3)
	if len(intro) < 2 {
		return "", errors.New("no introduction")
	}
	b.WriteString(".SH DESCRIPTION\n" + roff(intro[1]) + "\n")
	b.WriteString(".PP\nThe configuration file is described in\n.BR casegate.toml (5).\n")
	b.WriteString(".SH COMMANDS\n")
	// A command line starts with "casegate"; the indented lines after it
	// describe it, and a line that starts with spaces and a flag
	// continues its synopsis.
	var synopsis, desc []string
	flush := func() {
		if len(synopsis) == 0 {
			return
		}
		b.WriteString(".TP\n")
		for i, s := range synopsis {
			if i > 0 {
				b.WriteString(".br\n")
			}
			b.WriteString(`\fB` + strings.ReplaceAll(escapeRoff(s), "-", `\-`) + "\\fR\n")
		}
		b.WriteString(escapeLineStart(escapeRoff(strings.Join(desc, " "))) + "\n")
		synopsis, desc = nil, nil
	}
	for _, l := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		trimmed := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "casegate "):
			flush()
			cmd, d, _ := strings.Cut(l, "   ")
			synopsis = append(synopsis, strings.TrimSpace(cmd))
			if d = strings.TrimSpace(d); d != "" {
				desc = append(desc, d)
			}
		case strings.HasPrefix(trimmed, "[") && len(desc) == 0 && len(l)-len(trimmed) < 20:
			synopsis[len(synopsis)-1] += " " + trimmed
		default:
			desc = append(desc, trimmed)
		}
	}
	flush()
	rest, _, _ := strings.Cut(ops, "**Exit status.**")
	if after := strings.SplitN(rest, "```", 3); len(after) == 3 {
		if p := strings.TrimSpace(after[2]); p != "" {
			b.WriteString(".PP\n" + roff(p) + "\n")
		}
	}
	for _, s := range []struct{ title, lead string }{
		{"EXIT STATUS", "**Exit status.**"}, {"SIGNALS", "**Signals.**"}, {"FILES", "**Files.**"},
	} {
		p, err := paragraph(ops, s.lead)
		if err != nil {
			return "", fmt.Errorf("Operations: %w", err)
		}
		b.WriteString(".SH " + s.title + "\n" + roff(p) + "\n")
	}
	b.WriteString(".SH SEE ALSO\n.BR casegate.toml (5),\n.BR systemctl (1),\n.BR journalctl (1)\n")
	return b.String(), nil
}

// escapeRoff escapes backslashes in plain (not markdown) text.
func escapeRoff(s string) string { return strings.ReplaceAll(s, `\`, `\e`) }

var keyCell = regexp.MustCompile("^`(\\[\\[?[a-zA-Z_.]+\\]\\]?) ([a-z_]+|…)`((?:, `[a-z_]+`)*)$")

// casegateToml5 is the page of the configuration file: every key of the
// README's configuration table, by table, and the rule keys.
func (r readmeDoc) casegateToml5() (string, error) {
	conf, err := r.section("Configuration reference")
	if err != nil {
		return "", err
	}
	intro, _, _ := strings.Cut(conf, "\n|")
	var b bytes.Buffer
	header(&b, "casegate.toml", "5", "File Formats")
	b.WriteString(".SH NAME\ncasegate.toml \\- configuration of casegate, the email\\-driven case gateway\n")
	b.WriteString(".SH SYNOPSIS\n/etc/casegate/casegate.toml\n")
	b.WriteString(".SH DESCRIPTION\n" + roff(intro) + "\n")
	b.WriteString(".PP\nEach key below is shown with its default; \\(em means none.\n")
	seen := map[string]bool{}
	table := ""
	for _, row := range tableRows(conf) {
		if len(row) < 3 {
			return "", fmt.Errorf("configuration table: row %q has %d cells", row, len(row))
		}
		m := keyCell.FindStringSubmatch(row[0])
		if m == nil {
			return "", fmt.Errorf("configuration table: cannot read the key %s", row[0])
		}
		if m[1] != table {
			table = m[1]
			b.WriteString(".SS \"" + table + "\"\n")
		}
		keys := []string{m[2]}
		for _, k := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(m[3], -1) {
			keys = append(keys, k[1])
		}
		for _, k := range keys {
			if seen[table+" "+k] {
				return "", fmt.Errorf("configuration table: %s %s is there twice", table, k)
			}
			seen[table+" "+k] = true
		}
		var names []string
		for _, k := range keys {
			names = append(names, `\fB`+k+`\fR`)
		}
		b.WriteString(".TP\n" + strings.Join(names, ", ") + " (default: " + roff(row[1]) + ")\n" + roff(row[2]) + "\n")
	}
	rules, err := r.section("Rules")
	if err != nil {
		return "", err
	}
	b.WriteString(".SS \"[[rule]] keys\"\n")
	for _, row := range tableRows(rules) {
		m := regexp.MustCompile("^`([a-z_]+)`$").FindStringSubmatch(row[0])
		if m == nil || len(row) < 2 {
			return "", fmt.Errorf("rules table: cannot read %q", row)
		}
		b.WriteString(".TP\n\\fB" + m[1] + "\\fR\n" + roff(row[1]) + "\n")
	}
	b.WriteString(".SH ENVIRONMENT\n.TP\n.B CASEGATE_DATABASE_URL\noverrides \\fBurl\\fR of [database]\n" +
		".TP\n.B CASEGATE_STAFF_SECRET\noverrides \\fBsecret\\fR of [staff]\n" +
		".TP\n.B CASEGATE_SMARTHOST_PASSWORD\noverrides \\fBpassword\\fR of [outbound]\n")
	b.WriteString(".SH SEE ALSO\n.BR casegate (8)\n")
	return b.String(), nil
}
