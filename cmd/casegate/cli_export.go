package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"

	"casegate/mailin"
	"casegate/vocab"
)

// errNoAttachment: the named attachment is not on the case's mail.
var errNoAttachment = errors.New("no such attachment")

// rawMessage is `casegate case raw N [-message M] [-o FILE]`: the bytes of
// the case's first mail (or message M) exactly as stored.
func (a *admin) rawMessage(ctx context.Context, caseID, messageID int64, output string) error {
	if messageID == 0 {
		d, err := a.views.ShowCase(ctx, caseID)
		if err != nil {
			return err
		}
		if len(d.Messages) == 0 {
			return fmt.Errorf("case %d has no message", caseID)
		}
		messageID = d.Messages[0].ID
	}
	raw, err := a.views.MessageRaw(ctx, caseID, messageID)
	if err != nil {
		return err
	}
	return a.writeOut(output, raw)
}

// caseAttachment is one attachment of one mail of a case.
type caseAttachment struct {
	Message     int64  `json:"message"`
	Number      int    `json:"number"` // 1-based, in the order of the mail
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	att         vocab.Attachment
}

// attachment is `casegate case attachment N [-message M] [-o FILE]
// [NAME|NUMBER]`: without a name it lists the attachments of the case's
// received mail (or of message M); with one it writes that attachment out,
// decoded, from the latest mail that has it.
func (a *admin) attachment(ctx context.Context, caseID, messageID int64, args []string, output string) error {
	d, err := a.views.ShowCase(ctx, caseID)
	if err != nil {
		return err
	}
	var all []caseAttachment
	found := messageID == 0
	for i := len(d.Messages) - 1; i >= 0; i-- { // latest first
		m := d.Messages[i]
		if messageID != 0 && m.ID != messageID || messageID == 0 && m.Direction != "inbound" {
			continue
		}
		found = true
		raw, err := a.views.MessageRaw(ctx, caseID, m.ID)
		if err != nil {
			return err
		}
		for n, att := range mailin.Parse(raw).Attachments {
			all = append(all, caseAttachment{Message: m.ID, Number: n + 1, Filename: att.Filename, ContentType: att.ContentType, Size: att.Len(), att: att})
		}
	}
	if !found {
		_, err := a.views.MessageRaw(ctx, caseID, messageID) // says why
		return err
	}
	if len(args) == 0 {
		if a.json {
			if all == nil {
				all = []caseAttachment{}
			}
			return a.printJSON(all)
		}
		w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "MESSAGE\tNUMBER\tBYTES\tTYPE\tNAME")
		for _, x := range all {
			fmt.Fprintf(w, "%d\t%d\t%d\t%s\t%s\n", x.Message, x.Number, x.Size, x.ContentType, x.Filename)
		}
		return w.Flush()
	}
	want := args[0]
	for _, x := range all {
		if x.Filename == want {
			return a.writeAttachment(x, output)
		}
	}
	if n, err := strconv.Atoi(want); err == nil && messageID != 0 {
		for _, x := range all {
			if x.Number == n {
				return a.writeAttachment(x, output)
			}
		}
	} else if err == nil {
		return fmt.Errorf("case %d: %w named %q (a number needs -message M)", caseID, errNoAttachment, want)
	}
	return fmt.Errorf("case %d: %w %q (casegate case attachment %d lists them)", caseID, errNoAttachment, want, caseID)
}

func (a *admin) writeAttachment(x caseAttachment, output string) error {
	b, err := x.att.Bytes()
	if err != nil {
		return fmt.Errorf("attachment %q of message %d: %w", x.Filename, x.Message, err)
	}
	return a.writeOut(output, b)
}

// writeOut writes b to the file output (created 0600: it may be a
// customer's document) or to standard output.
func (a *admin) writeOut(output string, b []byte) error {
	if output == "" {
		_, err := a.stdout.Write(b)
		return err
	}
	return os.WriteFile(output, b, 0o600)
}
