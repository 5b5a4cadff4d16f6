package mailin

import (
	"context"
	"testing"

	"casegate/internal/pgtest"
	"casegate/internal/sqlfile"
)

// Every query of queries.sql is named by a field and fits the migrated
// schema: PostgreSQL parses and plans each one.
func TestQueriesPrepare(t *testing.T) {
	var q imapQueries
	if err := sqlfile.Prepare(context.Background(), pgtest.DB(t), mailinQueriesSQL, &q); err != nil {
		t.Fatal(err)
	}
}
