package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"casegate/mailin"
	"casegate/views"
)

// quarantineCommand is `casegate quarantine [-all]` and
// `casegate quarantine refile ID`.
func quarantineCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "refile" {
		return refileCommand(ctx, args[1:], getenv, stdout, stderr)
	}
	f := newCLIFlags("quarantine", stderr)
	all := f.Bool("all", false, "include messages refiled already")
	if _, err := f.parse(args, "[-all] [-json] | refile ID", 0, 0); err != nil {
		return err
	}
	a, err := openAdmin(ctx, f, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	qs, err := a.views.ListQuarantine(ctx, *all)
	if err != nil {
		return err
	}
	if a.json {
		if qs == nil {
			qs = []views.Quarantined{}
		}
		return a.printJSON(qs)
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tRECEIVED\tSOURCE\tFROM\tTO\tBYTES\tREFILED\tREASON")
	for _, q := range qs {
		refiled := "-"
		if q.RefiledAt != nil {
			refiled = fmt.Sprintf("#%d", q.RefiledCase)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", q.ID, when(q.ReceivedAt), q.Source, oneLine(q.EnvelopeFrom, 40),
			oneLine(strings.Join(q.EnvelopeTo, ","), 40), q.Size, refiled, oneLine(q.Reason, 60))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(qs) == 0 {
		fmt.Fprintln(stderr, "quarantine is empty")
	}
	return nil
}

// refileCommand files a quarantined message as if it had just arrived (the
// admin has fixed what made it fail: a template, a rule, the database) and
// marks it refiled. It files at most once, however often it is run.
func refileCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newCLIFlags("quarantine refile", stderr)
	rest, err := f.parse(args, "ID", 1, 1)
	if err != nil {
		return err
	}
	a, id, err := openAdminOn(ctx, f, "quarantine", rest[0], getenv, stdout, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	q, err := a.store.GetQuarantined(ctx, id)
	if err != nil {
		return err
	}
	in := mailin.Parse(q.Raw)
	in.Source = q.Source
	in.EnvelopeFrom = q.EnvelopeFrom
	in.Recipients = append([]string(nil), q.EnvelopeTo...)
	in.ReceivedAt = time.Now()
	if q.EnvelopeFrom == "" {
		mailin.MarkNullSender(in)
	}
	filed, err := a.store.Refile(ctx, id, in)
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(map[string]any{"quarantine": id, "case": filed.Case, "new_case": filed.NewCase, "duplicate": filed.Duplicate})
	}
	how := "on case"
	switch {
	case filed.NewCase:
		how = "as new case"
	case filed.Duplicate:
		how = "already on case" // filed before, e.g. the sender retried
	}
	fmt.Fprintf(stdout, "quarantined message %d filed %s #%d\n", id, how, filed.Case)
	return nil
}
