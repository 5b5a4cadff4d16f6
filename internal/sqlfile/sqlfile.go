// Package sqlfile reads named queries from a .sql file: each query starts
// with a line "-- name: some-name" and runs to the next such line.
package sqlfile

import (
	"fmt"
	"strings"
)

// Parse returns the queries of src by name. It fails on a duplicate name,
// an empty query, or a name that want does not list (so a typo in a .sql
// file stops the program at start), and on a name of want that is missing.
func Parse(src string, want ...string) (map[string]string, error) {
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
	known := make(map[string]bool, len(want))
	for _, w := range want {
		known[w] = true
		if strings.TrimSpace(out[w]) == "" {
			return nil, fmt.Errorf("query %q missing or empty", w)
		}
	}
	for n := range out {
		if !known[n] {
			return nil, fmt.Errorf("query %q is not used", n)
		}
	}
	return out, nil
}
