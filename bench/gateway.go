package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// gateway is a casegate process under test.
type gateway struct {
	cmd     *exec.Cmd
	addr    string
	http    string // the /metrics and /debug/pprof listener
	dbURL   string
	maildir string
	log     bytes.Buffer
}

const benchConfig = `
[database]
url = %q
max_connections = %d
[smtp]
listen = [%q]
domains = ["support.example.com"]
max_message_bytes = 67108864
max_connections_per_ip = -1  # the load generator is one IP
[addresses]
support = "Example Support <support@support.example.com>"
staff = ["alice@example.com"]
[staff]
secret = "benchmark-secret-0123456789"
[outbound]
%s
[http]
listen = %q
pprof = true  # scenario 1 can take a CPU profile (bench -profile)
[log]
level = "warn"
`

// startGateway migrates dbURL and runs `casegate serve` on a free port.
// outbound is the [outbound] body (a maildir or a smarthost).
func startGateway(ctx context.Context, e *env, dbURL, outbound string) (*gateway, error) {
	dir, err := os.MkdirTemp(e.work, "gw-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	g := &gateway{addr: fmt.Sprintf("127.0.0.1:%d", port), http: fmt.Sprintf("127.0.0.1:%d", httpPort), dbURL: dbURL, maildir: filepath.Join(dir, "maildir")}
	if outbound == "" {
		outbound = fmt.Sprintf("maildir = %q", g.maildir)
	}
	conf := filepath.Join(dir, "casegate.toml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(benchConfig, dbURL, 40, g.addr, outbound, g.http)), 0o600); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, e.casegate, "migrate", "-config", conf).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("migrate: %v: %s", err, out)
	}
	g.cmd = exec.Command(e.casegate, "serve", "-config", conf)
	g.cmd.Stderr = &g.log
	if err := g.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", g.addr)
		if err == nil {
			c.Close()
			return g, nil
		}
		if time.Now().After(deadline) {
			g.stop()
			return nil, fmt.Errorf("casegate did not listen on %s: %s", g.addr, g.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (g *gateway) stop() {
	if g.cmd.Process != nil {
		g.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { g.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			g.cmd.Process.Kill()
			<-done
		}
	}
}

// procStats reads the process's CPU time (user+system) and its resident
// memory now and at its peak.
type procStats struct {
	cpu      time.Duration
	rss, hwm int64 // bytes
}

func readProc(pid int) (procStats, error) {
	var s procStats
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	s.cpu = time.Duration(utime+stime) * time.Second / 100 // USER_HZ
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			s.rss = kb * 1024
		case "VmHWM":
			s.hwm = kb * 1024
		}
	}
	return s, nil
}

// resetPeak restarts the kernel's peak-RSS counter (VmHWM) for pid.
func resetPeak(pid int) {
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// profile takes a CPU profile of the gateway for d and writes it to path,
// for `go tool pprof` (bench -profile).
func (g *gateway) profile(ctx context.Context, d time.Duration, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", g.http, int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// listening reports whether something accepts connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
