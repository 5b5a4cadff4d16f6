// Package calendar does business-hours arithmetic: when does a deadline of
// "4 business hours" fall, given a time zone, opening hours per weekday and
// holiday dates? Everything here is a pure function of its arguments, so
// rules can be tested by moving a clock across evenings, weekends, holidays
// and daylight-saving changes. It is a leaf package.
package calendar

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Calendar is a week of opening hours in one time zone, minus holidays.
// The nil *Calendar is the "24x7" calendar: every instant is business time.
type Calendar struct {
	name     string
	loc      *time.Location
	week     [7][]span // by time.Weekday
	holidays map[date]bool
}

// span is one opening interval of a day, in minutes after local midnight
// (end may be 1440, meaning midnight at the end of the day).
type span struct{ start, end int }

type date struct {
	y int
	m time.Month
	d int
}

// Spec is the configuration form of a Calendar.
type Spec struct {
	Timezone string // IANA name, e.g. "Europe/Berlin"
	// Hours maps a weekday ("mon" … "sun", or the full English name) to its
	// opening hours, "09:00-17:00" or several spans "08:00-12:00,13:00-17:00".
	// A missing day is closed.
	Hours    map[string]string
	Holidays []string // "2026-12-25": closed all day
}

// ErrNoHours means a calendar is never open, so no deadline could be met.
var ErrNoHours = errors.New("calendar has no opening hours")

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// New builds a calendar from spec; errors name the offending field.
func New(name string, spec Spec) (*Calendar, error) {
	if spec.Timezone == "" {
		return nil, errors.New("timezone: required, e.g. \"Europe/Berlin\"")
	}
	loc, err := time.LoadLocation(spec.Timezone)
	if err != nil {
		return nil, fmt.Errorf("timezone: %w", err)
	}
	c := &Calendar{name: name, loc: loc, holidays: make(map[date]bool)}
	open := false
	for day, hours := range spec.Hours {
		wd, ok := weekdays[strings.ToLower(strings.TrimSpace(day))]
		if !ok {
			return nil, fmt.Errorf("hours: unknown weekday %q (use mon, tue, … sun)", day)
		}
		spans, err := parseSpans(hours)
		if err != nil {
			return nil, fmt.Errorf("hours.%s: %w", day, err)
		}
		c.week[wd] = append(c.week[wd], spans...)
		sort.Slice(c.week[wd], func(i, j int) bool { return c.week[wd][i].start < c.week[wd][j].start })
		for i := 1; i < len(c.week[wd]); i++ {
			if c.week[wd][i].start < c.week[wd][i-1].end {
				return nil, fmt.Errorf("hours.%s: spans overlap", day)
			}
		}
		open = open || len(spans) > 0
	}
	if !open {
		return nil, fmt.Errorf("hours: %w", ErrNoHours)
	}
	for _, h := range spec.Holidays {
		t, err := time.Parse("2006-01-02", strings.TrimSpace(h))
		if err != nil {
			return nil, fmt.Errorf("holidays: %q is not a date like 2026-12-25", h)
		}
		c.holidays[date{t.Year(), t.Month(), t.Day()}] = true
	}
	return c, nil
}

// parseSpans reads "09:00-17:00" or "08:00-12:00, 13:00-17:00"; "" or
// "closed" is no span.
func parseSpans(s string) ([]span, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "closed") {
		return nil, nil
	}
	var out []span
	for _, part := range strings.Split(s, ",") {
		from, to, ok := strings.Cut(strings.TrimSpace(part), "-")
		if !ok {
			return nil, fmt.Errorf("%q: want HH:MM-HH:MM", part)
		}
		a, err := parseClock(from)
		if err != nil {
			return nil, err
		}
		b, err := parseClock(to)
		if err != nil {
			return nil, err
		}
		if b <= a {
			return nil, fmt.Errorf("%q: end must be after start", part)
		}
		out = append(out, span{a, b})
	}
	return out, nil
}

func parseClock(s string) (int, error) {
	s = strings.TrimSpace(s)
	var h, m int
	if n, err := fmt.Sscanf(s, "%d:%d", &h, &m); n != 2 || err != nil || len(s) != 5 || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a time of day like 09:00 (24:00 ends the day)", s)
	}
	return h*60 + m, nil
}

// Name is the calendar's name in the configuration; "24x7" for nil.
func (c *Calendar) Name() string {
	if c == nil {
		return "24x7"
	}
	return c.name
}

// Location is the calendar's time zone; UTC for the 24x7 calendar.
func (c *Calendar) Location() *time.Location {
	if c == nil {
		return time.UTC
	}
	return c.loc
}

// Add returns the instant at which d of business time has passed since
// start: for the 24x7 calendar simply start+d. A zero or negative d gives
// start itself, even outside opening hours ("at once" means at once).
// Opening hours are wall-clock times in the calendar's zone, so a day on
// which the clocks change has one hour more or less only if its opening
// hours span the change.
func (c *Calendar) Add(start time.Time, d time.Duration) time.Time {
	if c == nil || d <= 0 {
		return start.Add(max(d, 0))
	}
	remaining := d
	local := start.In(c.loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 12, 0, 0, 0, c.loc) // noon never falls in a DST gap
	// New guarantees some opening hours every week; holidays are finite,
	// so the loop ends. The bound only guards against a corrupt calendar.
	for i := 0; i < 366*100; i++ {
		for _, sp := range c.openSpans(day) {
			from, to := c.at(day, sp.start), c.at(day, sp.end)
			if !to.After(start) {
				continue
			}
			if from.Before(start) {
				from = start
			}
			if avail := to.Sub(from); remaining <= avail {
				return from.Add(remaining)
			} else {
				remaining -= avail
			}
		}
		day = day.AddDate(0, 0, 1)
	}
	return start.Add(d) // unreachable for a calendar built by New
}

// Between returns the business time that passes from a to b (0 if b is not
// after a): the inverse of Add.
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	if c == nil {
		return b.Sub(a)
	}
	var total time.Duration
	local := a.In(c.loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 12, 0, 0, 0, c.loc)
	for c.at(day, 0).Before(b) {
		for _, sp := range c.openSpans(day) {
			from, to := c.at(day, sp.start), c.at(day, sp.end)
			if from.Before(a) {
				from = a
			}
			if to.After(b) {
				to = b
			}
			if to.After(from) {
				total += to.Sub(from)
			}
		}
		day = day.AddDate(0, 0, 1)
	}
	return total
}

// IsOpen reports whether t falls within opening hours.
func (c *Calendar) IsOpen(t time.Time) bool {
	if c == nil {
		return true
	}
	local := t.In(c.loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 12, 0, 0, 0, c.loc)
	for _, sp := range c.openSpans(day) {
		if !t.Before(c.at(day, sp.start)) && t.Before(c.at(day, sp.end)) {
			return true
		}
	}
	return false
}

// openSpans is the opening hours of the day containing noon-time day.
func (c *Calendar) openSpans(day time.Time) []span {
	if c.holidays[date{day.Year(), day.Month(), day.Day()}] {
		return nil
	}
	return c.week[day.Weekday()]
}

// at is the instant of minute m (after local midnight, wall clock) on day.
// time.Date resolves wall times in a DST gap or overlap the way the Go
// documentation describes; opening hours rarely sit in the one hour a year
// that does not exist.
func (c *Calendar) at(day time.Time, m int) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), 0, m, 0, 0, c.loc)
}
