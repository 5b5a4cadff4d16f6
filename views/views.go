// Package views is casegate's read side: case listings and case views
// (`casegate cases`, `casegate case show|raw|attachment`), quarantine
// listings and the reports (`casegate report`, the report metrics, the
// weekly report mail). It only reads; every change goes through threads,
// so filing and the read side can change apart (DESIGN.md, "A read side").
package views

import (
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"casegate/internal/sqlfile"
)

//go:embed queries.sql
var queriesSQL string

// queryNames are the queries of queries.sql; a name missing there, or one
// there that is not listed, stops New.
var queryNames = []string{
	"list-cases", "case-header", "case-participants", "case-messages", "case-events", "message-raw",
	"list-quarantine",
	"report-cases", "report-escalations", "report-ratings", "report-open-ages", "report-staff", "report-assigned",
}

// Errors of the read side.
var (
	ErrBadFilter = errors.New("views: bad filter")
	ErrNoMessage = errors.New("views: no such message on the case")
)

// Reader reads cases, quarantine and reports from the database.
type Reader struct {
	db  *sqlx.DB
	q   map[string]string
	now func() time.Time
}

// New returns a Reader on db; now is the clock (nil: time.Now), which
// decides what is overdue.
func New(db *sqlx.DB, now func() time.Time) (*Reader, error) {
	q, err := sqlfile.Parse(queriesSQL, queryNames...)
	if err != nil {
		return nil, fmt.Errorf("views/queries.sql: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Reader{db: db, q: q, now: now}, nil
}
