package threads

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/sync/errgroup"
)

// SweeperOptions configures a Sweeper; zero values are the defaults.
type SweeperOptions struct {
	// Interval between sweeps when nothing is due; default 30 seconds.
	Interval time.Duration
	// BatchSize is how many due timers one transaction claims; default 500.
	// The set-based sweep pays a dozen round trips per batch, so larger
	// batches cost less per escalation; a batch holds its cases' locks
	// (a filing for one of them waits) for a fraction of a second.
	BatchSize int
	// Workers is how many batches a sweep fires at once, each in its own
	// transaction; default 2, so one batch's Go work (rendering, composing)
	// overlaps another's database work. SKIP LOCKED keeps them apart.
	Workers int
	// RetryDelay postpones the timers of a case whose firing failed, so one
	// bad case cannot block the rest; default 5 minutes.
	RetryDelay time.Duration
	Logger     *slog.Logger
}

// Sweeper fires due escalation timers. Any number of sweepers, in any
// number of processes, may share one database: each claims the cases of
// due timers with FOR UPDATE SKIP LOCKED on the case rows (the lock every
// writer of a case's timers takes first, so sweepers and filings cannot
// deadlock), and the escalations key lets a rule fire at most once per case
// and cycle. Timers that fell due while no sweeper ran fire on the next
// sweep, late but once.
type Sweeper struct {
	store *Store
	opts  SweeperOptions
	wake  chan struct{}
	// caseByCase makes every case take the per-case path: the reference
	// the set-based path is tested against.
	caseByCase bool
}

// NewSweeper returns a sweeper of store's timers; run it with Run.
func NewSweeper(store *Store, opts SweeperOptions) *Sweeper {
	if opts.Interval <= 0 {
		opts.Interval = 30 * time.Second
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = store.opts.Logger
	}
	return &Sweeper{store: store, opts: opts, wake: make(chan struct{}, 1)}
}

// Wake makes Run sweep now (e.g. after a test moved the clock). It never
// blocks.
func (w *Sweeper) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sweeps at once (overdue timers fire after downtime), then every
// Interval, until ctx ends. A failed sweep is logged and retried.
func (w *Sweeper) Run(ctx context.Context) error {
	for {
		if _, err := w.SweepDue(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			w.opts.Logger.Error("escalation: sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		case <-time.After(w.opts.Interval):
		}
	}
}

// SweepDue sweeps until nothing is due, Workers batches at a time, and
// returns how many cases it evaluated. A worker stops at its first failed
// batch, which leaves nothing behind; the other finishes its own (no point
// cancelling a batch about to commit), and the first error is returned.
func (w *Sweeper) SweepDue(ctx context.Context) (int, error) {
	var evaluated atomic.Int64
	var g errgroup.Group
	for range w.opts.Workers {
		g.Go(func() error {
			for {
				claimed, n, err := w.sweep(ctx)
				evaluated.Add(int64(n))
				// A short batch means nothing more is due that another
				// worker does not hold.
				if err != nil || claimed < w.opts.BatchSize {
					return err
				}
			}
		})
	}
	err := g.Wait()
	return int(evaluated.Load()), err
}

// SweepOnce claims the cases of one batch of due timers (skipping cases
// another instance or a filing holds) and re-evaluates them in one
// transaction, firing what is due. It returns how many cases it evaluated:
// fewer than BatchSize means nothing more is due now.
func (w *Sweeper) SweepOnce(ctx context.Context) (int, error) {
	_, evaluated, err := w.sweep(ctx)
	return evaluated, err
}

// sweep is SweepOnce that also says how many due timer rows it claimed:
// a full batch means more may be due.
func (w *Sweeper) sweep(ctx context.Context) (claimedRows, evaluated int, err error) {
	s := w.store
	now := s.opts.Now()
	tx, err := s.opts.DB.BeginTxx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("sweep: %w", err)
	}
	defer tx.Rollback()
	var claimed []int64 // locked for this transaction
	if err := tx.SelectContext(ctx, &claimed, s.q["claim-due-timers"], now, w.opts.BatchSize); err != nil {
		return 0, 0, fmt.Errorf("sweep: claim due timers: %w", err)
	}
	var ids []int64
	seen := make(map[int64]bool)
	for _, caseID := range claimed {
		if !seen[caseID] { // several rules due on one case: one evaluation fires them all
			seen[caseID] = true
			ids = append(ids, caseID)
		}
	}
	slow, queued, err := w.sweepBatch(ctx, tx, ids, now)
	if err != nil {
		return len(claimed), 0, err
	}
	evaluated = len(ids) - len(slow)
	for _, caseID := range slow {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT sweep_case"); err != nil {
			return len(claimed), evaluated, fmt.Errorf("sweep: %w", err)
		}
		q, err := s.caseChanged(ctx, tx, caseID, now)
		if err != nil {
			// One case's failure must not stall the others: undo it,
			// postpone its timers and go on.
			w.opts.Logger.Error("escalation: case failed; postponed", "case", caseID, "err", err, "retry_in", w.opts.RetryDelay)
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT sweep_case"); err != nil {
				return len(claimed), evaluated, fmt.Errorf("sweep: %w", err)
			}
			if _, err := s.exec(ctx, tx, "postpone-timers", caseID, now, now.Add(w.opts.RetryDelay)); err != nil {
				return len(claimed), evaluated, fmt.Errorf("sweep: postpone case %d: %w", caseID, err)
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT sweep_case"); err != nil {
			return len(claimed), evaluated, fmt.Errorf("sweep: %w", err)
		}
		evaluated++
		queued = queued || q
	}
	if err := tx.Commit(); err != nil {
		return len(claimed), 0, fmt.Errorf("sweep: commit: %w", err)
	}
	if queued && s.opts.AfterCommit != nil {
		s.opts.AfterCommit()
	}
	return len(claimed), evaluated, nil
}

// sweepBatch fires what is due on the claimed cases ids set by set
// (sweepbatch.go) and returns the cases left for the per-case path. When the
// batch fails (one bad case, a cycle recorded meanwhile) it is undone to its
// savepoint and every case takes the per-case path, which isolates the
// failure to its case.
func (w *Sweeper) sweepBatch(ctx context.Context, tx *sqlx.Tx, ids []int64, now time.Time) (slow []int64, queued bool, err error) {
	if len(ids) == 0 || w.caseByCase {
		return ids, false, nil
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT sweep_batch"); err != nil {
		return nil, false, fmt.Errorf("sweep: %w", err)
	}
	slow, queued, err = w.store.sweepBatch(ctx, tx, ids, now)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, fmt.Errorf("sweep: %w", err)
		}
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT sweep_batch"); rerr != nil {
			return nil, false, fmt.Errorf("sweep: %w (after %w)", rerr, err)
		}
		w.opts.Logger.Warn("escalation: batch failed; case by case", "cases", len(ids), "err", err)
		return ids, false, nil
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT sweep_batch"); err != nil {
		return nil, false, fmt.Errorf("sweep: %w", err)
	}
	return slow, queued, nil
}
