package templates

import (
	"fmt"
	"strings"
	"time"
)

// Moment is a time a customer-facing mail mentions, in the case's time
// zone. A template prints it in its own language, in plain words, with the
// zone named:
//
//	{{.ReceivedAt}}         Monday 30 November, 13:00 CET   (= .Date)
//	{{.ReceivedAt.Day}}     Monday 30 November
//	{{.ReceivedAt.Clock}}   13:00 CET
//	{{.ReceivedAt.When}}    today at 13:00 CET, tomorrow at …, on Monday 30 November at …
//	{{.ReplyBy.By}}         by 15:00 CET today, by Monday 30 November, 13:00 CET
//	{{.ReceivedAt.Ago}}     3 days ago, 2 hours ago, yesterday (a future time: in 3 days)
//
// The German variants write "Montag, 30. November, 13:00 Uhr MEZ",
// "vor 3 Tagen", …; other languages get the English words. The year is
// added when it is not the current one. Fields of type *Moment are nil
// when there is no such time: test them with {{with}}.
type Moment struct {
	At  time.Time // in the zone it is shown in
	Now time.Time // when the mail is written, for "3 days ago" and "tomorrow"
	// lang is the language of the template being rendered, set by Render.
	lang string
}

// NewMoment is at shown in zone (nil: UTC) to someone reading at now. A
// zero at gives nil.
func NewMoment(at time.Time, zone *time.Location, now time.Time) *Moment {
	if at.IsZero() {
		return nil
	}
	if zone == nil {
		zone = time.UTC
	}
	return &Moment{At: at.In(zone), Now: now.In(zone)}
}

// String is Date, so {{.X}} prints the full date and time.
func (m Moment) String() string { return m.Date() }

// Date is the day and the time with the zone: "Monday 30 November, 13:00 CET".
func (m Moment) Date() string { return m.Day() + ", " + m.Clock() }

// Day is the weekday and date: "Monday 30 November" ("Montag, 30. November").
func (m Moment) Day() string {
	year := ""
	if m.At.Year() != m.Now.Year() {
		year = fmt.Sprintf(" %d", m.At.Year())
	}
	if m.german() {
		return fmt.Sprintf("%s, %d. %s%s", germanDays[m.At.Weekday()], m.At.Day(), germanMonths[m.At.Month()-1], year)
	}
	return fmt.Sprintf("%s %d %s%s", m.At.Weekday(), m.At.Day(), m.At.Month(), year)
}

// Clock is the time of day with the zone: "13:00 CET" ("13:00 Uhr MEZ").
func (m Moment) Clock() string {
	if m.german() {
		return m.At.Format("15:04") + " Uhr " + germanZone(ZoneName(m.At))
	}
	return m.At.Format("15:04") + " " + ZoneName(m.At)
}

// When is the moment as a person says it: "today at 15:00 CET",
// "tomorrow at 09:00 CET", "yesterday at …", else "on Monday 30 November
// at 13:00 CET".
func (m Moment) When() string {
	d := calendarDays(m.Now, m.At)
	if m.german() {
		switch d {
		case 0:
			return "heute um " + m.Clock()
		case 1:
			return "morgen um " + m.Clock()
		case -1:
			return "gestern um " + m.Clock()
		}
		return "am " + m.Day() + ", um " + m.Clock()
	}
	switch d {
	case 0:
		return "today at " + m.Clock()
	case 1:
		return "tomorrow at " + m.Clock()
	case -1:
		return "yesterday at " + m.Clock()
	}
	return "on " + m.Day() + " at " + m.Clock()
}

// By is the moment as a deadline: "by 15:00 CET today", "by 09:00 CET
// tomorrow", "by Monday 30 November, 13:00 CET" ("bis heute, 15:00 Uhr
// MEZ", "bis Montag, 30. November, 13:00 Uhr MEZ").
func (m Moment) By() string {
	d := calendarDays(m.Now, m.At)
	if m.german() {
		switch d {
		case 0:
			return "bis heute, " + m.Clock()
		case 1:
			return "bis morgen, " + m.Clock()
		}
		return "bis " + m.Date()
	}
	switch d {
	case 0:
		return "by " + m.Clock() + " today"
	case 1:
		return "by " + m.Clock() + " tomorrow"
	}
	return "by " + m.Date()
}

