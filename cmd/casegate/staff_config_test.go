package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestStaffConfigKeys(t *testing.T) {
	load := func(staffKeys string) (*Config, error) {
		path := filepath.Join(t.TempDir(), "casegate.toml")
		os.WriteFile(path, []byte(fmt.Sprintf(staffTestConfig, "postgres://x@127.0.0.1/x", staffKeys)), 0o600)
		return loadConfig(path, func(string) string { return "" })
	}
	c, err := load(`trusted_networks = ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
authserv_id = "mx.example.com"
show_names = true
add_cc_participants = true`)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")}
	if !reflect.DeepEqual(c.Staff.trusted, want) || c.Staff.AuthservID != "mx.example.com" || !c.Staff.ShowNames || !c.Staff.AddCCParticipants {
		t.Errorf("staff config = %+v", c.Staff)
	}
	if got := staffAddresses(c); !reflect.DeepEqual(got, []string{"alice@example.com", "bob@example.com"}) || prAddress(c) != "pr@example.com" {
		t.Errorf("staff directory = %v, PR = %q", got, prAddress(c))
	}
	for keys, key := range map[string]string{
		`trusted_networks = ["10.0.0.0/33"]`:   "staff.trusted_networks",
		`trusted_networks = ["intranet"]`:      "staff.trusted_networks",
		`authserv_id = "mx.example.com; evil"`: "staff.authserv_id",
	} {
		_, err := load(keys)
		var ce *configError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v, want a configuration error naming %s", keys, err, key)
		}
	}
}
