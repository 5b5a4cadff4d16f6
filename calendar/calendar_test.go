package calendar

import (
	"errors"
	"testing"
	"time"
)

func office(t *testing.T) *Calendar {
	t.Helper()
	c, err := New("office", Spec{
		Timezone: "Europe/Berlin",
		Hours: map[string]string{
			"mon": "09:00-17:00", "tue": "09:00-17:00", "wed": "09:00-17:00",
			"thu": "09:00-17:00", "fri": "09:00-17:00",
		},
		Holidays: []string{"2026-12-25", "2026-12-28"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func berlin(t *testing.T, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAdd(t *testing.T) {
	c := office(t)
	for _, tc := range []struct {
		name  string
		start string
		after time.Duration
		want  string
	}{
		{"within a day", "2026-11-23 10:00", 4 * time.Hour, "2026-11-23 14:00"},
		{"ends exactly at closing", "2026-11-23 13:00", 4 * time.Hour, "2026-11-23 17:00"},
		{"evening rolls to next morning", "2026-11-23 15:00", 4 * time.Hour, "2026-11-24 11:00"},
		{"after hours starts next morning", "2026-11-23 20:00", 4 * time.Hour, "2026-11-24 13:00"},
		{"before opening", "2026-11-24 06:30", 90 * time.Minute, "2026-11-24 10:30"},
		{"friday evening to monday", "2026-11-27 19:30", 4 * time.Hour, "2026-11-30 13:00"},
		{"friday afternoon to monday", "2026-11-27 15:00", 4 * time.Hour, "2026-11-30 11:00"},
		{"saturday to monday", "2026-11-28 11:00", time.Hour, "2026-11-30 10:00"},
		{"three business days", "2026-11-23 10:00", 24 * time.Hour, "2026-11-26 10:00"},
		{"holiday friday and holiday monday skipped", "2026-12-24 16:00", 2 * time.Hour, "2026-12-29 10:00"},
		{"zero is at once even at night", "2026-11-28 03:00", 0, "2026-11-28 03:00"},
		// Clocks go forward on Sunday 29 March 2026 (CET → CEST): Friday
		// 16:00 CET + 4h is Monday 12:00 CEST, only 67 wall hours later.
		{"across spring DST change", "2026-03-27 16:00", 4 * time.Hour, "2026-03-30 12:00"},
		// Clocks go back on Sunday 25 October 2026.
		{"across autumn DST change", "2026-10-23 16:00", 4 * time.Hour, "2026-10-26 12:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, want := berlin(t, tc.start), berlin(t, tc.want)
			got := c.Add(start, tc.after)
			if !got.Equal(want) {
				t.Errorf("Add(%s, %s) = %s, want %s", start, tc.after, got.In(want.Location()), want)
			}
			if tc.after > 0 {
				if back := c.Between(start, got); back != tc.after {
					t.Errorf("Between(%s, %s) = %s, want %s", start, got, back, tc.after)
				}
			}
		})
	}
}

// The UTC instants of the DST cases, so a wrong zone cannot hide behind
// a wrong expectation in the same zone.
func TestAddAcrossDSTInUTC(t *testing.T) {
	c := office(t)
	got := c.Add(time.Date(2026, 3, 27, 15, 0, 0, 0, time.UTC), 4*time.Hour) // Fri 16:00 CET
	if want := time.Date(2026, 3, 30, 10, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("spring: %s, want %s (Mon 12:00 CEST)", got.UTC(), want)
	}
	got = c.Add(time.Date(2026, 10, 23, 14, 0, 0, 0, time.UTC), 4*time.Hour) // Fri 16:00 CEST
	if want := time.Date(2026, 10, 26, 11, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("autumn: %s, want %s (Mon 12:00 CET)", got.UTC(), want)
	}
}

// Opening hours that span the change: the night of 28/29 March has one
// real hour less, 24/25 October one more.
func TestHoursSpanningDSTChange(t *testing.T) {
	c, err := New("night", Spec{Timezone: "Europe/Berlin", Hours: map[string]string{"sun": "00:00-06:00"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Between(berlin(t, "2026-03-29 00:00"), berlin(t, "2026-03-29 12:00")); got != 5*time.Hour {
		t.Errorf("spring night = %s, want 5h", got)
	}
	if got := c.Between(berlin(t, "2026-10-25 00:00"), berlin(t, "2026-10-25 12:00")); got != 7*time.Hour {
		t.Errorf("autumn night = %s, want 7h", got)
	}
	// 5h30m of business time from midnight on the short night ends the
	// following Sunday at 00:30.
	if got, want := c.Add(berlin(t, "2026-03-29 00:00"), 5*time.Hour+30*time.Minute), berlin(t, "2026-04-05 00:30"); !got.Equal(want) {
		t.Errorf("Add over short night = %s, want %s", got, want)
	}
}

func TestSplitHoursAndIsOpen(t *testing.T) {
	c, err := New("lunch", Spec{Timezone: "America/New_York", Hours: map[string]string{"Monday": "08:00-12:00, 13:00-17:00"}})
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	mon := func(h, m int) time.Time { return time.Date(2026, 11, 23, h, m, 0, 0, ny) }
	if got := c.Add(mon(11, 0), 2*time.Hour); !got.Equal(mon(14, 0)) {
		t.Errorf("over lunch = %s, want 14:00", got)
	}
	for _, tc := range []struct {
		at   time.Time
		open bool
	}{{mon(7, 59), false}, {mon(8, 0), true}, {mon(12, 30), false}, {mon(16, 59), true}, {mon(17, 0), false}, {mon(25, 0), false}} {
		if c.IsOpen(tc.at) != tc.open {
			t.Errorf("IsOpen(%s) = %v", tc.at, !tc.open)
		}
	}
}

func Test24x7(t *testing.T) {
	var c *Calendar
	start := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	if got := c.Add(start, 4*time.Hour); !got.Equal(start.Add(4 * time.Hour)) {
		t.Errorf("24x7 Add = %s", got)
	}
	if c.Name() != "24x7" || !c.IsOpen(start) {
		t.Error("nil calendar is not 24x7")
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
	}{
		{"no zone", Spec{Hours: map[string]string{"mon": "09:00-17:00"}}},
		{"bad zone", Spec{Timezone: "Mars/Olympus", Hours: map[string]string{"mon": "09:00-17:00"}}},
		{"bad day", Spec{Timezone: "UTC", Hours: map[string]string{"funday": "09:00-17:00"}}},
		{"bad span", Spec{Timezone: "UTC", Hours: map[string]string{"mon": "17:00-09:00"}}},
		{"bad clock", Spec{Timezone: "UTC", Hours: map[string]string{"mon": "9-17"}}},
		{"overlap", Spec{Timezone: "UTC", Hours: map[string]string{"mon": "09:00-13:00,12:00-17:00"}}},
		{"bad holiday", Spec{Timezone: "UTC", Hours: map[string]string{"mon": "09:00-17:00"}, Holidays: []string{"25.12.2026"}}},
	} {
		if _, err := New("x", tc.spec); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := New("x", Spec{Timezone: "UTC", Hours: map[string]string{"sat": "closed"}}); !errors.Is(err, ErrNoHours) {
		t.Errorf("never open: %v, want ErrNoHours", err)
	}
}
