package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// runOneSender is scenario 9: one sender (a contact-form relay) sends
// everything from one address over 32 sessions, with Postfix's own load
// generator, smtp-source; the same load goes to a private Postfix that
// queues it durably (its hold queue: nothing is delivered). Postfix is the
// ceiling: an MTA doing the least an MTA must before its 250.
func runOneSender(ctx context.Context, e *env, r *report) error {
	sec := section{Title: "9. One sender, 32 sessions (smtp-source, 10 KB): casegate vs Postfix queueing the same load"}
	source, postfix := lookSbin("smtp-source"), lookSbin("postfix")
	switch {
	case source == "" || postfix == "":
		sec.Skipped = "smtp-source and postfix are not installed (scripts/bench.sh installs Debian's postfix package, whose service it never starts); target ≥ 1.0× Postfix"
		r.add(sec)
		return nil
	case os.Geteuid() != 0:
		sec.Skipped = "a Postfix instance, even a private one, is started by root (its master drops to the postfix user), and the bench is not running as root; target ≥ 1.0× Postfix"
		r.add(sec)
		return nil
	}
	total := 3000
	if e.quick {
		total = 200
	}
	var ours, theirs, ratios []float64
	for run := 0; run < e.runs; run++ {
		rate, err := oneSenderCasegate(ctx, e, source, total)
		if err != nil {
			return err
		}
		prate, err := oneSenderPostfix(ctx, e, source, postfix, total)
		if err != nil {
			return fmt.Errorf("postfix: %w", err)
		}
		ours, theirs, ratios = append(ours, rate), append(theirs, prate), append(ratios, rate/prate)
	}
	sec.Figures = []figure{
		newFigure("casegate, filed and answered 250", "msg/s", ours),
		newFigure("Postfix, queued durably (hold queue) and answered 250", "msg/s", theirs),
		newFigure("casegate ÷ Postfix (each run ÷ the Postfix run after it)", "×", ratios).withTarget(">=", 1.0),
	}
	sec.Figures[2].Beside = fmt.Sprintf("Postfix %s msg/s, casegate %s msg/s", num(sec.Figures[1].Median), num(sec.Figures[0].Median))
	sec.Notes = append(sec.Notes, fmt.Sprintf("`smtp-source -s 32 -m %d -l 10240 -f one@sender.example -t support@support.example.com` (a new connection for each mail, as smtp-source does without -d), timed from start to exit, first against casegate (every mail a new case from the same address: its automatic answers are capped, staff are told of each), then against a private Postfix started and stopped by the bench (its own configuration, queue and data directories under a temporary directory, listening on 127.0.0.1 only; `smtpd_end_of_data_restrictions = check_client_access static:HOLD`, so each mail is fsynced into the hold queue before the 250 and nothing is delivered). Both on the same PostgreSQL-loaded machine, alternating.", total))
	r.add(sec)
	return nil
}

// lookSbin finds a program in PATH or in /usr/sbin (root's PATH may lack it).
func lookSbin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); fileExists(p) {
		return p
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// smtpSource runs smtp-source against addr and returns messages per second.
func smtpSource(ctx context.Context, source, addr string, total int) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, source, "-s", "32", "-m", strconv.Itoa(total), "-l", "10240",
		"-f", "one@sender.example", "-t", "support@support.example.com", addr).CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("smtp-source: %v: %s", err, out)
	}
	return float64(total) / took.Seconds(), nil
}

func oneSenderCasegate(ctx context.Context, e *env, source string, total int) (float64, error) {
	dbURL, err := e.freshDatabase("onesender")
	if err != nil {
		return 0, err
	}
	defer e.dropDatabase(dbURL)
	relay, relayAddr, err := startSink()
	if err != nil {
		return 0, err
	}
	defer relay.Close()
	g, err := startGateway(ctx, e, dbURL, fmt.Sprintf("smarthost = %q\nstarttls = false", relayAddr))
	if err != nil {
		return 0, err
	}
	rate, err := smtpSource(ctx, source, g.addr, total)
	g.stop()
	if err != nil {
		return 0, err
	}
	filed, err := countInbound(dbURL)
	if err != nil {
		return 0, err
	}
	if filed != total {
		return 0, fmt.Errorf("casegate filed %d of smtp-source's %d mails", filed, total)
	}
	return rate, nil
}

