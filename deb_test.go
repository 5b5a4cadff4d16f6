package casegate_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (dpkg is on every Debian; make test installs systemd and man-db): %v", name, err)
	}
	return p
}

func runOK(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out.String(), stderr.String())
	}
	return out.String() + stderr.String()
}

// TestDebianPackage builds the package with make deb and checks what an
// admin gets: its control fields, every file with its owner and mode, the
// conffile, maintainer scripts that never start or enable the service, a
// unit that verifies, a binary that runs, man pages man reads. Then it
// installs the package into a scratch root with dpkg (the maintainer
// scripts run against that root through DPKG_ROOT), and checks the user,
// the directories and the secret it made; that reinstalling keeps the
// admin's configuration; and that remove and purge clean up.
func TestDebianPackage(t *testing.T) {
	dpkgDeb, dpkg := tool(t, "dpkg-deb"), tool(t, "dpkg")
	out := t.TempDir()
	cmd := exec.Command("make", "-s", "deb")
	cmd.Env = append(os.Environ(), "DEB_OUT="+out, "DEB_VERSION=1.2.3~test")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make deb: %v\n%s", err, b)
	}
	debs, _ := filepath.Glob(filepath.Join(out, "casegate_1.2.3~test_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb made %v", debs)
	}
	deb := debs[0]

	info := runOK(t, dpkgDeb, "-I", deb)
	for _, want := range []string{"Package: casegate", "Version: 1.2.3~test", "Depends: systemd", "Section: mail",
		"Description: email-driven case gateway", "conffiles", "postinst", "prerm", "postrm"} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb -I lacks %q:\n%s", want, info)
		}
	}
	contents := runOK(t, dpkgDeb, "-c", deb)
	for path, mode := range map[string]string{
		"./usr/bin/casegate":                              "-rwxr-xr-x root/root",
		"./usr/lib/systemd/system/casegate.service":       "-rw-r--r-- root/root",
		"./usr/lib/sysusers.d/casegate.conf":              "-rw-r--r-- root/root",
		"./usr/lib/tmpfiles.d/casegate.conf":              "-rw-r--r-- root/root",
		"./etc/casegate/casegate.toml":                    "-rw-r----- root/root",
		"./usr/share/man/man8/casegate.8.gz":              "-rw-r--r-- root/root",
		"./usr/share/man/man5/casegate.toml.5.gz":         "-rw-r--r-- root/root",
		"./usr/share/doc/casegate/README.md.gz":           "-rw-r--r-- root/root",
		"./usr/share/doc/casegate/copyright":              "-rw-r--r-- root/root",
		"./usr/share/doc/casegate/casegate.example.toml":  "-rw-r--r-- root/root",
		"./usr/share/casegate/monitoring/alerts.yml":      "-rw-r--r-- root/root",
		"./usr/share/casegate/monitoring/dashboard.json":  "-rw-r--r-- root/root",
		"./usr/share/casegate/monitoring/alerts_test.yml": "-rw-r--r-- root/root",
	} {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(mode) + ` +\d+ [0-9-]+ [0-9:]+ ` + regexp.QuoteMeta(path) + `$`)
		if !re.MatchString(contents) {
			t.Errorf("package lacks %s as %s", path, mode)
		}
	}
	if strings.Contains(contents, "./usr/local/") || strings.Contains(contents, "./etc/systemd/") {
		t.Errorf("package installs outside Debian's places:\n%s", contents)
	}

	control := t.TempDir()
	runOK(t, dpkgDeb, "-e", deb, control)
	if b, _ := os.ReadFile(filepath.Join(control, "conffiles")); string(b) != "/etc/casegate/casegate.toml\n" {
		t.Errorf("conffiles = %q", b)
	}
	startsService := regexp.MustCompile(`systemctl\s+(enable|start|--now)|deb-systemd-invoke\s+start|invoke-rc\.d`)
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		p := filepath.Join(control, s)
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v %v, want an executable script", s, fi, err)
			continue
		}
		runOK(t, "sh", "-n", p)
		b, _ := os.ReadFile(p)
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "echo ") {
				continue // advice to the admin, not a command
			}
			if startsService.MatchString(line) {
				t.Errorf("%s enables or starts the service: %s", s, line)
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(control, "postinst")); !bytes.Contains(b, []byte("systemd-sysusers")) || !bytes.Contains(b, []byte("systemd-tmpfiles")) {
		t.Errorf("postinst makes no user or directories:\n%s", b)
	}

	// The files themselves: the unit verifies against the packaged binary,
	// which runs; man reads the pages.
	files := t.TempDir()
	runOK(t, dpkgDeb, "-x", deb, files)
	bin := filepath.Join(files, "usr/bin/casegate")
	if v := runOK(t, bin, "version"); !strings.HasPrefix(v, "casegate ") {
		t.Errorf("packaged binary says %q", v)
	}
	unit, _ := os.ReadFile(filepath.Join(files, "usr/lib/systemd/system/casegate.service"))
	if !bytes.Contains(unit, []byte("ExecStart=/usr/bin/casegate serve")) || bytes.Contains(unit, []byte("/usr/local")) {
		t.Errorf("packaged unit does not run /usr/bin/casegate:\n%s", unit)
	}
	check := filepath.Join(t.TempDir(), "casegate.service")
	os.WriteFile(check, bytes.ReplaceAll(unit, []byte("/usr/bin/casegate"), []byte(bin)), 0o644)
	if v := runOK(t, tool(t, "systemd-analyze"), "verify", "--man=no", check); strings.TrimSpace(v) != "" {
		t.Errorf("packaged unit: %s", v)
	}
	for _, page := range []string{"usr/share/man/man8/casegate.8.gz", "usr/share/man/man5/casegate.toml.5.gz"} {
		if v := runOK(t, tool(t, "man"), "-E", "UTF-8", "-l", filepath.Join(files, page)); !strings.Contains(v, "casegate") {
			t.Errorf("man %s: %q", page, v)
		}
	}

	if os.Getuid() != 0 {
		t.Log("not root: the package is not installed into a scratch root (its files and scripts were checked above)")
		return
	}
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
	dpkgIn := func(args ...string) string {
		t.Helper()
		// Scripts run outside a chroot with DPKG_ROOT set (the scratch root
		// has no shell); systemd is not installed in it.
		return runOK(t, dpkg, append([]string{"--root=" + root, "--force-script-chrootless", "--force-depends"}, args...)...)
	}
	dpkgIn("-i", deb)
	if s := dpkgIn("-s", "casegate"); !strings.Contains(s, "Status: install ok installed") {
		t.Fatalf("not installed:\n%s", s)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	group, _ := os.ReadFile(filepath.Join(root, "etc/group"))
	m := regexp.MustCompile(`(?m)^casegate:x:\d+:(\d+):[^:]*:/var/lib/casegate:`).FindSubmatch(passwd)
	if m == nil || !bytes.Contains(group, []byte("casegate:x:"+string(m[1])+":")) {
		t.Fatalf("no casegate user and group:\n%s\n%s", passwd, group)
	}
	gid := string(m[1])
	stat := func(p string) (os.FileMode, string) {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return fi.Mode(), strconv.FormatUint(uint64(fi.Sys().(*syscall.Stat_t).Gid), 10)
	}
	for p, want := range map[string]os.FileMode{"etc/casegate": os.ModeDir | 0o750, "etc/casegate/casegate.toml": 0o640,
		"etc/casegate/staff-secret": 0o640, "var/lib/casegate": os.ModeDir | 0o750} {
		mode, g := stat(p)
		if mode != want || g != gid {
			t.Errorf("%s: %v group %s, want %v group casegate (%s)", p, mode, g, want, gid)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/casegate/staff-secret")); len(bytes.TrimSpace(b)) < 40 {
		t.Errorf("staff-secret = %q, want a random key", b)
	}

	// The admin edits the configuration; the same package again keeps it,
	// and keeps the key.
	conf := filepath.Join(root, "etc/casegate/casegate.toml")
	os.WriteFile(conf, []byte("# the admin's own\n"), 0o640)
	key, _ := os.ReadFile(filepath.Join(root, "etc/casegate/staff-secret"))
	dpkgIn("-i", deb)
	if b, _ := os.ReadFile(conf); string(b) != "# the admin's own\n" {
		t.Errorf("reinstalling replaced the configuration: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/casegate/staff-secret")); !bytes.Equal(b, key) {
		t.Error("reinstalling changed the reply-token key")
	}

	dpkgIn("-r", "casegate")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/casegate")); !os.IsNotExist(err) {
		t.Errorf("remove left the binary: %v", err)
	}
	if _, err := os.Stat(conf); err != nil {
		t.Errorf("remove took the configuration: %v", err)
	}
	dpkgIn("-P", "casegate")
	for _, p := range []string{"etc/casegate/casegate.toml", "etc/casegate/staff-secret"} {
		if _, err := os.Stat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("purge left %s: %v", p, err)
		}
	}
}
