package threads

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/lib/pq"

	"casegate/vocab"
)

// Group commit: the messages of every session waiting at one moment are
// decided together and written in one statement, which is also their
// commit (one WAL flush for the batch). Every session still gets its
// answer only after the commit that holds its message.
//
// Each sender's mail goes to one committer (by a hash of the address), so
// the decisions about one sender — the cap on automatic answers — are
// taken in order without a lock held across a commit. A message whose case
// another committer changed meanwhile is decided again (its plan comes
// back as a conflict), as is one that concerns a case or message of an
// earlier message in its own batch.

type fileRequest struct {
	ctx   context.Context
	in    *vocab.Inbound
	reply chan fileResult
	tries int
}

type fileResult struct {
	filed vocab.Filed
	err   error
}

// maxTries bounds how often one message is decided again after conflicts.
const maxTries = 20

// File files in on its case: the raw bytes, the case change, the events
// and an intent for every mail it causes. It commits before it returns;
// an error means nothing was stored.
func (s *Store) File(ctx context.Context, in *vocab.Inbound) (vocab.Filed, error) {
	if in.MessageID == "" || len(in.BodySHA256) == 0 {
		return vocab.Filed{}, errors.New("file: inbound message without Message-ID or body hash")
	}
	s.filing.Add(1)
	defer s.filing.Add(-1)
	req := fileRequest{ctx: ctx, in: in, reply: make(chan fileResult, 1)}
	s.mu.RLock()
	if !s.running {
		s.mu.RUnlock()
		return s.fileAlone(ctx, in)
	}
	s.committers[committerOf(in, len(s.committers))] <- req
	s.mu.RUnlock()
	// Always wait for the answer: the batch may commit after ctx ends, and
	// the caller must not report failure for a message that was filed.
	res := <-req.reply
	return res.filed, res.err
}

func committerOf(in *vocab.Inbound, n int) int {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(in.From.Address)))
	return int(h.Sum32() % uint32(n))
}

// fileAlone files in with batches of one, deciding again on conflicts.
func (s *Store) fileAlone(ctx context.Context, in *vocab.Inbound) (vocab.Filed, error) {
	for try := 0; try < maxTries; try++ {
		res, retry := s.fileBatch(ctx, []fileRequest{{ctx: ctx, in: in}})
		if len(retry) == 0 {
			return res[0].filed, res[0].err
		}
	}
	return vocab.Filed{}, fmt.Errorf("file %s: %w", in.MessageID, ErrConflict)
}

// Run files messages handed to File in batches until ctx ends, then files
// what is still queued and returns. Without Run (or with BatchSize 1),
// File writes each message on its own.
func (s *Store) Run(ctx context.Context) error {
	if s.opts.BatchSize <= 1 {
		<-ctx.Done()
		return nil
	}
	s.mu.Lock()
	s.committers = make([]chan fileRequest, s.opts.Committers)
	for i := range s.committers {
		s.committers[i] = make(chan fileRequest, 256)
	}
	s.running = true
	s.mu.Unlock()
	done := make(chan struct{})
	for _, ch := range s.committers {
		go func() {
			defer func() { done <- struct{}{} }()
			s.commitLoop(ch)
		}()
	}
	<-ctx.Done()
	s.mu.Lock() // waits for File calls that are handing over a request
	s.running = false
	for _, ch := range s.committers {
		close(ch)
	}
	s.mu.Unlock()
	for range s.committers {
		<-done
	}
	return nil
}

// commitLoop takes what is queued for one committer, files it as one
// batch, and does it again; messages to be decided again go first into
// the next batch. It returns once its channel is closed and drained.
func (s *Store) commitLoop(requests chan fileRequest) {
	var again []fileRequest
	open := true
	for open || len(again) > 0 {
		batch := again
		again = nil
		if len(batch) == 0 {
			r, ok := <-requests
			if !ok {
				return
			}
			batch = append(batch, r)
		}
	collect:
		for len(batch) < s.opts.BatchSize && open {
			select {
			case r, ok := <-requests:
				if !ok {
					open = false
					break collect
				}
				batch = append(batch, r)
			default:
				break collect
			}
		}
		live := batch[:0]
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil && r.tries == 0 {
				r.reply <- fileResult{err: fmt.Errorf("file %s: %w", r.in.MessageID, err)}
				continue
			}
			live = append(live, r)
		}
		if len(live) == 0 {
			continue
		}
		results, retry := s.fileBatch(context.Background(), live)
		for i, r := range live {
			if results[i].retry {
				continue
			}
			r.reply <- fileResult{filed: results[i].filed, err: results[i].err}
		}
		for _, r := range retry {
			r.tries++
			if r.tries >= maxTries {
				r.reply <- fileResult{err: fmt.Errorf("file %s: %w", r.in.MessageID, ErrConflict)}
				continue
			}
			again = append(again, r)
		}
	}
}

type batchResult struct {
	filed vocab.Filed
	err   error
	retry bool
}

