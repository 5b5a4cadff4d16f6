package templates

import (
	"encoding/json"
	"time"
)

// A Moment travels as JSON in a committed mail intent (threads renders the
// mail after the commit), so it keeps its zone by name: an IANA zone
// ("Europe/Berlin", whose abbreviation follows daylight saving) or a fixed
// offset ("UTC+05:30").
type momentJSON struct {
	At   time.Time `json:"at"`
	Now  time.Time `json:"now"`
	Zone string    `json:"zone"`
}

// MarshalJSON writes the moment with the name of its zone.
func (m Moment) MarshalJSON() ([]byte, error) {
	return json.Marshal(momentJSON{At: m.At, Now: m.Now, Zone: m.At.Location().String()})
}

// UnmarshalJSON reads a moment written by MarshalJSON, in its zone again.
func (m *Moment) UnmarshalJSON(b []byte) error {
	var j momentJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	zone, err := LoadZone(j.Zone)
	if err != nil {
		zone = time.FixedZone(j.Zone, offsetOf(j.At))
	}
	m.At, m.Now = j.At.In(zone), j.Now.In(zone)
	return nil
}

func offsetOf(t time.Time) int {
	_, off := t.Zone()
	return off
}
