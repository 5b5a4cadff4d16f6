package main

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"casegate/mailout"
	"casegate/templates"
	"casegate/threads"
)

// FollowupConfig is [followup]: what happens after a case is resolved.
type FollowupConfig struct {
	Delay           Duration `toml:"delay"`              // default 72h: resolution → "did this fix it?"
	CloseAfter      Duration `toml:"close_after"`        // default 168h: unanswered follow-up → closed
	ReopenAtOrBelow *int     `toml:"reopen_at_or_below"` // default 2: ratings at or below reopen the case
}

func (c *Config) validateFollowup() error {
	bad := func(key, format string, args ...any) error {
		return configErrorf("%s: %s: "+format, append([]any{c.path, key}, args...)...)
	}
	if l := c.Templates.DefaultLanguage; l != "" && !langTag.MatchString(strings.ToLower(l)) {
		return bad("templates.default_language", "%q: use a language tag such as de or pt-br", l)
	}
	f := &c.Followup
	if f.Delay.Duration < 0 {
		return bad("followup.delay", "must not be negative")
	}
	if f.CloseAfter.Duration < 0 {
		return bad("followup.close_after", "must not be negative")
	}
	if f.ReopenAtOrBelow != nil && (*f.ReopenAtOrBelow < 0 || *f.ReopenAtOrBelow > 5) {
		return bad("followup.reopen_at_or_below", "%d: use 0 (never) to 5", *f.ReopenAtOrBelow)
	}
	return nil
}

func (c *Config) followupOptions() threads.FollowupOptions {
	o := threads.FollowupOptions{Delay: c.Followup.Delay.Duration, CloseAfter: c.Followup.CloseAfter.Duration}
	if o.Delay == 0 {
		o.Delay = 72 * time.Hour
	}
	if o.CloseAfter == 0 {
		o.CloseAfter = 168 * time.Hour
	}
	o.ReopenAtOrBelow = 2
	if c.Followup.ReopenAtOrBelow != nil {
		o.ReopenAtOrBelow = *c.Followup.ReopenAtOrBelow
		if o.ReopenAtOrBelow == 0 {
			o.ReopenAtOrBelow = -1 // threads: 0 means the default
		}
	}
	return o
}

// validateTimeZone reads [templates] timezone, the zone customer mail
// shows times in: by default that of the business hours customers are
// promised a first answer in (the calendar of the first no_staff_reply
// rule), else UTC. A customer whose own mail carries another UTC offset
// gets times in that offset (templates.CaseZone).
func (c *Config) validateTimeZone() error {
	if c.Templates.TimeZone != "" {
		loc, err := templates.LoadZone(c.Templates.TimeZone)
		if err != nil {
			return configErrorf("%s: templates.timezone: %q: use an IANA zone such as Europe/Berlin, or UTC", c.path, c.Templates.TimeZone)
		}
		c.Templates.zone = loc
		return nil
	}
	c.Templates.zone = time.UTC
	for _, r := range c.rules {
		if r.When == threads.WhenNoStaffReply && r.Calendar != nil {
			c.Templates.zone = r.Calendar.Location()
			break
		}
	}
	return nil
}

// langTag is a language tag as template file names carry it.
var langTag = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{2,8})*$`)

// deliveryFailed is the Sender's OnFailed: staff get a notice, queued in a
// transaction of its own (threads/admin.go). It runs on the sender's
// goroutine, so it is bounded; a failure to queue the notice is logged
// here, where it is handled, and the failed delivery stays listed by
// `casegate outbox -failed`.
func deliveryFailed(store *threads.Store, log *slog.Logger, d mailout.FailedDelivery) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := store.DeliveryFailed(ctx, d); err != nil {
		log.Error("outbox: telling staff of a failed delivery failed", "delivery", d.DeliveryID, "recipient", d.Recipient, "err", err)
	}
}