// fileBatch decides and writes batch in one snapshot and one write. It
// returns a result for each request and the requests to decide again. A
// failed batch is filed message by message, so one bad message never
// costs the others.
func (s *Store) fileBatch(ctx context.Context, batch []fileRequest) ([]batchResult, []fileRequest) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.BatchTimeout)
	defer cancel()
	results := make([]batchResult, len(batch))
	plans, index, retry, err := s.decideBatch(ctx, batch, results)
	if err == nil && len(plans) > 0 {
		var out []written
		out, err = s.commitPlans(ctx, plans)
		if err == nil {
			s.afterWrite(plans, out, batch, index, results, &retry)
		}
	}
	if err != nil {
		if len(batch) == 1 {
			results[0] = batchResult{err: fmt.Errorf("file %s: %w", batch[0].in.MessageID, err)}
			return results, nil
		}
		s.opts.Logger.Warn("threads: batch failed; filing its messages one by one", "messages", len(batch), "err", err)
		retry = nil
		for i, r := range batch {
			res, again := s.fileBatch(ctx, []fileRequest{r})
			results[i] = res[0]
			if len(again) > 0 {
				results[i].retry = true
				retry = append(retry, r)
			}
		}
	}
	return results, retry
}

// decideBatch reads the batch's snapshots and decides each message. index
// maps each plan to its request. A message that concerns a case or a
// message decided earlier in the batch is left for the next batch, which
// will read what this one writes.
func (s *Store) decideBatch(ctx context.Context, batch []fileRequest, results []batchResult) (plans []*plan, index []int, retry []fileRequest, err error) {
	set := s.settings()
	d := s.decider(s.opts.Now())
	reqs := make([]snapshotRequest, len(batch))
	toks := make([]tokenClaim, len(batch))
	for i, r := range batch {
		reqs[i], toks[i] = s.request(r.in, set)
	}
	snaps, err := s.snapshots(ctx, s.opts.DB, reqs, d.now)
	if err != nil {
		return nil, nil, nil, err
	}
	cases := map[int64]bool{}
	messages := map[string]bool{}
	for i, r := range batch {
		sn := snaps[i]
		sn.token = toks[i]
		if s.collides(r.in, sn, cases, messages) {
			results[i].retry = true
			retry = append(retry, r)
			continue
		}
		p := d.inbound(r.in, sn)
		p.Wake = !s.composing.Load() // e.g. a refile by the admin command
		if p.Case != nil && !p.NewCase {
			cases[p.Case.ID] = true
		}
		if p.Merge != nil {
			cases[p.Merge.From] = true
		}
		messages[r.in.MessageID] = true
		plans = append(plans, p)
		index = append(index, i)
	}
	return plans, index, retry, nil
}

// collides reports whether a message must wait for the next batch: its
// case, or a message it refers to, is decided earlier in this one.
func (s *Store) collides(in *vocab.Inbound, sn *snapshot, cases map[int64]bool, messages map[string]bool) bool {
	if messages[in.MessageID] {
		return true
	}
	for _, id := range in.ThreadingIDs() {
		if messages[id] {
			return true
		}
	}
	for _, c := range []*caseState{sn.Thread, sn.TokenCase} {
		if c != nil && (cases[c.ID] || c.MergedInto != 0 && cases[c.MergedInto]) {
			return true
		}
	}
	for _, c := range sn.Extra {
		if c != nil && cases[c.ID] {
			return true
		}
	}
	return false
}

// commitPlans writes plans and commits: the write alone is one implicit
// transaction; a batch with bounces marks their deliveries (mailout's
// rows) in the same transaction.
func (s *Store) commitPlans(ctx context.Context, plans []*plan) ([]written, error) {
	now := s.opts.Now().Truncate(time.Microsecond)
	var bounces bool
	for _, p := range plans {
		bounces = bounces || p.Bounce != nil
	}
	if !bounces {
		return s.write(ctx, s.opts.DB, plans, now)
	}
	tx, err := s.opts.DB.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	out, err := s.write(ctx, tx, plans, now)
	if err != nil {
		return nil, err
	}
	for i, p := range plans {
		if p.Bounce != nil && out[i].Outcome != "conflict" && out[i].Outcome != "duplicate" {
			if err := s.opts.Outbox.MarkBounced(ctx, tx, *p.Bounce); err != nil {
				return nil, err
			}
		}
	}
	return out, tx.Commit()
}

// afterWrite turns what the writer did into results, and wakes the
// composer when intents were committed.
func (s *Store) afterWrite(plans []*plan, out []written, batch []fileRequest, index []int, results []batchResult, retry *[]fileRequest) {
	intents := false
	for k, p := range plans {
		i := index[k]
		w := out[k]
		f := vocab.Filed{Case: w.Case, Message: w.Message}
		if p.Bounce != nil {
			f.Bounce = p.Bounce.Delivery
		}
		switch w.Outcome {
		case "conflict":
			results[i].retry = true
			*retry = append(*retry, batch[i])
			continue
		case "duplicate":
			f.Duplicate = true
		case "quarantined":
			f.Quarantined = true
			s.opts.Logger.Warn("threads: quarantined", "message_id", batch[i].in.MessageID, "reason", p.Quarantine.Reason)
		default:
			f.NewCase = p.NewCase
			intents = intents || len(p.Intents) > 0
		}
		if p.Outcome == outcomeDuplicate {
			f = *p.snap.Duplicate
		}
		results[i].filed = f
	}
	if intents {
		s.WakeComposer()
	}
}

// isUniqueViolation reports a unique-key conflict (a concurrent copy).
func isUniqueViolation(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23505"
}
