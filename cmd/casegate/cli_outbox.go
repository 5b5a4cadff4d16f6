package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"casegate/mailout"
)

// outboxCommand is `casegate outbox [-failed] [-limit N]` and
// `casegate outbox retry ID`.
func outboxCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "retry" {
		return outboxRetryCommand(ctx, args[1:], getenv, stdout, stderr)
	}
	f := newCLIFlags("outbox", stderr)
	failed := f.Bool("failed", false, "only deliveries casegate gave up on")
	limit := f.Int("limit", 100, "at most this many deliveries, newest first")
	if _, err := f.parse(args, "[-failed] [-limit N] [-json] | retry ID", 0, 0); err != nil {
		return err
	}
	a, err := openAdmin(ctx, f, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	ds, err := mailout.ListDeliveries(ctx, a.db, *failed, *limit)
	if err != nil {
		return err
	}
	if a.json {
		if ds == nil {
			ds = []mailout.Delivery{}
		}
		return a.printJSON(ds)
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSTATUS\tATTEMPTS\tQUEUED\tNEXT/DONE\tRECIPIENT\tMESSAGE-ID\tLAST ERROR")
	for _, d := range ds {
		next := d.NextAttemptAt
		switch {
		case d.SentAt != nil:
			next = *d.SentAt
		case d.FailedAt != nil:
			next = *d.FailedAt
		}
		fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Status, d.Attempts, when(d.QueuedAt), when(next),
			d.Recipient, oneLine(d.MessageID, 40), oneLine(d.LastError, 60))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(ds) == 0 {
		fmt.Fprintln(stderr, "no deliveries match")
	}
	return nil
}

func outboxRetryCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newCLIFlags("outbox retry", stderr)
	rest, err := f.parse(args, "ID", 1, 1)
	if err != nil {
		return err
	}
	a, id, err := openAdminOn(ctx, f, "delivery", rest[0], getenv, stdout, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	if err := mailout.RetryDelivery(ctx, a.db, id, time.Now()); err != nil {
		return err
	}
	if a.json {
		return a.printJSON(map[string]any{"delivery": id, "status": mailout.DeliveryQueued})
	}
	fmt.Fprintf(stdout, "delivery %d queued again; the running service sends it at its next poll\n", id)
	return nil
}
