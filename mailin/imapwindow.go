package mailin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// A filing window files the messages of one FETCH concurrently, so that
// their filings share the store's group commits instead of each paying a
// commit of its own. The FETCH keeps streaming while earlier messages are
// filed; it waits (and the server with it) when Concurrency filings or
// MaxMessageBytes of message data are in flight. Nothing is flagged, moved
// or counted as done here: the caller acts on the outcomes once every
// filing of the window has returned.
type filingWindow struct {
	p   *IMAPPoller
	ctx context.Context
	log *slog.Logger
	st  *mailboxState

	done     chan fileOutcome // from the workers; capacity Concurrency
	inflight map[imap.UID]inflightMessage
	bytes    int64 // of the messages in flight
	// ids counts the messages in flight by their own Message-ID, so that a
	// reply to one of them (or a second copy) waits for its commit and
	// threads onto its case, as when messages were filed one by one.
	ids      map[string]int
	outcomes map[imap.UID]fileOutcome
	failed   bool  // a filing failed: file no more in this window
	aborted  error // a test hook stopped the poller as a crash would
}

type inflightMessage struct {
	messageID string
	size      int64
}

// fileOutcome is what became of one message given to the window.
type fileOutcome struct {
	uid         imap.UID
	quarantined bool  // stored in the quarantine table instead of filed
	err         error // neither filed nor quarantined: read again later
}

// hookAbort is an error of the afterFile test hook: the poller stops at
// once, acting on nothing, as a crash at that point would.
type hookAbort struct{ error }

func (h hookAbort) Unwrap() error { return h.error }

func (p *IMAPPoller) newFilingWindow(ctx context.Context, log *slog.Logger, st *mailboxState) *filingWindow {
	return &filingWindow{
		p: p, ctx: ctx, log: log, st: st,
		done:     make(chan fileOutcome, p.opts.Concurrency),
		inflight: make(map[imap.UID]inflightMessage),
		ids:      make(map[string]int),
		outcomes: make(map[imap.UID]fileOutcome),
	}
}

// stopped reports whether the window takes no more messages: a filing
// failed (the database is likely down; the rest is read again after the
// reconnect) or the poller stops.
func (w *filingWindow) stopped() bool {
	return w.failed || w.aborted != nil || w.ctx.Err() != nil
}

// file starts filing one message, first waiting for room and for any
// message in flight that this one replies to or repeats.
func (w *filingWindow) file(uid imap.UID, raw []byte) {
	own, refs := messageIDs(raw)
	size := int64(len(raw))
	for len(w.inflight) > 0 {
		full := len(w.inflight) >= w.p.opts.Concurrency || w.bytes+size > w.p.opts.MaxMessageBytes
		if !full && !w.dependsOnInflight(own, refs) {
			break
		}
		w.receive()
	}
	if w.stopped() {
		return
	}
	w.inflight[uid] = inflightMessage{messageID: own, size: size}
	w.bytes += size
	if own != "" {
		w.ids[own]++
	}
	go func() {
		out := fileOutcome{uid: uid}
		defer func() {
			// parseAndFile recovers its own panics; this covers the rest,
			// so one message never takes the process down.
			if r := recover(); r != nil {
				out.err = fmt.Errorf("file uid %d: %w: %v", uid, errFilingPanicked, r)
			}
			w.done <- out
		}()
		out.quarantined, out.err = w.p.fileMessage(w.ctx, w.log, w.st, uid, raw)
	}()
}

func (w *filingWindow) dependsOnInflight(own string, refs []string) bool {
	if own != "" && w.ids[own] > 0 {
		return true
	}
	for _, r := range refs {
		if w.ids[r] > 0 {
			return true
		}
	}
	return false
}

// receive waits for one filing to return and records its outcome.
func (w *filingWindow) receive() {
	out := <-w.done
	m := w.inflight[out.uid]
	delete(w.inflight, out.uid)
	w.bytes -= m.size
	if m.messageID != "" {
		if w.ids[m.messageID]--; w.ids[m.messageID] == 0 {
			delete(w.ids, m.messageID)
		}
	}
	w.outcomes[out.uid] = out
	var abort hookAbort
	switch {
	case errors.As(out.err, &abort):
		if w.aborted == nil {
			w.aborted = out.err
		}
	case out.err != nil:
		w.failed = true
	}
}

// wait waits until every filing of the window has returned.
func (w *filingWindow) wait() {
	for len(w.inflight) > 0 {
		w.receive()
	}
}

// firstError is the error of the lowest failed UID, or nil.
func (w *filingWindow) firstError() error {
	var first *fileOutcome
	for _, out := range w.outcomes {
		if out.err != nil && (first == nil || out.uid < first.uid) {
			first = &out
		}
	}
	if first == nil {
		return nil
	}
	return first.err
}

// messageIDs reads a message's own Message-ID and the ones it refers to
// (In-Reply-To, References), as Parse does.
func messageIDs(raw []byte) (own string, refs []string) {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return "", nil
	}
	mh := mail.Header{Header: message.Header{Header: h}}
	if ids := msgIDs(mh, "Message-Id"); len(ids) > 0 {
		own = ids[0]
	}
	return own, append(msgIDs(mh, "In-Reply-To"), msgIDs(mh, "References")...)
}
