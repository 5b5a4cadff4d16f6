package mailin

import (
	"bufio"
	"bytes"
	"casegate/vocab"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/lib/pq"
)

// mailboxState is what a poller knows of its mailbox between sessions.
type mailboxState struct {
	name        string
	uidValidity uint32
	lastUID     imap.UID // every UID up to here was filed (or quarantined) and acted on
	// failures counts failed filings per UID (reset on UIDVALIDITY change),
	// so a message that can never be filed is quarantined, not retried
	// forever. Concurrent filings count under mu.
	mu       sync.Mutex
	failures map[imap.UID]int
}

// countFailure adds delta to uid's failed filings and returns the count.
func (st *mailboxState) countFailure(uid imap.UID, delta int) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.failures[uid] += delta
	return st.failures[uid]
}

func (st *mailboxState) forgetFailures(uids ...imap.UID) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, uid := range uids {
		delete(st.failures, uid)
	}
}

// session is one connection: log in, select the mailbox, file everything
// new, then wait (IDLE or poll) and repeat until ctx ends or an error. It
// reports whether it got as far as reading the mailbox, so the reconnect
// backoff starts afresh after a session that worked.
func (p *IMAPPoller) session(ctx context.Context, log *slog.Logger, st *mailboxState) (progressed bool, err error) {
	newMail := make(chan struct{}, 1)
	if p.opts.hooks.dialed != nil {
		p.opts.hooks.dialed()
	}
	c, err := p.dial(newMail)
	if err != nil {
		return false, fmt.Errorf("connect to %s: %w", p.opts.Address, err)
	}
	defer c.Close()
	// imapclient has no contexts: closing the connection unblocks whatever
	// command is under way when the poller stops or loses its lock.
	defer context.AfterFunc(ctx, func() { c.Close() })()

	if err := c.Login(p.opts.Username, p.opts.Password).Wait(); err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
			return false, &loginError{err}
		}
		return false, fmt.Errorf("login: %w", err)
	}
	sel, err := c.Select(st.name, nil).Wait()
	if err != nil {
		return false, fmt.Errorf("select %q: %w", st.name, err)
	}
	if err := p.loadState(ctx, log, st, sel.UIDValidity); err != nil {
		return false, err
	}
	folders := []string{p.opts.QuarantineTo}
	if p.opts.After == AfterMove {
		folders = append(folders, p.opts.MoveTo)
	}
	for _, f := range folders {
		if err := ensureFolder(c, f); err != nil {
			return false, err
		}
	}
	caps := c.Caps()
	if p.opts.After == AfterDelete && !caps.Has(imap.CapUIDPlus) {
		log.Warn("imap: server lacks UIDPLUS: filed mail is flagged \\Deleted but not expunged (a plain EXPUNGE would also remove other deleted mail)")
	}
	for {
		for {
			n, err := p.drainBatch(ctx, log, c, st)
			if err != nil {
				return progressed, err
			}
			if !progressed {
				progressed = true
				p.mark(st.name, func(h *mailboxHealth) { h.working, h.loginRefused, h.lastErr = true, false, "" })
			}
			if n == 0 {
				break
			}
		}
		if err := p.waitForMail(ctx, c, newMail); err != nil {
			return progressed, err
		}
		if ctx.Err() != nil {
			c.Logout().Wait()
			return progressed, ctx.Err()
		}
	}
}

