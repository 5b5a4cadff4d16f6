package views

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"time"

	"casegate/calendar"
	"casegate/vocab"
)

// Report is the figures of one window, overall and by category.
type Report struct {
	From       time.Time          `json:"from"`
	To         time.Time          `json:"to"`
	Calendar   string             `json:"calendar"` // business hours the times count in
	Total      Figures            `json:"total"`
	ByCategory map[string]Figures `json:"by_category"` // customer, journalist, vip
}

// Figures are the outcomes of the cases opened in a window. Rates are
// shares 0–1 and NaN-free: 0 when there is nothing to divide by.
type Figures struct {
	Opened         int            `json:"opened"`
	Resolved       int            `json:"resolved"`          // of those opened, resolved at least once
	ResolutionRate float64        `json:"resolution_rate"`   // resolved / opened
	FirstResponse  Spread         `json:"first_response"`    // opening → first staff reply to the customer
	Resolution     Spread         `json:"resolution"`        // opening → first resolution
	Reopened       int            `json:"reopened"`          // resolved, then open again
	ReopenRate     float64        `json:"reopen_rate"`       // reopened / resolved
	EscalationsPR  map[string]int `json:"escalations_to_pr"` // by rule, fired in the window
	Ratings        int            `json:"ratings"`           // given in the window
	CSAT           float64        `json:"csat"`              // share of ratings 4 or 5
}

// Spread is the median and 90th percentile of durations, in business time.
type Spread struct {
	Count         int     `json:"count"`
	MedianSeconds float64 `json:"median_seconds"`
	P90Seconds    float64 `json:"p90_seconds"`
}

// Categories are the case categories every report lists, even when empty.
var reportCategories = []string{string(vocab.CategoryCustomer), string(vocab.CategoryJournalist), string(vocab.CategoryVIP)}

// Report computes the outcome figures of `casegate report` (and the
// report metrics) from the database, so every instance sees the same
// numbers: the figures for cases opened (ratings given, escalations
// fired) from from until to; durations count in cal's business hours (nil:
// 24x7).
func (r *Reader) Report(ctx context.Context, from, to time.Time, cal *calendar.Calendar) (Report, error) {
	rep := Report{From: from, To: to, Calendar: cal.Name(), ByCategory: map[string]Figures{}}
	type acc struct {
		f               Figures
		first, resolved []time.Duration
	}
	accs := map[string]*acc{"": {}}
	for _, c := range reportCategories {
		accs[c] = &acc{}
	}
	get := func(cat string) []*acc {
		a, ok := accs[cat]
		if !ok {
			a = &acc{}
			accs[cat] = a
		}
		return []*acc{accs[""], a}
	}
	cases, err := r.reportCases(ctx, from, to)
	if err != nil {
		return rep, err
	}
	for _, c := range cases {
		for _, a := range get(c.Category) {
			a.f.Opened++
			if c.FirstResponseAt.Valid {
				a.first = append(a.first, cal.Between(c.OpenedAt, c.FirstResponseAt.Time))
			}
			if !c.ResolvedAt.Valid {
				continue
			}
			a.f.Resolved++
			a.resolved = append(a.resolved, cal.Between(c.OpenedAt, c.ResolvedAt.Time))
			// A customer's mail reopens a resolved case without a status
			// event; that it is open again (or was resolved twice) shows it.
			if c.reopened() {
				a.f.Reopened++
			}
		}
	}
	var esc []struct {
		Category string `db:"category"`
		Rule     string `db:"rule"`
		N        int    `db:"n"`
	}
	if err := r.db.SelectContext(ctx, &esc, r.q.ReportEscalations.SQL, from, to); err != nil {
		return rep, fmt.Errorf("report: escalations: %w", err)
	}
	for _, e := range esc {
		for _, a := range get(e.Category) {
			if a.f.EscalationsPR == nil {
				a.f.EscalationsPR = map[string]int{}
			}
			a.f.EscalationsPR[e.Rule] += e.N
		}
	}
	ratings, err := r.reportRatings(ctx, from, to)
	if err != nil {
		return rep, err
	}
	satisfied := map[*acc]int{}
	for _, rt := range ratings {
		for _, a := range get(rt.Category) {
			a.f.Ratings++
			if rt.Score >= 4 {
				satisfied[a]++
			}
		}
	}
	for cat, a := range accs {
		a.f.ResolutionRate = share(a.f.Resolved, a.f.Opened)
		a.f.ReopenRate = share(a.f.Reopened, a.f.Resolved)
		a.f.CSAT = share(satisfied[a], a.f.Ratings)
		a.f.FirstResponse = spread(a.first)
		a.f.Resolution = spread(a.resolved)
		if a.f.EscalationsPR == nil {
			a.f.EscalationsPR = map[string]int{}
		}
		if cat == "" {
			rep.Total = a.f
		} else {
			rep.ByCategory[cat] = a.f
		}
	}
	return rep, nil
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// spread gives the median and p90 by nearest rank: each is a duration
// that occurred, not an interpolation.
func spread(d []time.Duration) Spread {
	if len(d) == 0 {
		return Spread{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return d[max(0, min(i, len(d)-1))]
	}
	return Spread{Count: len(d), MedianSeconds: rank(0.5).Seconds(), P90Seconds: rank(0.9).Seconds()}
}

// reportCase is one case opened in a report's window, with what the
// figures need.
type reportCase struct {
	ID              int64            `db:"id"`
	Category        string           `db:"category"`
	Status          vocab.CaseStatus `db:"status"`
	OpenedAt        time.Time        `db:"opened_at"`
	FirstResponseAt sql.NullTime     `db:"first_response_at"`
	ResolvedAt      sql.NullTime     `db:"resolved_at"`
	Resolutions     int              `db:"resolutions"`
	ReopenedEvent   bool             `db:"reopened_event"`
}

// reopened: resolved, then open again. A customer's mail reopens a
// resolved case without a status event; that it is open again (or was
// resolved twice) shows it.
func (c reportCase) reopened() bool {
	open := c.Status == vocab.StatusNew || c.Status == vocab.StatusOpen || c.Status == vocab.StatusPending
	return c.Resolutions > 1 || c.ReopenedEvent || open
}

func (r *Reader) reportCases(ctx context.Context, from, to time.Time) ([]reportCase, error) {
	var cases []reportCase
	if err := r.db.SelectContext(ctx, &cases, r.q.ReportCases.SQL, from, to); err != nil {
		return nil, fmt.Errorf("report: cases: %w", err)
	}
	return cases, nil
}

// reportRating is one rating given in a report's window.
type reportRating struct {
	Category string    `db:"category"`
	Score    int       `db:"score"`
	RatedAt  time.Time `db:"rated_at"`
}

func (r *Reader) reportRatings(ctx context.Context, from, to time.Time) ([]reportRating, error) {
	var ratings []reportRating
	if err := r.db.SelectContext(ctx, &ratings, r.q.ReportRatings.SQL, from, to); err != nil {
		return nil, fmt.Errorf("report: ratings: %w", err)
	}
	return ratings, nil
}
