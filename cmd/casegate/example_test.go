package main

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

const exampleConfig = "../../etc/casegate.example.toml"

// TestExampleConfigLoads checks that the example `make install` puts in
// /etc/casegate passes validation as shipped (with the staff secret from the
// environment, as the README recommends).
func TestExampleConfigLoads(t *testing.T) {
	env := map[string]string{"CASEGATE_STAFF_SECRET": "0123456789abcdef0123"}
	if _, err := loadConfig(exampleConfig, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("example config: %v", err)
	}
}

var commentedKey = regexp.MustCompile(`(?m)^# ([a-z_]+ = .*)$`)

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
	md, err := toml.Decode(text, &c)
	if err != nil {
		t.Fatalf("uncommented example does not decode: %v", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		t.Errorf("example names unknown keys: %v", und)
	}
	for _, key := range configKeys(reflect.TypeOf(Config{}), nil) {
		if !md.IsDefined(key...) {
			t.Errorf("example does not document %s", strings.Join(key, "."))
		}
	}
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
