package sqlfile

import (
	"strings"
	"testing"
)

const src = `-- name: one
SELECT 1;
-- name: two
SELECT 2;
`

type both struct {
	One Query `query:"one"`
	Two Query `query:"two"`
}

func TestBindFillsEveryField(t *testing.T) {
	var q both
	if err := Bind(src, &q); err != nil {
		t.Fatal(err)
	}
	if q.One.Name != "one" || strings.TrimSpace(q.Two.SQL) != "SELECT 2;" {
		t.Fatalf("bound %+v", q)
	}
}

// A field naming a query the file lacks, or a query no field names, stops
// the program at start: neither can reach production.
func TestBindRefusesUnknownAndUnusedNames(t *testing.T) {
	var typo struct {
		One Query `query:"one"`
		Two Query `query:"tow"`
	}
	if err := Bind(src, &typo); err == nil || !strings.Contains(err.Error(), `"tow"`) {
		t.Fatalf("typo: %v", err)
	}
	var short struct {
		One Query `query:"one"`
	}
	if err := Bind(src, &short); err == nil || !strings.Contains(err.Error(), `"two" is not used`) {
		t.Fatalf("unused query: %v", err)
	}
	if _, err := Parse(src + "-- name: one\nSELECT 3;\n"); err == nil {
		t.Fatal("a name defined twice was accepted")
	}
}
