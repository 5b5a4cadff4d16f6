// Package casegate holds the database schema shared by every package of the
// gateway and the code that applies it. The packages themselves live in
// mailin (receiving), threads (cases), mailout (sending) and templates.
package casegate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

//go:embed schema.sql
var schemaSQL string

// functionsSQL is the server-side code of filing (functions.sql): applied
// whole whenever it changes, after the migrations.
//
//go:embed functions.sql
var functionsSQL string

// FunctionsHash identifies the functions.sql this binary was built with.
func FunctionsHash() string {
	sum := sha256.Sum256([]byte(functionsSQL))
	return hex.EncodeToString(sum[:])
}

// Migration is one numbered section of schema.sql.
type Migration struct {
	Version int
	SQL     string
}

// Sentinel errors of CheckSchema.
var (
	ErrSchemaBehind = errors.New("casegate: database schema is older than this binary; run `casegate migrate`")
	ErrSchemaAhead  = errors.New("casegate: database schema is newer than this binary; upgrade casegate")
)

// Migrations splits schema.sql into its "-- migrate: N" sections, in order.
func Migrations() ([]Migration, error) {
	var out []Migration
	for _, line := range strings.SplitAfter(schemaSQL, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- migrate:"); ok {
			v, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				return nil, fmt.Errorf("schema.sql: bad migrate line %q", strings.TrimSpace(line))
			}
			if len(out) > 0 && v <= out[len(out)-1].Version || v < 1 {
				return nil, fmt.Errorf("schema.sql: migration %d out of order", v)
			}
			out = append(out, Migration{Version: v})
			continue
		}
		if len(out) > 0 {
			out[len(out)-1].SQL += line
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this binary needs.
func SchemaVersion() int {
	m, err := Migrations()
	if err != nil || len(m) == 0 {
		return 0
	}
	return m[len(m)-1].Version
}

// schemaLockKey serialises concurrent `casegate migrate` runs.
const schemaLockKey = 0x63617365 // "case"

// Migrate brings the database up to SchemaVersion. It is idempotent and safe
// to run from several processes at once: each migration commits on its own
// under a transaction-scoped advisory lock. It returns the versions applied.
func Migrate(ctx context.Context, db *sql.DB) ([]int, error) {
	migrations, err := Migrations()
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("create schema_version: %w", err)
	}
	var applied []int
	for _, m := range migrations {
		done, err := applyMigration(ctx, db, m)
		if err != nil {
			return applied, fmt.Errorf("migration %d: %w", m.Version, err)
		}
		if done {
			applied = append(applied, m.Version)
		}
	}
	if err := applyFunctions(ctx, db); err != nil {
		return applied, fmt.Errorf("functions.sql: %w", err)
	}
	return applied, nil
}

// applyFunctions runs functions.sql when the database holds another
// version of it, under the migrations' lock, and records its hash.
func applyFunctions(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLockKey); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_functions (
		sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	current, err := functionsHash(ctx, tx)
	if err != nil || current == FunctionsHash() {
		return err
	}
	if _, err := tx.ExecContext(ctx, functionsSQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_functions`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_functions (sha256) VALUES ($1)`, FunctionsHash()); err != nil {
		return err
	}
	return tx.Commit()
}

// functionsHash returns the hash of the functions.sql the database runs,
// "" when none was applied.
func functionsHash(ctx context.Context, q queryer) (string, error) {
	var exists bool
	if err := q.QueryRowContext(ctx, `SELECT to_regclass('schema_functions') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return "", err
	}
	var h sql.NullString
	err := q.QueryRowContext(ctx, `SELECT max(sha256) FROM schema_functions`).Scan(&h)
	return h.String, err
}

func applyMigration(ctx context.Context, db *sql.DB, m Migration) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLockKey); err != nil {
		return false, err
	}
	current, err := currentVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	if current >= m.Version {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, m.Version); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func currentVersion(ctx context.Context, q queryer) (int, error) {
	var v sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&v)
	return int(v.Int64), err
}

// CheckSchema reports whether the database is at exactly the version this
// binary was built for, so `serve` never runs against a schema it does not know.
func CheckSchema(ctx context.Context, db *sql.DB) error {
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return fmt.Errorf("%w (database has no casegate schema)", ErrSchemaBehind)
	}
	current, err := currentVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	switch want := SchemaVersion(); {
	case current < want:
		return fmt.Errorf("%w (database %d, binary %d)", ErrSchemaBehind, current, want)
	case current > want:
		return fmt.Errorf("%w (database %d, binary %d)", ErrSchemaAhead, current, want)
	}
	// The same schema version with other server functions: a binary of
	// another build migrated last, and filing would run its code.
	if h, err := functionsHash(ctx, db); err != nil {
		return fmt.Errorf("read schema functions: %w", err)
	} else if h != FunctionsHash() {
		return fmt.Errorf("%w (its server functions are not this binary's functions.sql)", ErrSchemaBehind)
	}
	return nil
}
