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
	BatchSize int
	// Workers is how many batches a sweep fires at once, each in its own
	// transaction; default 2, so one batch's Go work overlaps another's
	// database work. SKIP LOCKED keeps them apart.
	Workers int
	// RetryDelay postpones the timers of a case whose firing failed, so one
	// bad case cannot block the rest; default 5 minutes.
	RetryDelay time.Duration
	Logger     *slog.Logger
}

// Sweeper fires due timers: escalation deadlines and the follow-up's
// steps. Any number of sweepers, in any number of processes, may share one
// database: each claims the cases of due timers with FOR UPDATE SKIP
// LOCKED on the case rows, decides each with the same code as filing
// (settle, on the same snapshot), and writes the plans of a batch in one
// statement. Timers that fell due while no sweeper ran fire on the next
// sweep, late but once (the escalations key).
type Sweeper struct {
	store *Store
	opts  SweeperOptions
	wake  chan struct{}
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
		s := w.store
		if _, err := s.q.PruneAnswers.Exec(ctx, s.opts.DB, s.opts.Now().Add(-48*time.Hour)); err != nil && ctx.Err() == nil {
			w.opts.Logger.Warn("escalation: pruning old automatic answers failed", "err", err)
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
// returns how many cases it evaluated.
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
// another instance or a filing holds), decides each and writes them in one
// transaction. It returns how many cases it evaluated.
func (w *Sweeper) SweepOnce(ctx context.Context) (int, error) {
	_, evaluated, err := w.sweep(ctx)
	return evaluated, err
}

func (w *Sweeper) sweep(ctx context.Context) (claimedRows, evaluated int, err error) {
	s := w.store
	d := s.decider(s.opts.Now())
	tx, err := s.opts.DB.BeginTxx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("sweep: %w", err)
	}
	defer tx.Rollback()
	var claimed []int64 // their case rows locked for this transaction
	if err := s.q.ClaimDueTimers.Select(ctx, tx, &claimed, d.now, w.opts.BatchSize); err != nil {
		return 0, 0, fmt.Errorf("sweep: claim due timers: %w", err)
	}
	if len(claimed) == 0 {
		return 0, 0, nil
	}
	var reqs []snapshotRequest
	seen := make(map[int64]bool)
	staff := s.settings().Staff
	for _, id := range claimed {
		if !seen[id] { // several rules due on one case: one decision fires them all
			seen[id] = true
			reqs = append(reqs, snapshotRequest{TokenCase: id, Addresses: staff, References: []string{}})
		}
	}
	snaps, err := s.snapshots(ctx, tx, reqs, d.now)
	if err != nil {
		return len(claimed), 0, fmt.Errorf("sweep: %w", err)
	}
	plans := make([]*plan, 0, len(snaps))
	for _, sn := range snaps {
		if sn.TokenCase == nil {
			continue
		}
		c := sn.TokenCase.clone()
		p := &plan{Outcome: outcomeFiled, Case: c, Version: c.Version, snap: sn}
		d.settle(p, c)
		plans = append(plans, p)
	}
	if err := w.writeSweep(ctx, tx, plans, d.now); err != nil {
		return len(claimed), 0, err
	}
	if err := tx.Commit(); err != nil {
		return len(claimed), 0, fmt.Errorf("sweep: commit: %w", err)
	}
	for _, p := range plans {
		if len(p.Intents) > 0 {
			s.WakeComposer()
			break
		}
	}
	return len(claimed), len(plans), nil
}

// writeSweep writes the plans of a sweep in one statement; when that fails
// (one bad case), each is written on its own under a savepoint and a case
// that still fails has its timers postponed, so it cannot hold up others.
func (w *Sweeper) writeSweep(ctx context.Context, tx *sqlx.Tx, plans []*plan, now time.Time) error {
	s := w.store
	if _, err := tx.ExecContext(ctx, "SAVEPOINT sweep_batch"); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	out, err := s.write(ctx, tx, plans, now)
	if err == nil {
		for i, w := range out {
			if w.Outcome == "conflict" { // changed meanwhile: its timers stay due for the next sweep
				w2 := plans[i]
				s.opts.Logger.Info("escalation: case changed during the sweep; next sweep", "case", w2.Case.ID)
			}
		}
		_, err = tx.ExecContext(ctx, "RELEASE SAVEPOINT sweep_batch")
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	w.opts.Logger.Warn("escalation: batch failed; case by case", "cases", len(plans), "err", err)
	if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT sweep_batch"); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	for _, p := range plans {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT sweep_case"); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		if _, err := s.write(ctx, tx, []*plan{p}, now); err != nil {
			w.opts.Logger.Error("escalation: case failed; postponed", "case", p.Case.ID, "err", err, "retry_in", w.opts.RetryDelay)
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT sweep_case"); err != nil {
				return fmt.Errorf("sweep: %w", err)
			}
			if _, err := s.q.PostponeTimers.Exec(ctx, tx, p.Case.ID, now, now.Add(w.opts.RetryDelay)); err != nil {
				return fmt.Errorf("sweep: postpone case %d: %w", p.Case.ID, err)
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT sweep_case"); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
	}
	return nil
}