// Ago is the interval from the moment to now in words: "just now",
// "5 minutes ago", "2 hours ago", "yesterday", "3 days ago", "2 weeks ago",
// "4 months ago"; a moment still to come reads "in 3 days", "tomorrow".
func (m Moment) Ago() string {
	d := m.Now.Sub(m.At)
	future := d < 0
	if future {
		d = -d
	}
	days := calendarDays(m.At, m.Now)
	if future {
		days = calendarDays(m.Now, m.At)
	}
	var n int
	var unit string // minute, hour, day, week, month
	switch {
	case d < time.Minute:
		if m.german() {
			return "gerade eben"
		}
		return "just now"
	case d < time.Hour:
		n, unit = int(d/time.Minute), "minute"
	case d < 24*time.Hour:
		n, unit = int(d/time.Hour), "hour"
	case days <= 1:
		if m.german() {
			return map[bool]string{false: "gestern", true: "morgen"}[future]
		}
		return map[bool]string{false: "yesterday", true: "tomorrow"}[future]
	case days < 14:
		n, unit = days, "day"
	case days < 60:
		n, unit = days/7, "week"
	default:
		n, unit = days/30, "month"
	}
	if m.german() {
		words := germanUnits[unit]
		count := fmt.Sprintf("%d %s", n, words[1])
		if n == 1 {
			count = words[0]
		}
		if future {
			return "in " + count
		}
		return "vor " + count
	}
	count := fmt.Sprintf("%d %ss", n, unit)
	if n == 1 {
		count = map[string]string{"minute": "a minute", "hour": "an hour", "day": "a day", "week": "a week", "month": "a month"}[unit]
	}
	if future {
		return "in " + count
	}
	return count + " ago"
}

func (m Moment) german() bool { return primaryLanguage(m.lang) == "de" }

// calendarDays is how many calendar days (in to's zone) lie from from to to.
func calendarDays(from, to time.Time) int {
	from = from.In(to.Location())
	a := time.Date(from.Year(), from.Month(), from.Day(), 12, 0, 0, 0, time.UTC)
	b := time.Date(to.Year(), to.Month(), to.Day(), 12, 0, 0, 0, time.UTC)
	return int(b.Sub(a).Hours() / 24)
}

var (
	germanDays   = [7]string{"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"}
	germanMonths = [12]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}
	// germanUnits are the singular (with its article, as in "vor einer
	// Stunde") and the dative plural of each unit.
	germanUnits = map[string][2]string{
		"minute": {"einer Minute", "Minuten"}, "hour": {"einer Stunde", "Stunden"}, "day": {"einem Tag", "Tagen"},
		"week": {"einer Woche", "Wochen"}, "month": {"einem Monat", "Monaten"},
	}
)

// germanZone names the Central European zones as German readers know them.
func germanZone(name string) string {
	switch name {
	case "CET":
		return "MEZ"
	case "CEST":
		return "MESZ"
	}
	return name
}

// ZoneName names t's zone for a reader: its abbreviation when the zone
// database has a real one ("CET", "EST"), else the offset ("UTC+05:30",
// "UTC-03:00"), and "UTC" for UTC.
func ZoneName(t time.Time) string {
	abbr, offset := t.Zone()
	if isAbbreviation(abbr) {
		return abbr
	}
	return OffsetZoneName(offset)
}

// OffsetZoneName names a fixed offset east of UTC in seconds: "UTC",
// "UTC+05:30", "UTC-03:00".
func OffsetZoneName(offset int) string {
	if offset == 0 {
		return "UTC"
	}
	sign := '+'
	if offset < 0 {
		sign, offset = '-', -offset
	}
	return fmt.Sprintf("UTC%c%02d:%02d", sign, offset/3600, offset%3600/60)
}

func isAbbreviation(s string) bool {
	if len(s) < 2 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// LoadZone reads a case's time zone as CaseZone names it: an IANA name
// ("Europe/Berlin"), "UTC", or a fixed offset ("UTC+05:30"). "" is UTC.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if rest, ok := strings.CutPrefix(name, "UTC"); ok && len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' {
		var h, m int
		if _, err := fmt.Sscanf(rest[1:], "%02d:%02d", &h, &m); err == nil && h <= 14 && m < 60 {
			offset := h*3600 + m*60
			if rest[0] == '-' {
				offset = -offset
			}
			return time.FixedZone(name, offset), nil
		}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return loc, nil
}

// CaseZone chooses the time zone a case's mail shows times in: the
// configured zone, unless the customer's own mail (its Date header, sent)
// carries a different offset from UTC at that moment; then that offset
// ("UTC+05:30"). An offset of zero says nothing (RFC 5322 §3.3: "-0000"
// means no zone is known, and many programs write +0000 whatever the
// writer's zone), nor does a missing Date.
func CaseZone(configured *time.Location, sent time.Time) string {
	if configured == nil {
		configured = time.UTC
	}
	if !sent.IsZero() {
		_, offset := sent.Zone()
		if _, want := sent.In(configured).Zone(); offset != 0 && offset != want && offset%60 == 0 && offset > -15*3600 && offset < 15*3600 {
			return OffsetZoneName(offset)
		}
	}
	return configured.String()
}

// primaryLanguage is the first subtag of a language tag: "de" for "de-at".
func primaryLanguage(tag string) string {
	p, _, _ := strings.Cut(strings.ToLower(tag), "-")
	return p
}