func (p *IMAPPoller) dial(newMail chan<- struct{}) (*imapclient.Client, error) {
	opts := &imapclient.Options{
		TLSConfig:   p.opts.TLSConfig,
		WordDecoder: &mime.WordDecoder{CharsetReader: charset.Reader},
		// TCP keepalives notice a dead peer even while IDLE reads without
		// a deadline.
		Dialer: &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			// Runs on the client's reader goroutine: it must not call the
			// client, only signal (non-blocking) the poller.
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case newMail <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	switch p.opts.TLS {
	case TLSStartTLS:
		return imapclient.DialStartTLS(p.opts.Address, opts)
	case TLSNone:
		return imapclient.DialInsecure(p.opts.Address, opts)
	default:
		return imapclient.DialTLS(p.opts.Address, opts)
	}
}

// loadState reads the stored progress; a UIDVALIDITY other than the stored
// one means the UIDs were renumbered (RFC 9051 §2.3.1.1), so the mailbox is
// read again from the start and exactly-once filing skips what was filed.
func (p *IMAPPoller) loadState(ctx context.Context, log *slog.Logger, st *mailboxState, uidValidity uint32) error {
	var stored, last int64
	err := p.q.State.QueryRow(ctx, p.opts.DB, p.opts.Name, st.name).Scan(&stored, &last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		st.uidValidity, st.lastUID = uidValidity, 0
		return p.saveState(ctx, st)
	case err != nil:
		return fmt.Errorf("read mailbox state: %w", err)
	case uint32(stored) != uidValidity:
		log.Warn("imap: UIDVALIDITY changed; rescanning the mailbox (mail filed before is recognised and not filed again)",
			"old_uidvalidity", stored, "uidvalidity", uidValidity)
		st.uidValidity, st.lastUID = uidValidity, 0
		st.mu.Lock()
		clear(st.failures)
		st.mu.Unlock()
		return p.saveState(ctx, st)
	}
	st.uidValidity, st.lastUID = uidValidity, imap.UID(last)
	return nil
}

func (p *IMAPPoller) saveState(ctx context.Context, st *mailboxState) error {
	_, err := p.q.SaveState.Exec(context.WithoutCancel(ctx), p.opts.DB,
		p.opts.Name, st.name, int64(st.uidValidity), int64(st.lastUID), p.opts.Now())
	if err != nil {
		return fmt.Errorf("save mailbox state: %w", err)
	}
	return nil
}

func ensureFolder(c *imapclient.Client, name string) error {
	if _, err := c.Status(name, &imap.StatusOptions{NumMessages: true}).Wait(); err == nil {
		return nil
	}
	if err := c.Create(name, nil).Wait(); err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
			return nil
		}
		return fmt.Errorf("create folder %q: %w", name, err)
	}
	return nil
}

// drainBatch handles up to BatchSize messages above the last UID and
// reports how many UIDs it looked at (0: nothing new).
func (p *IMAPPoller) drainBatch(ctx context.Context, log *slog.Logger, c *imapclient.Client, st *mailboxState) (int, error) {
	var newer imap.UIDSet
	newer.AddRange(st.lastUID+1, 0) // last+1:*
	res, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{newer}}, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("search: %w", err)
	}
	var uids []imap.UID
	for _, uid := range res.AllUIDs() {
		if uid > st.lastUID { // "n:*" matches the highest UID even when it is below n
			uids = append(uids, uid)
		}
	}
	if len(uids) == 0 {
		return 0, nil
	}
	slices.Sort(uids)
	if len(uids) > p.opts.BatchSize {
		uids = uids[:p.opts.BatchSize]
	}

	// Sizes first, so an oversized message is never loaded whole.
	sizes, err := fetchSizes(c, uids)
	if err != nil {
		return 0, err
	}
	// headerOnly holds messages quarantined without their body, and why.
	headerOnly := make(map[imap.UID]string)
	tooBig := func(size int64) string {
		return fmt.Sprintf("message of %d bytes exceeds max_message_bytes (%d); only its header is kept here, the whole message is in folder %q",
			size, p.opts.MaxMessageBytes, p.opts.QuarantineTo)
	}
	var fits []imap.UID
	for _, uid := range uids {
		size, ok := sizes[uid]
		switch {
		case !ok: // expunged by someone else meanwhile: nothing to do
		case size > p.opts.MaxMessageBytes:
			headerOnly[uid] = tooBig(size)
		default:
			fits = append(fits, uid)
		}
	}

	handled := make(map[imap.UID]bool)
	w := p.newFilingWindow(ctx, log, st)
	var fetchErr error
	if len(fits) > 0 {
		want := make(map[imap.UID]bool, len(fits))
		for _, uid := range fits {
			want[uid] = true
		}
		// Bodies are streamed into the filing window, which holds a
		// bounded number of them. BODY.PEEK leaves \Seen alone until the
		// message is filed.
		cmd := c.Fetch(imap.UIDSetNum(fits...), &imap.FetchOptions{
			UID:         true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}},
		})
		for !w.stopped() {
			msg := cmd.Next()
			if msg == nil {
				break
			}
			uid, raw, err := readFetched(msg, p.opts.MaxMessageBytes)
			if err != nil {
				fetchErr = err
				break
			}
			if uid == 0 || raw == nil || !want[uid] {
				continue // unsolicited data for another message
			}
			handled[uid] = true
			if int64(len(raw)) > p.opts.MaxMessageBytes { // the announced size was wrong
				headerOnly[uid] = tooBig(int64(len(raw)))
				continue
			}
			w.file(uid, raw)
		}
		if err := cmd.Close(); err != nil && fetchErr == nil {
			fetchErr = fmt.Errorf("fetch: %w", err)
		}
	}
	w.wait()
	if w.aborted != nil {
		return 0, w.aborted
	}
	if fetchErr == nil {
		// The window stops taking messages when the poller stops; those
		// it did not take are not done.
		fetchErr = ctx.Err()
	}
	var filed, quarantined imap.UIDSet
	for _, uid := range uids { // in order, so the sets are compact ranges
		out, ok := w.outcomes[uid]
		switch {
		case !ok || out.err != nil:
		case out.quarantined:
			quarantined.AddNum(uid)
		default:
			filed.AddNum(uid)
		}
	}
	if err := errors.Join(w.firstError(), fetchErr); err != nil {
		// What committed is acted on all the same, and the stored last
		// UID advances over the messages before the first one not done,
		// so the failure costs only a re-read from that message on.
		if actErr := p.actAfterCommit(c, filed, quarantined); actErr != nil {
			return 0, errors.Join(err, actErr)
		}
		return 0, errors.Join(err, p.advanceOverDone(ctx, st, uids, sizes, w.outcomes))
	}

	// A message the server listed but sent no body for is either gone
	// (expunged meanwhile) or the server failed: then it is tried again,
	// and quarantined only after MaxFileAttempts, never skipped silently.
	var missing []imap.UID
	for _, uid := range fits {
		if !handled[uid] {
			missing = append(missing, uid)
		}
	}
	if len(missing) > 0 {
		still, err := fetchSizes(c, missing)
		if err != nil {
			return 0, err
		}
		for uid := range still {
			n := st.countFailure(uid, 1)
			if n < p.opts.MaxFileAttempts {
				return 0, fmt.Errorf("server sent no body for uid %d", uid)
			}
			headerOnly[uid] = fmt.Sprintf("the server sent no body for this message %d times", n)
		}
	}
	for _, uid := range slices.Sorted(maps.Keys(headerOnly)) {
		header, err := fetchHeader(c, uid)
		if err != nil {
			return 0, err
		}
		if err := p.quarantine(ctx, log, st, uid, header, headerOnly[uid]); err != nil {
			return 0, err
		}
		quarantined.AddNum(uid)
	}

	// Every message of the batch is committed (filed or quarantined): only
	// now is it flagged, moved or deleted.
	if err := p.actAfterCommit(c, filed, quarantined); err != nil {
		return 0, err
	}
	st.lastUID = uids[len(uids)-1]
	st.forgetFailures(uids...)
	return len(uids), p.saveState(ctx, st)
}

