package threads

import (
	"errors"
	"strings"

	"casegate/templates"
)

// Settings are the parts of a Store's configuration that SIGHUP may replace
// while the gateway runs: mail being filed at that moment finishes with the
// settings it started with, the next message sees the new ones. Everything
// else in Options (database, support address, token secret) needs a restart.
type Settings struct {
	Templates *templates.Set
	// Staff lists the staff directory, lower-cased addresses.
	Staff []string
}

// Reload replaces the Store's reloadable settings at once. It refuses
// incomplete settings and then keeps the old ones.
func (s *Store) Reload(set Settings) error {
	if set.Templates == nil {
		return errors.New("threads: reload without templates")
	}
	staff := make([]string, len(set.Staff))
	for i, a := range set.Staff {
		staff[i] = strings.ToLower(strings.TrimSpace(a))
	}
	set.Staff = staff
	s.live.Store(&set)
	return nil
}

// Settings returns the settings in force now.
func (s *Store) Settings() Settings { return *s.settings() }

// settings is read once per operation, so one message never mixes old and
// new settings.
func (s *Store) settings() *Settings {
	if set := s.live.Load(); set != nil {
		return set
	}
	// A Store not made by NewStore (tests of pure helpers): its Options.
	return &Settings{Templates: s.opts.Templates, Staff: s.opts.StaffAddresses}
}
