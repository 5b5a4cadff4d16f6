package templates

import (
	"testing"
	"time"
	_ "time/tzdata"
)

func TestMomentInWords(t *testing.T) {
	berlin, err := LoadZone("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	kolkata, _ := LoadZone("UTC+05:30")
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) // Monday 10:00 in Berlin
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		at   time.Time
		zone *time.Location
		lang string
		got  func(Moment) string
		want string
	}{
		{at("2026-11-30T12:00:00Z"), berlin, "en", Moment.Date, "Monday 30 November, 13:00 CET"},
		{at("2026-11-30T12:00:00Z"), berlin, "de", Moment.Date, "Montag, 30. November, 13:00 Uhr MEZ"},
		{at("2026-11-30T12:00:00Z"), berlin, "de-at", Moment.Date, "Montag, 30. November, 13:00 Uhr MEZ"},
		{at("2026-11-30T12:00:00Z"), berlin, "fr", Moment.Date, "Monday 30 November, 13:00 CET"}, // no French words: English
		{at("2027-07-01T12:00:00Z"), berlin, "en", Moment.Date, "Thursday 1 July 2027, 14:00 CEST"},
		{at("2027-07-01T12:00:00Z"), berlin, "de", Moment.Clock, "14:00 Uhr MESZ"},
		{at("2026-11-30T12:00:00Z"), kolkata, "en", Moment.Date, "Monday 30 November, 17:30 UTC+05:30"},
		{at("2026-11-30T12:00:00Z"), nil, "en", Moment.Clock, "12:00 UTC"},
		{at("2026-11-30T14:00:00Z"), berlin, "en", Moment.When, "today at 15:00 CET"},
		{at("2026-12-01T08:00:00Z"), berlin, "en", Moment.When, "tomorrow at 09:00 CET"},
		{at("2026-11-29T08:00:00Z"), berlin, "en", Moment.When, "yesterday at 09:00 CET"},
		{at("2026-12-03T08:00:00Z"), berlin, "en", Moment.When, "on Thursday 3 December at 09:00 CET"},
		{at("2026-12-01T08:00:00Z"), berlin, "de", Moment.When, "morgen um 09:00 Uhr MEZ"},
		{at("2026-12-03T08:00:00Z"), berlin, "de", Moment.When, "am Donnerstag, 3. Dezember, um 09:00 Uhr MEZ"},
		{at("2026-11-30T14:00:00Z"), berlin, "en", Moment.By, "by 15:00 CET today"},
		{at("2026-12-01T08:00:00Z"), berlin, "en", Moment.By, "by 09:00 CET tomorrow"},
		{at("2026-12-03T08:00:00Z"), berlin, "en", Moment.By, "by Thursday 3 December, 09:00 CET"},
		{at("2026-12-03T08:00:00Z"), berlin, "de", Moment.By, "bis Donnerstag, 3. Dezember, 09:00 Uhr MEZ"},
		{at("2026-11-30T08:59:40Z"), berlin, "en", Moment.Ago, "just now"},
		{at("2026-11-30T08:59:00Z"), berlin, "en", Moment.Ago, "a minute ago"},
		{at("2026-11-30T08:15:00Z"), berlin, "en", Moment.Ago, "45 minutes ago"},
		{at("2026-11-30T06:00:00Z"), berlin, "en", Moment.Ago, "3 hours ago"},
		{at("2026-11-29T06:00:00Z"), berlin, "en", Moment.Ago, "yesterday"},
		{at("2026-11-27T09:00:00Z"), berlin, "en", Moment.Ago, "3 days ago"},
		{at("2026-11-13T09:00:00Z"), berlin, "en", Moment.Ago, "2 weeks ago"},
		{at("2026-07-30T09:00:00Z"), berlin, "en", Moment.Ago, "4 months ago"},
		{at("2026-12-03T09:00:00Z"), berlin, "en", Moment.Ago, "in 3 days"},
		{at("2026-11-30T10:00:00Z"), berlin, "en", Moment.Ago, "in an hour"},
		{at("2026-11-27T09:00:00Z"), berlin, "de", Moment.Ago, "vor 3 Tagen"},
		{at("2026-11-30T08:00:00Z"), berlin, "de", Moment.Ago, "vor einer Stunde"},
		{at("2026-11-29T06:00:00Z"), berlin, "de", Moment.Ago, "gestern"},
		{at("2026-12-01T09:00:00Z"), berlin, "de", Moment.Ago, "morgen"},
	}
	for _, tt := range tests {
		m := NewMoment(tt.at, tt.zone, now)
		m.lang = tt.lang
		if got := tt.got(*m); got != tt.want {
			t.Errorf("%s in %v (%s) = %q, want %q", tt.at, tt.zone, tt.lang, got, tt.want)
		}
	}
	if NewMoment(time.Time{}, berlin, now) != nil {
		t.Error("a zero time must give no Moment")
	}
}

// The case's zone: the configured one, unless the customer's own Date
// offset says otherwise; +0000 and -0000 say nothing.
func TestCaseZone(t *testing.T) {
	berlin, _ := LoadZone("Europe/Berlin")
	date := func(s string) time.Time {
		v, err := time.Parse(time.RFC1123Z, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range []struct {
		zone *time.Location
		sent time.Time
		want string
	}{
		{berlin, time.Time{}, "Europe/Berlin"},
		{berlin, date("Mon, 30 Nov 2026 10:00:00 +0100"), "Europe/Berlin"},
		{berlin, date("Wed, 01 Jul 2026 10:00:00 +0200"), "Europe/Berlin"}, // summer time is Berlin too
		{berlin, date("Mon, 30 Nov 2026 10:00:00 +0000"), "Europe/Berlin"},
		{berlin, date("Mon, 30 Nov 2026 10:00:00 -0000"), "Europe/Berlin"},
		{berlin, date("Mon, 30 Nov 2026 10:00:00 +0530"), "UTC+05:30"},
		{berlin, date("Mon, 30 Nov 2026 10:00:00 -0300"), "UTC-03:00"},
		{nil, date("Mon, 30 Nov 2026 10:00:00 +0100"), "UTC+01:00"},
		{nil, time.Time{}, "UTC"},
	} {
		if got := CaseZone(tt.zone, tt.sent); got != tt.want {
			t.Errorf("CaseZone(%v, %v) = %q, want %q", tt.zone, tt.sent, got, tt.want)
		}
		if _, err := LoadZone(CaseZone(tt.zone, tt.sent)); err != nil {
			t.Errorf("LoadZone(%q): %v", CaseZone(tt.zone, tt.sent), err)
		}
	}
	if z, err := LoadZone("UTC-03:00"); err != nil || ZoneName(time.Date(2026, 1, 1, 0, 0, 0, 0, z)) != "UTC-03:00" {
		t.Errorf("LoadZone(UTC-03:00) = %v, %v", z, err)
	}
	for _, bad := range []string{"UTC+25:00", "Mars/Olympus", "UTC+5"} {
		if _, err := LoadZone(bad); err == nil {
			t.Errorf("LoadZone(%q) accepted", bad)
		}
	}
}
