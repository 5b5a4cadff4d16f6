package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

const exampleConfig = "../../etc/casegate.example.toml"

// TestExampleConfigLoads checks that the example `make install` puts in
// /etc/casegate passes validation as shipped, beside the staff-secret file
// make install creates.
func TestExampleConfigLoads(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "casegate.toml")
	os.WriteFile(path, b, 0o640)
	os.WriteFile(filepath.Join(dir, "staff-secret"), []byte("bm90IGEgcmVhbCBzZWNyZXQsIGEgdGVzdCBvbmUh\n"), 0o640)
	c, err := loadConfig(path, func(string) string { return "" })
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if c.Staff.Secret != "bm90IGEgcmVhbCBzZWNyZXQsIGEgdGVzdCBvbmUh" {
		t.Errorf("secret from secret_file = %q", c.Staff.Secret)
	}
}

var commentedKey = regexp.MustCompile(`(?m)^# ([a-z_]+ = .*|\[\[[a-z_]+\]\])$`)

// TestExampleConfigNamesEveryKey uncomments every "# key = value" line of
// the example and checks that the result decodes into Config without an
// unknown key and mentions every key Config has: a key added to Config
// must be documented in the example.
func TestExampleConfigNamesEveryKey(t *testing.T) {
	b, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	text := commentedKey.ReplaceAllString(string(b), "$1")
	var c Config
	dec := toml.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("uncommented example does not decode (or names unknown keys): %v", err)
	}
	var tree map[string]any
	if err := toml.Unmarshal([]byte(text), &tree); err != nil {
		t.Fatal(err)
	}
	for _, key := range configKeys(reflect.TypeOf(Config{}), nil) {
		if !definedIn(tree, key) {
			t.Errorf("example does not document %s", strings.Join(key, "."))
		}
	}
}

// definedIn reports whether the decoded TOML tree holds key; in an array of
// tables, any element will do.
func definedIn(tree any, key []string) bool {
	if len(key) == 0 {
		return true
	}
	switch v := tree.(type) {
	case map[string]any:
		next, ok := v[key[0]]
		return ok && definedIn(next, key[1:])
	case []any:
		for _, e := range v {
			if definedIn(e, key) {
				return true
			}
		}
	}
	return false
}

// configKeys lists the TOML keys of a config struct, tables recursed.
func configKeys(t reflect.Type, prefix []string) [][]string {
	var out [][]string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := append(append([]string(nil), prefix...), name)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration{}) {
			out = append(out, configKeys(f.Type, key)...)
			continue
		}
		out = append(out, key)
	}
	return out
}
