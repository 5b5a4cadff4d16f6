package main

import (
	"casegate/vocab"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"casegate/views"
)

// casesCommand is `casegate cases [-status S] [-category C] [-customer A]
// [-assignee A] [-text WORDS] [-overdue] [-escalated] [-limit N]`.
func casesCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newCLIFlags("cases", stderr)
	status := f.String("status", "", "new, open, pending, resolved, closed or all (default: new, open and pending)")
	category := f.String("category", "", "only this category (customer, journalist, vip, …)")
	customer := f.String("customer", "", "only this customer's cases (an address, or @domain)")
	assignee := f.String("assignee", "", "only cases assigned to this staff address (\"-\": unassigned)")
	text := f.String("text", "", "only cases with a received mail whose subject or text has these words (\"a phrase\", -not, or)")
	limit := f.Int("limit", 100, "at most this many cases, most recently updated first")
	overdue := f.Bool("overdue", false, "only cases with an escalation deadline already due")
	escalated := f.Bool("escalated", false, "only cases an escalation rule has fired on")
	if _, err := f.parse(args, "[-status S] [-category C] [-customer A] [-assignee A] [-text WORDS] [-overdue] [-escalated] [-limit N] [-json]", 0, 0); err != nil {
		return err
	}
	a, err := openAdmin(ctx, f, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	cases, err := a.views.ListCases(ctx, views.CaseFilter{Status: *status, Category: *category, Limit: *limit, Overdue: *overdue,
		Escalated: *escalated, Customer: *customer, Assignee: *assignee, Text: *text})
	if err != nil {
		return err
	}
	if a.json {
		out := make([]caseJSON, 0, len(cases))
		for _, c := range cases {
			out = append(out, toCaseJSON(c))
		}
		return a.printJSON(out)
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CASE\tSTATUS\tPRIORITY\tCATEGORY\tCUSTOMER\tASSIGNEE\tUPDATED\tSUBJECT")
	for _, c := range cases {
		fmt.Fprintf(w, "#%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Status, c.Priority, c.Category,
			c.Customer, oneLine(c.Assignee, 30), when(c.UpdatedAt), oneLine(c.Subject, 50))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(cases) == 0 {
		fmt.Fprintln(stderr, "no cases match")
	}
	return nil
}

const caseUsage = `usage: casegate case <action> N [flags]

actions:
  show N                      header, participants and the whole timeline
  raw N [-message M] [-o FILE]
                              the raw mail: the case's first one, or message M
                              (a number from case show), exactly as stored
  attachment N [-message M] [-o FILE] [NAME|NUMBER]
                              list the attachments of the case's mail, or write
                              one out (the latest by that name)
  resolve N [-reason TEXT]    mark the case resolved
  reopen N [-reason TEXT]     open a resolved or closed case again
  assign N ADDRESS            assign to a staff address ("-" unassigns)
  priority N LEVEL            low, normal, high or urgent
  note N TEXT…                add an internal note (never sent to the customer)
  merge N INTO                join case N into case INTO (N's customer is told to use INTO)
`

// caseCommand is `casegate case show|resolve|reopen|assign|priority|note|merge N …`.
func caseCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, caseUsage)
		return configErrorf("case: no action given")
	}
	action := args[0]
	f := newCLIFlags("case "+action, stderr)
	reason := f.String("reason", "", "why (resolve, reopen), kept on the timeline")
	message := f.Int64("message", 0, "raw, attachment: the message (its number in case show); default: the first (raw) or any (attachment)")
	output := f.String("o", "", "raw, attachment: write to this file instead of standard output")
	var rest []string
	var err error
	switch action {
	case "show", "resolve", "reopen", "raw":
		rest, err = f.parse(args[1:], "N", 1, 1)
	case "attachment":
		rest, err = f.parse(args[1:], "N [NAME|NUMBER]", 1, 2)
	case "assign", "priority":
		rest, err = f.parse(args[1:], "N VALUE", 2, 2)
	case "merge":
		rest, err = f.parse(args[1:], "N INTO", 2, 2)
	case "note":
		rest, err = f.parse(args[1:], "N TEXT…", 2, -1)
	default:
		fmt.Fprint(stderr, caseUsage)
		return configErrorf("case: unknown action %q", action)
	}
	if err != nil {
		return err
	}
	a, id, err := openAdminOn(ctx, f, "case", rest[0], getenv, stdout, stderr)
	if err != nil {
		return err
	}
	defer a.close()

	var done string
	switch action {
	case "show":
		return a.showCase(ctx, id)
	case "raw":
		return a.rawMessage(ctx, id, *message, *output)
	case "attachment":
		return a.attachment(ctx, id, *message, rest[1:], *output)
	case "resolve":
		err, done = a.store.ChangeStatus(ctx, id, vocab.StatusResolved, a.actor, *reason), "resolved"
	case "reopen":
		err, done = a.store.ChangeStatus(ctx, id, vocab.StatusOpen, a.actor, *reason), "reopened"
	case "assign":
		to := rest[1]
		if to == "-" {
			to = ""
		}
		err, done = a.store.Assign(ctx, id, to, a.actor), "assigned to "+rest[1]
	case "priority":
		var p vocab.Priority
		if p, err = vocab.ParsePriority(rest[1]); err == nil {
			err, done = a.store.SetPriority(ctx, id, p, a.actor), "priority "+string(p)
		}
	case "note":
		err, done = a.store.AddNote(ctx, id, a.actor, strings.Join(rest[1:], " ")), "note added"
	case "merge":
		var into int64
		if into, err = parseID("case", rest[1]); err != nil {
			return err
		}
		if err = a.store.Merge(ctx, id, into, a.actor); err != nil {
			return err
		}
		// Go on as the case that remains.
		id, done = into, fmt.Sprintf("case #%d merged into it", id)
	}
	if err != nil {
		return err
	}
	c, err := a.store.GetCase(ctx, id)
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(toCaseJSON(c))
	}
	fmt.Fprintf(stdout, "case #%d: %s (status %s, priority %s, assignee %s)\n", id, done, c.Status, c.Priority, oneLine(c.Assignee, 60))
	return nil
}