func oneSenderPostfix(ctx context.Context, e *env, source, postfix string, total int) (float64, error) {
	p, err := startPostfix(ctx, postfix)
	if err != nil {
		return 0, err
	}
	defer p.remove()
	rate, err := smtpSource(ctx, source, p.addr, total)
	if err != nil {
		return 0, err
	}
	if held := p.held(); held != total {
		return 0, fmt.Errorf("postfix holds %d of smtp-source's %d mails (log: %s)", held, total, p.logTail())
	}
	return rate, nil
}

// privatePostfix is a Postfix instance of the bench's own: configuration,
// queue and data under one temporary directory, listening on a loopback
// port; started and stopped with `postfix -c`, so the host's Postfix (if
// any) is never touched.
type privatePostfix struct {
	bin, dir, addr string
}

const postfixMain = `# A private Postfix for casegate's bench: it queues what it receives into
# the hold queue and delivers nothing.
compatibility_level = 3.6
config_directory = {{dir}}/etc
queue_directory = {{dir}}/spool
data_directory = {{dir}}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-bench.example
mydomain = postfix-bench.example
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_end_of_data_restrictions = check_client_access static:HOLD
smtpd_peername_lookup = no
default_transport = discard:held, never delivered
relay_transport = discard:held, never delivered
local_transport = discard:held, never delivered
notify_classes =
biff = no
smtputf8_enable = no
maillog_file_prefixes = {{dir}}
maillog_file = {{dir}}/maillog
`

// postfixMaster runs the services a queueing smtpd needs, none chrooted.
const postfixMaster = `{{addr}} inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000 0 flush
proxymap  unix  - - n -    - proxymap
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
`

func startPostfix(ctx context.Context, bin string) (*privatePostfix, error) {
	owner, err := user.Lookup("postfix")
	if err != nil {
		return nil, fmt.Errorf("the postfix package's user: %w", err)
	}
	uid, _ := strconv.Atoi(owner.Uid)
	dir, err := os.MkdirTemp("", "casegate-postfix-")
	if err != nil {
		return nil, err
	}
	p := &privatePostfix{bin: bin, dir: dir}
	// The postfix user must reach the queue under it.
	if err := os.Chmod(dir, 0o755); err != nil {
		p.remove()
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		p.remove()
		return nil, err
	}
	p.addr = fmt.Sprintf("127.0.0.1:%d", port)
	for _, d := range []string{"etc", "spool", "data"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			p.remove()
			return nil, err
		}
	}
	if err := os.Chown(filepath.Join(dir, "data"), uid, -1); err != nil {
		p.remove()
		return nil, err
	}
	fill := strings.NewReplacer("{{dir}}", dir, "{{addr}}", p.addr)
	if err := os.WriteFile(filepath.Join(dir, "etc", "main.cf"), []byte(fill.Replace(postfixMain)), 0o644); err != nil {
		p.remove()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "master.cf"), []byte(fill.Replace(postfixMaster)), 0o644); err != nil {
		p.remove()
		return nil, err
	}
	// postfix start checks the configuration, creates the queue's
	// directories with their owners, and starts the master.
	if out, err := exec.CommandContext(ctx, bin, "-c", filepath.Join(dir, "etc"), "start").CombinedOutput(); err != nil {
		defer p.remove()
		return nil, fmt.Errorf("postfix start: %v: %s %s", err, out, p.logTail())
	}
	deadline := time.Now().Add(30 * time.Second)
	for !listening(p.addr) {
		if time.Now().After(deadline) {
			defer p.remove()
			return nil, fmt.Errorf("postfix did not listen on %s: %s", p.addr, p.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p, nil
}

// held counts the mails in the hold queue.
func (p *privatePostfix) held() int {
	n := 0
	filepath.WalkDir(filepath.Join(p.dir, "spool", "hold"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func (p *privatePostfix) logTail() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "maillog"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// remove stops the instance (postfix stop waits for its master to exit)
// and deletes its directory.
func (p *privatePostfix) remove() {
	if fileExists(filepath.Join(p.dir, "spool", "pid", "master.pid")) {
		exec.Command(p.bin, "-c", filepath.Join(p.dir, "etc"), "stop").Run()
	}
	os.RemoveAll(p.dir)
}
