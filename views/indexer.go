package views

import (
	"context"
	"log/slog"
	"time"
)

// Indexer builds the full-text search index of received mail after the
// commit: every filing queues its message (search_queue), and the indexer
// turns the queue into message_search entries, a batch at a time. Filing
// never waits for it; mail is found within about Poll of its filing. Any
// number of indexers (one per instance) share the queue.
type Indexer struct {
	r    *Reader
	opts IndexerOptions
	wake chan struct{}
}

// IndexerOptions configures an Indexer; zero values are the defaults.
type IndexerOptions struct {
	Batch int           // messages indexed in one statement; default 500
	Poll  time.Duration // how often to look without a wake-up; default 2 seconds
	// Busy, when set, says that sessions are waiting for their filing to
	// commit (threads.Store.Filing). While it does, the indexer yields the
	// CPU and the database to them, up to Yield (default 15 seconds) after
	// its last round: a burst is filed first and indexed in larger
	// batches, and mail is still found within Yield of its filing.
	Busy   func() bool
	Yield  time.Duration
	Logger *slog.Logger
}

// NewIndexer returns an indexer of r's database.
func NewIndexer(r *Reader, o IndexerOptions) *Indexer {
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.Yield <= 0 {
		o.Yield = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Indexer{r: r, opts: o, wake: make(chan struct{}, 1)}
}

// Wake makes Run index now; it never blocks.
func (x *Indexer) Wake() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// Run indexes queued mail until ctx ends.
func (x *Indexer) Run(ctx context.Context) error {
	t := time.NewTicker(x.opts.Poll)
	defer t.Stop()
	var last time.Time
	for {
		if x.opts.Busy == nil || !x.opts.Busy() || time.Since(last) >= x.opts.Yield {
			last = time.Now()
			x.drain(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-x.wake:
		}
	}
}

// drain indexes batches until the queue is empty or an error.
func (x *Indexer) drain(ctx context.Context) {
	for {
		n, err := x.IndexOnce(ctx)
		if err != nil {
			if ctx.Err() == nil {
				x.opts.Logger.Warn("search: indexing failed; retried", "err", err)
			}
			return
		}
		if n < x.opts.Batch {
			return
		}
	}
}

// IndexOnce indexes up to one batch of queued messages and returns how
// many it indexed.
func (x *Indexer) IndexOnce(ctx context.Context) (int, error) {
	res, err := x.r.q.SearchIndex.Exec(ctx, x.r.db, x.opts.Batch)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
