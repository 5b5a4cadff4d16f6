// Package sqlfile turns the named queries of a .sql file into typed
// handles. Each query starts with a line "-- name: some-name" and runs to
// the next such line. A package declares its queries as a struct whose
// fields are Query values tagged with the name:
//
//	type queries struct {
//		FindCase sqlfile.Query `query:"find-case"`
//	}
//
// Bind fills the struct from the file and fails on a field naming no query
// and on a query no field names; Prepare also has PostgreSQL parse and
// plan every one. Code then calls q.FindCase, so a misspelt name does not
// compile, and a query that does not fit the schema stops the program at
// start (and every test) rather than failing when a customer's mail comes.
package sqlfile

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"

	"github.com/jmoiron/sqlx"
)

// Query is one named query: its text and, after Prepare, its prepared
// statement.
type Query struct {
	Name     string
	SQL      string
	prepared *sqlx.Stmt
	on       *sqlx.DB // the pool prepared belongs to
}

// Parse returns the queries of src by name. It fails on a duplicate name
// or an empty query.
func Parse(src string) (map[string]string, error) {
	out := make(map[string]string)
	var name string
	for _, line := range strings.SplitAfter(src, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
			name = strings.TrimSpace(rest)
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("query %q defined twice", name)
			}
			out[name] = ""
			continue
		}
		if name != "" {
			out[name] += line
		}
	}
	for n, q := range out {
		if strings.TrimSpace(q) == "" {
			return nil, fmt.Errorf("query %q is empty", n)
		}
	}
	return out, nil
}

// Bind fills the Query fields of dest (a pointer to a struct) from src by
// their `query` tags. Every field must name a query of src and every query
// of src must be named by a field.
func Bind(src string, dest any) error {
	byName, err := Parse(src)
	if err != nil {
		return err
	}
	v := reflect.ValueOf(dest)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("sqlfile: Bind needs a pointer to a struct, not %T", dest)
	}
	v = v.Elem()
	used := make(map[string]bool)
	queryType := reflect.TypeOf(Query{})
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		name, ok := f.Tag.Lookup("query")
		if !ok {
			continue
		}
		if f.Type != queryType {
			return fmt.Errorf("sqlfile: field %s is tagged but is not a sqlfile.Query", f.Name)
		}
		text, ok := byName[name]
		if !ok {
			return fmt.Errorf("sqlfile: field %s names query %q, which the file does not have", f.Name, name)
		}
		used[name] = true
		v.Field(i).Set(reflect.ValueOf(Query{Name: name, SQL: text}))
	}
	for name := range byName {
		if !used[name] {
			return fmt.Errorf("sqlfile: query %q is not used by any field", name)
		}
	}
	return nil
}

// Prepare is Bind, then prepares every query on db. The statements stay
// prepared: PostgreSQL then neither parses nor plans them for every use,
// and each runs in one round trip (database/sql prepares them once on each
// pooled connection).
func Prepare(ctx context.Context, db *sqlx.DB, src string, dest any) error {
	if err := Bind(src, dest); err != nil {
		return err
	}
	v := reflect.ValueOf(dest).Elem()
	queryType := reflect.TypeOf(Query{})
	var prepared []*sqlx.Stmt
	for i := 0; i < v.NumField(); i++ {
		if v.Type().Field(i).Type != queryType {
			continue
		}
		q := v.Field(i).Addr().Interface().(*Query)
		st, err := db.PreparexContext(ctx, q.SQL)
		if err != nil {
			for _, p := range prepared {
				p.Close()
			}
			return fmt.Errorf("prepare %s: %w", q.Name, err)
		}
		q.prepared, q.on = st, db
		prepared = append(prepared, st)
	}
	return nil
}

// Runner is what a query runs on: the database, a transaction or one
// connection.
type Runner interface {
	sqlx.ExtContext
}

// stmt returns the prepared statement for use on r, or nil to run the text.
func (q *Query) stmt(ctx context.Context, r Runner) *sqlx.Stmt {
	if q.prepared == nil {
		return nil
	}
	switch r := r.(type) {
	case *sqlx.DB:
		if r == q.on {
			return q.prepared
		}
	case *sqlx.Tx:
		return r.StmtxContext(ctx, q.prepared)
	}
	return nil // another pool, or a connection: run the text
}

// Exec runs the query for its effect.
func (q *Query) Exec(ctx context.Context, r Runner, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, r); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return r.ExecContext(ctx, q.SQL, args...)
}

// QueryRow runs a query that returns at most one row.
func (q *Query) QueryRow(ctx context.Context, r Runner, args ...any) *sqlx.Row {
	if st := q.stmt(ctx, r); st != nil {
		return st.QueryRowxContext(ctx, args...)
	}
	return r.QueryRowxContext(ctx, q.SQL, args...)
}

// Query runs a query that returns rows.
func (q *Query) Query(ctx context.Context, r Runner, args ...any) (*sqlx.Rows, error) {
	if st := q.stmt(ctx, r); st != nil {
		return st.QueryxContext(ctx, args...)
	}
	return r.QueryxContext(ctx, q.SQL, args...)
}

// Get scans the one row into dest, a struct or a single value
// (sql.ErrNoRows when there is none).
func (q *Query) Get(ctx context.Context, r Runner, dest any, args ...any) error {
	if st := q.stmt(ctx, r); st != nil {
		return st.GetContext(ctx, dest, args...)
	}
	return sqlx.GetContext(ctx, r, dest, q.SQL, args...)
}

// Select scans every row into dest, a pointer to a slice.
func (q *Query) Select(ctx context.Context, r Runner, dest any, args ...any) error {
	if st := q.stmt(ctx, r); st != nil {
		return st.SelectContext(ctx, dest, args...)
	}
	return sqlx.SelectContext(ctx, r, dest, q.SQL, args...)
}