func (a *admin) showCase(ctx context.Context, id int64) error {
	d, err := a.views.ShowCase(ctx, id)
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(struct {
			Case         caseJSON            `json:"case"`
			Participants []views.Participant `json:"participants"`
			Messages     []views.Message     `json:"messages"`
			Events       []views.Event       `json:"events"`
		}{toCaseJSON(d.Case), d.Participants, d.Messages, d.Events})
	}
	w := a.stdout
	c := d.Case
	fmt.Fprintf(w, "Case #%d: %s\n", c.ID, c.Subject)
	fmt.Fprintf(w, "  status %s, priority %s, category %s\n", c.Status, c.Priority, c.Category)
	fmt.Fprintf(w, "  customer %s, assignee %s\n", c.Customer, oneLine(c.Assignee, 60))
	fmt.Fprintf(w, "  opened %s, updated %s", when(c.OpenedAt), when(c.UpdatedAt))
	if c.ResolvedAt.Valid {
		fmt.Fprintf(w, ", resolved %s", when(c.ResolvedAt.Time))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "\nParticipants:")
	for _, p := range d.Participants {
		name := ""
		if p.Name != "" {
			name = " (" + p.Name + ")"
		}
		fmt.Fprintf(w, "  %-8s %s%s\n", p.Role, p.Address, name)
	}

	// One timeline: messages and events by time; an event that names a
	// message follows it.
	type line struct {
		at    time.Time
		order int64
		text  string
	}
	var lines []line
	for _, m := range d.Messages {
		arrow := "<-"
		if m.Direction == "outbound" {
			arrow = "->"
		}
		text := fmt.Sprintf("%s  %s message %d %s %s: %s", when(m.ReceivedAt), arrow, m.ID, m.Direction, m.From, m.Subject)
		if m.Automatic {
			text += "  [automatic]"
		}
		for _, p := range m.Problems {
			text += "\n      problem: " + p
		}
		for _, l := range strings.Split(strings.TrimRight(m.Text, "\n"), "\n") {
			text += "\n      | " + l
		}
		lines = append(lines, line{m.ReceivedAt, m.ID * 2, text})
	}
	for _, e := range d.Events {
		text := fmt.Sprintf("%s  ** %s by %s", when(e.At), e.Kind, e.Actor)
		if e.Detail != "" {
			text += ": " + e.Detail
		}
		lines = append(lines, line{e.At, e.MessageID*2 + 1, text})
	}
	sort.SliceStable(lines, func(i, j int) bool {
		if !lines[i].at.Equal(lines[j].at) {
			return lines[i].at.Before(lines[j].at)
		}
		return lines[i].order < lines[j].order
	})
	fmt.Fprintln(w, "\nTimeline:")
	for _, l := range lines {
		fmt.Fprintln(w, "  "+l.text)
	}
	return nil
}
