package main

import (
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"casegate/internal/gatewaytest"
)

// Helpers of the tests here that run on casegate serve itself (and of the
// stories, until they move beside the code too). What internal/gatewaytest
// has (Outbox, Mail, To, GetCase, the test mails and checks of
// fixtures.go) they use from there.

// movableClock is a serve gateway's clock, moved by the test: a
// gatewaytest.Clock started at now on first use, so that a test may write
// &movableClock{now: t}.
type movableClock struct {
	now  time.Time
	once sync.Once
	c    *gatewaytest.Clock
}

func (c *movableClock) clock() *gatewaytest.Clock {
	c.once.Do(func() { c.c = gatewaytest.NewClock(c.now) })
	return c.c
}

// nowFunc is the clock for runGateway: c.Now, or nil (the wall clock)
// when c is nil.
func (c *movableClock) nowFunc() func() time.Time {
	if c == nil {
		return nil
	}
	return c.Now
}

func (c *movableClock) Now() time.Time      { return c.clock().Now() }
func (c *movableClock) Set(t time.Time)     { c.clock().Set(t) }
func (c *movableClock) Add(d time.Duration) { c.clock().Add(d) }

func statusOf(t *testing.T, db *sqlx.DB, id int64) string {
	t.Helper()
	return gatewaytest.GetCase(t, db, id).Status
}

// Fields of a mail as the Maildir sink writes it.
var (
	returnPathField = regexp.MustCompile(`(?m)^Return-Path: <([^>]*)>`)
	messageIDField  = regexp.MustCompile(`(?mi)^Message-Id: <([^>]*)>`)
)

// field is the first match of re's group in raw; the test fails without one.
func field(t *testing.T, re *regexp.Regexp, raw string) string {
	t.Helper()
	m := re.FindStringSubmatch(raw)
	if m == nil {
		t.Fatalf("no %s in:\n%s", re, raw)
	}
	return m[1]
}