// actAfterCommit applies the after-filing action to filed messages and
// moves quarantined ones to the quarantine folder; both sets hold only
// messages whose filing or quarantine row has committed.
func (p *IMAPPoller) actAfterCommit(c *imapclient.Client, filed, quarantined imap.UIDSet) error {
	if len(filed) > 0 {
		if err := p.act(c, filed); err != nil {
			return fmt.Errorf("%s after filing: %w", p.opts.After, err)
		}
	}
	if len(quarantined) > 0 {
		if err := moveMessages(c, quarantined, p.opts.QuarantineTo); err != nil {
			return fmt.Errorf("move to quarantine folder: %w", err)
		}
	}
	return nil
}

// advanceOverDone moves the stored last UID over the longest run of the
// batch's UIDs (in order) that are done: filed or quarantined and acted on,
// or gone from the mailbox. It never passes a message that is not done, so
// a crash or a failure leaves nothing behind.
func (p *IMAPPoller) advanceOverDone(ctx context.Context, st *mailboxState, uids []imap.UID, sizes map[imap.UID]int64, outcomes map[imap.UID]fileOutcome) error {
	last := st.lastUID
	for _, uid := range uids { // sorted
		_, listed := sizes[uid]
		out, ok := outcomes[uid]
		if listed && (!ok || out.err != nil) {
			break
		}
		last = uid
	}
	if last == st.lastUID {
		return nil
	}
	done := uids[:slices.Index(uids, last)+1]
	st.lastUID = last
	st.forgetFailures(done...)
	return p.saveState(ctx, st)
}

func fetchSizes(c *imapclient.Client, uids []imap.UID) (map[imap.UID]int64, error) {
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("fetch sizes: %w", err)
	}
	sizes := make(map[imap.UID]int64, len(msgs))
	for _, m := range msgs {
		if m.UID != 0 {
			sizes[m.UID] = m.RFC822Size
		}
	}
	return sizes, nil
}

func fetchHeader(c *imapclient.Client, uid imap.UID) ([]byte, error) {
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("fetch header of uid %d: %w", uid, err)
	}
	for _, m := range msgs {
		if b := m.FindBodySection(section); b != nil {
			return b, nil
		}
	}
	return []byte{}, nil
}

