package views

import (
	"context"
	"fmt"
	"sort"
	"time"

	"casegate/calendar"
)

// Page is everything the HTML report (and the weekly report mail) shows:
// the figures of Report, and what the charts draw.
type Page struct {
	Report    Report    `json:"report"`
	Generated time.Time `json:"generated"`
	// Weeks are the weeks (Monday 00:00 UTC) in which cases opened, oldest
	// first: the trends of resolution, first response and CSAT.
	Weeks []Week `json:"weeks"`
	// FirstResponses counts the cases of the window by how long their first
	// staff reply took (business time).
	FirstResponses []Bucket `json:"first_responses"`
	// OpenByAge counts the cases open now by how long ago they opened.
	OpenByAge []Bucket `json:"open_by_age"`
	// Staff is what each person did in the window, most replies first.
	Staff []StaffFigures `json:"staff"`
}

// Week is one week of a trend.
type Week struct {
	Start                      time.Time `json:"start"`
	Opened                     int       `json:"opened"`
	Resolved                   int       `json:"resolved"`         // of those opened this week
	ResolutionRatio            float64   `json:"resolution_ratio"` // resolved / opened
	FirstResponses             int       `json:"first_responses"`  // cases with a staff reply
	FirstResponseMedianSeconds float64   `json:"first_response_median_seconds"`
	Ratings                    int       `json:"ratings"` // given this week
	CSAT                       float64   `json:"csat"`    // share of 4 and 5
}

// Bucket is one bar of a distribution.
type Bucket struct {
	Label string `json:"label"`
	Count int    `json:"count"`
}

// StaffFigures are one person's actions in the window: a staff address,
// or cli:<user> for the admin commands.
type StaffFigures struct {
	Actor        string `db:"actor" json:"actor"`
	Replies      int    `db:"replies" json:"replies"`   // relayed to customers
	Resolved     int    `db:"resolved" json:"resolved"` // resolutions
	Changes      int    `db:"changes" json:"changes"`   // status, priority, assignment, notes, escalations
	Cases        int    `db:"cases" json:"cases"`       // distinct cases acted on
	OpenAssigned int    `json:"open_assigned"`          // open cases assigned to them now
}

// firstResponseBuckets are the bars of the first-response distribution.
var firstResponseBuckets = []struct {
	label string
	upTo  time.Duration
}{
	{"< 1 h", time.Hour}, {"1–4 h", 4 * time.Hour}, {"4–8 h", 8 * time.Hour},
	{"8–24 h", 24 * time.Hour}, {"1–3 d", 72 * time.Hour}, {"> 3 d", 1 << 62},
}

// openAgeLabels are the bars of report-open-ages, by its bucket number.
var openAgeLabels = []string{"< 1 day", "1–3 days", "3–7 days", "1–2 weeks", "2–4 weeks", "> 4 weeks"}

// ReportPage computes the report of the cases opened from from until to,
// with its trends and distributions; durations count in cal's business
// hours (nil: 24x7).
func (r *Reader) ReportPage(ctx context.Context, from, to time.Time, cal *calendar.Calendar) (Page, error) {
	rep, err := r.Report(ctx, from, to, cal)
	if err != nil {
		return Page{}, err
	}
	p := Page{Report: rep, Generated: r.now()}
	cases, err := r.reportCases(ctx, from, to)
	if err != nil {
		return p, err
	}
	ratings, err := r.reportRatings(ctx, from, to)
	if err != nil {
		return p, err
	}

	weeks := map[time.Time]*Week{}
	week := func(t time.Time) *Week {
		t = t.UTC()
		start := time.Date(t.Year(), t.Month(), t.Day()-(int(t.Weekday())+6)%7, 0, 0, 0, 0, time.UTC)
		w, ok := weeks[start]
		if !ok {
			w = &Week{Start: start}
			weeks[start] = w
		}
		return w
	}
	// Every week of the window has its point, also one without cases.
	for t := from; t.Before(to); t = t.AddDate(0, 0, 7) {
		week(t)
	}
	week(to.Add(-time.Nanosecond))
	firstByWeek := map[*Week][]time.Duration{}
	p.FirstResponses = make([]Bucket, len(firstResponseBuckets))
	for i, b := range firstResponseBuckets {
		p.FirstResponses[i].Label = b.label
	}
	for _, c := range cases {
		w := week(c.OpenedAt)
		w.Opened++
		if c.ResolvedAt.Valid {
			w.Resolved++
		}
		if c.FirstResponseAt.Valid {
			d := cal.Between(c.OpenedAt, c.FirstResponseAt.Time)
			firstByWeek[w] = append(firstByWeek[w], d)
			for i, b := range firstResponseBuckets {
				if d < b.upTo {
					p.FirstResponses[i].Count++
					break
				}
			}
		}
	}
	satisfied := map[*Week]int{}
	for _, rt := range ratings {
		w := week(rt.RatedAt)
		w.Ratings++
		if rt.Score >= 4 {
			satisfied[w]++
		}
	}
	for _, w := range weeks {
		w.ResolutionRatio = share(w.Resolved, w.Opened)
		w.CSAT = share(satisfied[w], w.Ratings)
		s := spread(firstByWeek[w])
		w.FirstResponses, w.FirstResponseMedianSeconds = s.Count, s.MedianSeconds
		p.Weeks = append(p.Weeks, *w)
	}
	sort.Slice(p.Weeks, func(i, j int) bool { return p.Weeks[i].Start.Before(p.Weeks[j].Start) })

	var ages []struct {
		Bucket int `db:"bucket"`
		N      int `db:"n"`
	}
	if err := r.db.SelectContext(ctx, &ages, r.q.ReportOpenAges.SQL, to); err != nil {
		return p, fmt.Errorf("report: open cases: %w", err)
	}
	p.OpenByAge = make([]Bucket, len(openAgeLabels))
	for i, l := range openAgeLabels {
		p.OpenByAge[i].Label = l
	}
	for _, a := range ages {
		p.OpenByAge[a.Bucket].Count = a.N
	}

	if err := r.db.SelectContext(ctx, &p.Staff, r.q.ReportStaff.SQL, from, to); err != nil {
		return p, fmt.Errorf("report: staff: %w", err)
	}
	var assigned []struct {
		Assignee string `db:"assignee"`
		N        int    `db:"n"`
	}
	if err := r.db.SelectContext(ctx, &assigned, r.q.ReportAssigned.SQL); err != nil {
		return p, fmt.Errorf("report: assignees: %w", err)
	}
	for _, a := range assigned {
		found := false
		for i := range p.Staff {
			if p.Staff[i].Actor == a.Assignee {
				p.Staff[i].OpenAssigned, found = a.N, true
			}
		}
		if !found {
			p.Staff = append(p.Staff, StaffFigures{Actor: a.Assignee, OpenAssigned: a.N})
		}
	}
	sort.Slice(p.Staff, func(i, j int) bool {
		if p.Staff[i].Replies != p.Staff[j].Replies {
			return p.Staff[i].Replies > p.Staff[j].Replies
		}
		return p.Staff[i].Actor < p.Staff[j].Actor
	})
	return p, nil
}
