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

// queries are the statements of queries.sql; a field naming no query, or
// a query no field names, stops New.
type queries struct {
	ListCases         sqlfile.Query `query:"list-cases"`
	CaseHeader        sqlfile.Query `query:"case-header"`
	CaseParticipants  sqlfile.Query `query:"case-participants"`
	CaseMessages      sqlfile.Query `query:"case-messages"`
	CaseEvents        sqlfile.Query `query:"case-events"`
	MessageRaw        sqlfile.Query `query:"message-raw"`
	ListQuarantine    sqlfile.Query `query:"list-quarantine"`
	ReportCases       sqlfile.Query `query:"report-cases"`
	ReportEscalations sqlfile.Query `query:"report-escalations"`
	ReportRatings     sqlfile.Query `query:"report-ratings"`
	ReportOpenAges    sqlfile.Query `query:"report-open-ages"`
	ReportStaff       sqlfile.Query `query:"report-staff"`
	ReportAssigned    sqlfile.Query `query:"report-assigned"`
	SearchIndex       sqlfile.Query `query:"search-index"`
}

// Errors of the read side.
var (
	ErrBadFilter = errors.New("views: bad filter")
	ErrNoMessage = errors.New("views: no such message on the case")
)

// Reader reads cases, quarantine and reports from the database.
type Reader struct {
	db  *sqlx.DB
	q   queries
	now func() time.Time
}

// New returns a Reader on db; now is the clock (nil: time.Now), which
// decides what is overdue.
func New(db *sqlx.DB, now func() time.Time) (*Reader, error) {
	r := &Reader{db: db, now: now}
	if err := sqlfile.Bind(queriesSQL, &r.q); err != nil {
		return nil, fmt.Errorf("views/queries.sql: %w", err)
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}