// readFetched reads the UID and the whole message of one FETCH response.
func readFetched(msg *imapclient.FetchMessageData, limit int64) (uid imap.UID, raw []byte, err error) {
	defer func() {
		// Earlier betas panicked on odd server data; one message must not
		// take the poller down.
		if r := recover(); r != nil {
			err = fmt.Errorf("reading fetched message: panic: %v", r)
		}
	}()
	for {
		item := msg.Next()
		if item == nil {
			return uid, raw, nil
		}
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			uid = it.UID
		case imapclient.FetchItemDataBodySection:
			if it.Literal == nil {
				raw = []byte{}
				continue
			}
			// The server says the literal's size: one allocation of it.
			raw, _, err = readMessage(io.LimitReader(it.Literal, limit+1), min(it.Literal.Size(), limit+1))
			if err != nil {
				return 0, nil, fmt.Errorf("fetch body: %w", err)
			}
		}
	}
}

// errFilingPanicked marks a message whose parsing or filing panicked.
var errFilingPanicked = errors.New("filing panicked")

// fileMessage files one message and reports whether it had to be
// quarantined instead. An error means neither happened (the database or
// the connection failed): the session ends and the message is read again.
func (p *IMAPPoller) fileMessage(ctx context.Context, log *slog.Logger, st *mailboxState, uid imap.UID, raw []byte) (quarantined bool, err error) {
	in, fileErr := p.parseAndFile(ctx, log.With("uid", uid), st, raw)
	if fileErr == nil {
		if p.opts.hooks.afterFile != nil {
			if err := p.opts.hooks.afterFile(st.name, uid); err != nil {
				return false, hookAbort{err}
			}
		}
		return false, nil
	}
	failures := st.countFailure(uid, 1)
	permanent := errors.Is(fileErr, errFilingPanicked) || isPermanentDBError(fileErr)
	if !permanent && failures < p.opts.MaxFileAttempts {
		return false, fmt.Errorf("file uid %d: %w", uid, fileErr)
	}
	if !permanent {
		// Count it against the message only when the database answers:
		// an outage is not the message's fault.
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := p.opts.DB.PingContext(pctx); err != nil {
			st.countFailure(uid, -1)
			return false, fmt.Errorf("file uid %d: %w", uid, fileErr)
		}
	}
	reason := fmt.Sprintf("filing failed %d time(s): %v", failures, fileErr)
	messageID := ""
	if in != nil {
		messageID = in.MessageID
	}
	log.Error("imap: message cannot be filed; quarantining it", "uid", uid, "message_id", messageID, "err", fileErr)
	if err := p.quarantine(ctx, log, st, uid, raw, reason); err != nil {
		return false, err
	}
	return true, nil
}

func (p *IMAPPoller) parseAndFile(ctx context.Context, log *slog.Logger, st *mailboxState, raw []byte) (in *vocab.Inbound, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errFilingPanicked, r)
		}
	}()
	in = parseForFiling(raw)
	in.Source = p.source(st.name)
	in.ReceivedAt = p.opts.Now()
	env := readEnvelope(raw)
	in.Recipients = env.recipients
	if len(in.Recipients) == 0 && strings.Contains(p.opts.Username, "@") {
		in.Recipients = []string{p.opts.Username}
	}
	in.EnvelopeFrom = env.returnPath
	if env.nullReturnPath {
		MarkNullSender(in)
	}
	if p.opts.Auth != nil {
		// A mailbox is no relay whose Authentication-Results we can place:
		// the server's delivery agent, not the MX, wrote its top fields.
		p.opts.Auth.Check(ctx, in, Client{})
	}
	in.Auth.Trusted = p.opts.Trusted
	p.opts.Classifier.Classify(in)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.FileTimeout)
	defer cancel()
	filed, err := p.opts.Filer.File(fctx, in)
	if err != nil {
		return in, err
	}
	log.Info("imap: filed", "message_id", in.MessageID, "case", filed.Case, "new_case", filed.NewCase, "duplicate", filed.Duplicate, "bytes", len(raw))
	return in, nil
}

// isPermanentDBError is a PostgreSQL error that the same message will meet
// again: bad data (class 22), a constraint (23) or a size limit (54).
func isPermanentDBError(err error) bool {
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code.Class() {
	case "22", "23", "54":
		return true
	}
	return false
}

func (p *IMAPPoller) quarantine(ctx context.Context, log *slog.Logger, st *mailboxState, uid imap.UID, raw []byte, reason string) error {
	env := readEnvelope(raw)
	messageID := ""
	if h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw))); err == nil {
		mh := mail.Header{Header: message.Header{Header: h}}
		messageID, _ = mh.MessageID()
	}
	_, err := p.q.Quarantine.Exec(context.WithoutCancel(ctx), p.opts.DB,
		p.source(st.name), reason, raw, env.returnPath, pq.Array(env.recipients), validText([]byte(messageID)), p.opts.Now())
	if err != nil {
		return fmt.Errorf("quarantine uid %d: %w", uid, err)
	}
	log.Warn("imap: quarantined", "uid", uid, "message_id", messageID, "reason", reason, "folder", p.opts.QuarantineTo)
	return nil
}

// envelope is what an IMAP message's header says of its SMTP envelope.
type envelope struct {
	returnPath     string
	nullReturnPath bool
	recipients     []string
}

// readEnvelope recovers the envelope the delivering MTA recorded:
// Return-Path (RFC 5321 §4.4), Delivered-To / X-Original-To, and otherwise
// To and Cc, where a reply token (support+<case>-<hmac>@…) is found. A
// forged token is harmless: threads verifies its HMAC.
func readEnvelope(raw []byte) envelope {
	var env envelope
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return env
	}
	if rp := strings.TrimSpace(h.Get("Return-Path")); rp != "" {
		rp = strings.TrimSuffix(strings.TrimPrefix(rp, "<"), ">")
		env.returnPath = validText([]byte(rp))
		env.nullReturnPath = rp == ""
	}
	seen := make(map[string]bool)
	add := func(a string) {
		a = strings.ToLower(strings.TrimSpace(strings.Trim(a, "<> ")))
		if a != "" && strings.Contains(a, "@") && !seen[a] && len(env.recipients) < 100 {
			seen[a] = true
			env.recipients = append(env.recipients, validText([]byte(a)))
		}
	}
	for _, key := range []string{"Delivered-To", "X-Original-To"} {
		for _, v := range h.Values(key) {
			add(v)
		}
	}
	mh := mail.Header{Header: message.Header{Header: h}}
	for _, key := range []string{"To", "Cc"} {
		list, err := mh.AddressList(key)
		if err != nil {
			for _, a := range addrPattern.FindAllString(h.Get(key), 100) {
				add(a)
			}
			continue
		}
		for _, a := range list {
			add(a.Address)
		}
	}
	return env
}

// act applies the configured after-filing action to messages whose filing
// has committed.
func (p *IMAPPoller) act(c *imapclient.Client, uids imap.UIDSet) error {
	switch p.opts.After {
	case AfterSeen:
		return c.Store(uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
	case AfterDelete:
		if err := c.Store(uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			return err
		}
		if c.Caps().Has(imap.CapUIDPlus) {
			return c.UIDExpunge(uids).Close()
		}
		return nil // warned at login; never a plain EXPUNGE
	default:
		return moveMessages(c, uids, p.opts.MoveTo)
	}
}

// moveMessages moves by UID. Without MOVE (RFC 6851) and UIDPLUS the
// library would fall back to a plain EXPUNGE, which also removes mail
// someone else flagged \Deleted: then the messages are copied and flagged
// \Seen \Deleted, and left for the owner to expunge.
func moveMessages(c *imapclient.Client, uids imap.UIDSet, folder string) error {
	caps := c.Caps()
	if caps.Has(imap.CapMove) || caps.Has(imap.CapUIDPlus) {
		_, err := c.Move(uids, folder).Wait()
		return err
	}
	if _, err := c.Copy(uids, folder).Wait(); err != nil {
		return err
	}
	return c.Store(uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen, imap.FlagDeleted}}, nil).Close()
}

// waitForMail returns when the mailbox may have new mail: at once on an
// EXISTS while idling (RFC 2177), after IdleRestart otherwise, or after
// PollInterval on servers without IDLE.
func (p *IMAPPoller) waitForMail(ctx context.Context, c *imapclient.Client, newMail <-chan struct{}) error {
	select {
	case <-newMail: // arrived during the last commands
		return nil
	default:
	}
	if !c.Caps().Has(imap.CapIdle) {
		select {
		case <-newMail:
		case <-ctx.Done():
		case <-c.Closed():
			return errors.New("connection closed by the server")
		case <-time.After(p.opts.PollInterval):
		}
		return nil
	}
	idle, err := c.Idle()
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	t := time.NewTimer(p.opts.IdleRestart)
	defer t.Stop()
	closed := false
	select {
	case <-newMail:
	case <-ctx.Done():
	case <-t.C:
	case <-c.Closed():
		closed = true
	}
	if err := idle.Close(); err != nil {
		return fmt.Errorf("end idle: %w", err)
	}
	if err := idle.Wait(); err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	if closed {
		return errors.New("connection closed by the server")
	}
	return nil
}
