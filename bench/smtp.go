package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"log"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

// load is the outcome of one load-generator run.
type load struct {
	sent      int           // messages answered 250
	failed    int           // messages answered otherwise
	wall      time.Duration // first connect to last reply
	latencies []time.Duration
}

func (l load) rate() float64 { return float64(l.sent) / l.wall.Seconds() }

func (l load) percentile(p float64) time.Duration {
	if len(l.latencies) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), l.latencies...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

// mailFactory writes realistic customer mail: about 10 KB, 30 % replies to
// earlier messages (from the customer who wrote them), one in five with an
// attachment. Every new case comes from a customer of its own, as in a
// crisis: the automatic-reply cap (5 a day per address) is not what is
// measured.
type mailFactory struct {
	run   string
	text  string
	attch string
}

func newMailFactory(run string) *mailFactory {
	words := strings.Fields("the printer order invoice delivery broken refund please help account password reset login error screen again still waiting since monday tuesday week yesterday customer number tracking parcel arrived damaged box wrong colour size replacement")
	rng := rand.New(rand.NewSource(1))
	var b strings.Builder
	for b.Len() < 9000 {
		for i := 0; i < 12; i++ {
			b.WriteString(words[rng.Intn(len(words))])
			b.WriteByte(' ')
		}
		b.WriteString("\r\n")
	}
	blob := make([]byte, 6000)
	rng.Read(blob)
	enc := base64.StdEncoding.EncodeToString(blob)
	var a strings.Builder
	for len(enc) > 76 {
		a.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	a.WriteString(enc + "\r\n")
	return &mailFactory{run: run, text: b.String(), attch: a.String()}
}

// thread is a message a customer may reply to.
type thread struct{ id, from string }

// message returns mail number n of worker w, a reply to parent or, when
// parent.id is "", a new case from a new customer.
func (f *mailFactory) message(w, n int, parent thread) (t thread, raw []byte) {
	t = thread{id: fmt.Sprintf("%s.%d.%d@customer%d.example", f.run, w, n, w), from: parent.from}
	if parent.id == "" {
		t.from = fmt.Sprintf("c%s-%d@customer%d.example", f.run, n, w)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Customer %d <%s>\r\nTo: support@support.example.com\r\n", n, t.from)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <%s>\r\n", time.Now().Format(time.RFC1123Z), t.id)
	if parent.id != "" {
		fmt.Fprintf(&b, "Subject: Re: Problem %d\r\nIn-Reply-To: <%s>\r\nReferences: <%s>\r\n", n, parent.id, parent.id)
	} else {
		fmt.Fprintf(&b, "Subject: Problem %d with my order\r\n", n)
	}
	b.WriteString("MIME-Version: 1.0\r\n")
	body := f.text
	if n%5 == 4 {
		body = f.text[:3000]
		b.WriteString("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
		b.WriteString(body)
		b.WriteString("--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"receipt.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		b.WriteString(f.attch)
		b.WriteString("--b1--\r\n")
	} else {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
		b.WriteString(body)
	}
	return t, b.Bytes()
}

// generate sends total messages over conc connections, perConn
// transactions per connection, each as soon as the last is answered, and
// records each end-of-DATA → reply time.
func generate(addr, run string, conc, total, perConn int) load {
	return drive(addr, run, traffic{conc: conc, total: total, perConn: perConn}).load
}

// traffic is what a load generator sends: total messages (or, with
// total 0, as many as fit in dur) over conc connections of perConn
// transactions each; with rate > 0 message n is sent no earlier than
// n/rate seconds after the start (open loop: the schedule does not wait
// for the server, though each connection sends one message at a time).
type traffic struct {
	conc, total, perConn int
	rate                 float64
	dur                  time.Duration
}

// driven is a load's outcome and, for each new case it opened, when its
// 250 came (by Message-ID).
type driven struct {
	load
	opened map[string]time.Time
}

func drive(addr, run string, tr traffic) driven {
	f := newMailFactory(run)
	var next atomic.Int64
	var mu sync.Mutex
	res := driven{opened: map[string]time.Time{}}
	var wg sync.WaitGroup
	start := time.Now()
	total := tr.total
	if total == 0 {
		total = math.MaxInt32
		if tr.rate > 0 {
			total = int(tr.rate * tr.dur.Seconds())
		}
	}
	more := func() bool {
		return next.Load() < int64(total) && (tr.dur == 0 || time.Since(start) < tr.dur)
	}
	for w := 0; w < tr.conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			var mine []thread
			var lat []time.Duration
			opened := map[string]time.Time{}
			sent, failed := 0, 0
			for more() {
				c, err := smtp.Dial(addr)
				if err != nil {
					failed++
					time.Sleep(10 * time.Millisecond)
					continue
				}
				for i := 0; i < tr.perConn && more(); i++ {
					n := int(next.Add(1)) - 1
					if n >= total {
						break
					}
					if tr.rate > 0 {
						time.Sleep(time.Until(start.Add(time.Duration(float64(n) / tr.rate * float64(time.Second)))))
					}
					var parent thread
					if len(mine) > 0 && rng.Intn(10) < 3 {
						parent = mine[rng.Intn(len(mine))]
					}
					t, raw := f.message(w, n, parent)
					d, ok := sendOne(c, raw, t.from)
					if ok {
						sent++
						lat = append(lat, d)
						mine = append(mine, t)
						if parent.id == "" {
							opened[t.id] = time.Now()
						}
					} else {
						failed++
					}
				}
				c.Quit()
				c.Close()
			}
			mu.Lock()
			res.sent += sent
			res.failed += failed
			res.latencies = append(res.latencies, lat...)
			for id, at := range opened {
				res.opened[id] = at
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	res.wall = time.Since(start)
	return res
}

// sendOne runs one transaction on c and returns the time from the end of
// the data to the server's reply.
func sendOne(c *smtp.Client, raw []byte, from string) (time.Duration, bool) {
	if err := c.Mail(from, nil); err != nil {
		return 0, false
	}
	if err := c.Rcpt("support@support.example.com", nil); err != nil {
		return 0, false
	}
	w, err := c.Data()
	if err != nil {
		return 0, false
	}
	if _, err := w.Write(raw); err != nil {
		return 0, false
	}
	start := time.Now()
	err = w.Close()
	return time.Since(start), err == nil
}

// runSMTPIngest is scenario 1. At 32 connections each run is followed by
// a pgbench run of the same database work (scenario 2's script), so that
// ingest and its ceiling are measured back to back on a machine whose
// other load changes, and the database's work per filed message is
// counted.
func runSMTPIngest(ctx context.Context, e *env, r *report) error {
	total := map[int]int{1: 1500, 8: 4000, 32: 6000}
	if e.quick {
		total = map[int]int{1: 50, 8: 200, 32: 320}
	}
	sec := section{Title: "1. SMTP ingest (10 KB mails, 30 % replies, 20 % with attachment; durable: 250 after commit)",
		Notes: []string{"A load generator sends the mix over N connections (50 mails a connection), each mail as soon as the last is answered; latency is end of DATA → 250, and the 250 comes after the commit that holds the mail. The ceiling is scenario 2's pgbench script (the same minimal database work, one commit a message) at 32 clients, run right after each 32-connection run."}}
	work := section{Title: "1a. Database work per filed message at 32 connections (pg_stat_statements)"}
	var workRuns []statementFigures
	var pgbenchWAL, pgbenchLatency []float64
	for _, conc := range e.smtpConc {
		var rates, p50s, p99s, rss, cpu, loadCPU, rest, ratios []float64
		for run := 0; run < e.runs; run++ {
			dbURL, err := e.freshDatabase("smtp")
			if err != nil {
				return err
			}
			if e.nested && conc == 32 {
				if err := trackNested(e.adminURL, dbURL); err != nil {
					return err
				}
			}
			// Acknowledgements go to a local relay, as in production.
			relay, relayAddr, err := startSink()
			if err != nil {
				return err
			}
			g, err := startGateway(ctx, e, dbURL, fmt.Sprintf("smarthost = %q\nstarttls = false", relayAddr))
			if err != nil {
				relay.Close()
				return err
			}
			stats, err := newDBStats(e.adminURL, dbURL)
			if err != nil {
				g.stop()
				relay.Close()
				return err
			}
			if err := stats.reset(); err != nil {
				log.Printf("bench: pg_stat_statements reset: %v", err)
			}
			counters0, _ := stats.counters()
			pid := g.cmd.Process.Pid
			resetPeak(pid)
			before, _ := readProc(pid)
			busy0, self0 := machineBusy(), selfCPU()
			var profiled chan error
			if e.profile != "" && run == 0 && conc == 32 {
				profiled = make(chan error, 1)
				go func() {
					profiled <- g.profile(ctx, 5*time.Second, filepath.Join(e.profile, "cpu-smtp32.pprof"))
				}()
			}
			res := generate(g.addr, fmt.Sprintf("r%d-%d", conc, run), conc, total[conc], 50)
			if profiled != nil {
				if err := <-profiled; err != nil {
					log.Printf("bench: CPU profile: %v", err)
				}
			}
			after, _ := readProc(pid)
			busy, self := machineBusy()-busy0, selfCPU()-self0
			var workErr error
			if conc == 32 {
				// What the filings left for after their commit is done
				// before the statements are counted.
				_, polls, err := waitSettled(ctx, dbURL, 5*time.Minute)
				if err == nil {
					counters1, _ := stats.counters()
					var f statementFigures
					if f, err = stats.figures(counters0, counters1, polls, res.sent); err == nil {
						workRuns = append(workRuns, f)
					}
				}
				workErr = err
			}
			stats.close()
			g.stop()
			relay.Close()
			filed, err := countInbound(dbURL)
			e.dropDatabase(dbURL)
			if err != nil {
				return err
			}
			if res.failed > 0 || filed != res.sent {
				return fmt.Errorf("concurrency %d: %d answered 250, %d failed, %d filed: every 250 must be a filed message", conc, res.sent, res.failed, filed)
			}
			if workErr != nil {
				return fmt.Errorf("concurrency %d: after the load: %w", conc, workErr)
			}
			rates = append(rates, res.rate())
			p50s = append(p50s, ms(res.percentile(0.50)))
			p99s = append(p99s, ms(res.percentile(0.99)))
			rss = append(rss, float64(after.hwm)/(1<<20))
			gw := after.cpu - before.cpu
			cpu = append(cpu, perMessage(gw, res.sent))
			loadCPU = append(loadCPU, perMessage(self, res.sent))
			rest = append(rest, perMessage(busy-gw-self, res.sent))
			if conc == 32 && e.pgBin != "" {
				pb, err := pgbenchRun(ctx, e, 32)
				if err != nil {
					return err
				}
				r.pgbench32 = append(r.pgbench32, pb.tps)
				pgbenchWAL = append(pgbenchWAL, pb.walKB)
				pgbenchLatency = append(pgbenchLatency, pb.latencyMS)
				ratios = append(ratios, res.rate()/pb.tps)
			}
		}
		rate := newFigure(fmt.Sprintf("messages/s at %d connections", conc), "msg/s", rates)
		p99 := newFigure(fmt.Sprintf("p99 end of DATA → 250 at %d", conc), "ms", p99s)
		mem := newFigure(fmt.Sprintf("gateway peak RSS at %d", conc), "MB", rss)
		switch conc {
		case 1:
			p99 = p99.withTarget("<=", 10)
		case 32:
			rate = rate.withTarget(">=", 1000)
			p99 = p99.withTarget("<=", 100)
			mem = mem.withTarget("<=", 150)
		}
		if len(ratios) > 0 {
			ceiling := newFigure("pgbench filing ceiling at 32 clients (run after each ingest run)", "tps", r.pgbench32)
			beside := fmt.Sprintf("pgbench ceiling %s tps", num(ceiling.Median))
			rate.Beside, p99.Beside = beside, beside+fmt.Sprintf(", its latency average %s ms", num(newFigure("", "", pgbenchLatency).Median))
			ratio := newFigure("ingest ÷ pgbench ceiling at 32 (each run ÷ the pgbench run after it)", "×", ratios).withTarget(">=", 0.9)
			ratio.Beside = beside
			sec.Figures = append(sec.Figures, rate, ceiling, ratio)
		} else {
			sec.Figures = append(sec.Figures, rate)
		}
		sec.Figures = append(sec.Figures,
			newFigure(fmt.Sprintf("p50 end of DATA → 250 at %d", conc), "ms", p50s), p99, mem,
			newFigure(fmt.Sprintf("gateway CPU per message at %d", conc), "ms", cpu),
			newFigure(fmt.Sprintf("load generator and relay CPU per message at %d", conc), "ms", loadCPU),
			newFigure(fmt.Sprintf("PostgreSQL and the rest of the machine, CPU per message at %d", conc), "ms", rest))
		if conc == 32 {
			r.ingest32 = rate.Median
		}
		r.ingest[conc] = rate.Median
	}
	r.add(sec)
	if len(workRuns) > 0 {
		work = workSection(work, workRuns)
		if len(pgbenchWAL) > 0 {
			work.Figures = append(work.Figures, newFigure("WAL per pgbench filing transaction (the ceiling's script, 32 clients)", "KB", pgbenchWAL))
		}
		r.add(work)
	}
	return nil
}

// workSection reports the database's work per filed message over runs.
func workSection(sec section, runs []statementFigures) section {
	pick := func(f func(statementFigures) float64) []float64 {
		var v []float64
		for _, r := range runs {
			v = append(v, f(r))
		}
		return v
	}
	if runs[0].top == nil {
		sec.Skipped = "statements were not counted: this PostgreSQL does not load pg_stat_statements (scripts/bench.sh loads it); target ≤ 3 statements a filed message"
	} else {
		sec.Figures = append(sec.Figures,
			withBeside(newFigure("statements per filed message before the 250 (filing: snapshot + write, which is the commit)", "", pick(func(f statementFigures) float64 { return f.filing })).withTarget("<=", 3),
				"pgbench script: 6 a message (BEGIN, 4 writes, COMMIT)"),
			newFigure("statements per filed message after the commit (composer, sender, indexer, sweeper)", "", pick(func(f statementFigures) float64 { return f.after })),
			newFigure("statements per filed message, all", "", pick(func(f statementFigures) float64 { return f.all })),
			newFigure("PostgreSQL execution time per filed message, filing statements", "ms", pick(func(f statementFigures) float64 { return f.filingMS })),
			newFigure("PostgreSQL execution time per filed message, after the commit", "ms", pick(func(f statementFigures) float64 { return f.afterMS })),
			newFigure("messages per group commit (filed ÷ filing writes)", "", pick(func(f statementFigures) float64 { return f.perCommit })),
			newFigure("deferred foreign-key checks per filed message (run by PostgreSQL inside the write's commit; not statements sent, not counted above)", "", pick(func(f statementFigures) float64 { return f.fkChecks })))
	}
	sec.Figures = append(sec.Figures,
		newFigure("transactions committed per filed message, all work (xact_commit)", "", pick(func(f statementFigures) float64 { return f.commits })),
		newFigure("WAL per filed message, all work", "KB", pick(func(f statementFigures) float64 { return f.walKB })))
	sec.Notes = append(sec.Notes, "Counted from the start of a 32-connection run until everything the filings left for after their commit (rendering intents, delivering, indexing) was done, over the statements the gateway sent to its database. The target (≤ 3) is judged on the filing's statements, those sent before the 250.")
	if top := runs[len(runs)/2].top; len(top) > 0 {
		var b strings.Builder
		b.WriteString("Statements of one run (where; calls per filed message; calls; PostgreSQL execution ms per call; query):\n")
		filed := float64(runs[len(runs)/2].filed)
		for i, c := range top {
			if i == 15 {
				fmt.Fprintf(&b, "\n    … %d more", len(top)-i)
				break
			}
			where := "after"
			if c.filing {
				where = "filing"
			}
			fmt.Fprintf(&b, "\n    %-7s %7.3f %7d calls %8.3f ms  %s", where, float64(c.calls)/filed, c.calls, c.execMS/float64(c.calls), c.name)
		}
		sec.Notes = append(sec.Notes, b.String())
	}
	if nested := runs[len(runs)/2].nested; len(nested) > 0 {
		var b strings.Builder
		b.WriteString("Diagnosis (bench -nested, which slows PostgreSQL down: the figures above are not comparable): statements inside functions by PostgreSQL execution time (ms per filed message; calls; ms per call; query):\n")
		filed := float64(runs[len(runs)/2].filed)
		for i, c := range nested {
			if i == 20 {
				break
			}
			fmt.Fprintf(&b, "\n    %8.3f ms %7d calls %8.3f ms  %s", c.execMS/filed, c.calls, c.execMS/float64(c.calls), c.name)
		}
		sec.Notes = append(sec.Notes, b.String())
	}
	return sec
}

func countInbound(dbURL string) (int, error) {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow(`SELECT count(*) FROM messages WHERE direction = 'inbound'`).Scan(&n)
	return n, err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func perMessage(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Microseconds()) / 1000 / float64(n)
}

// machineBusy is the CPU time all processes of the machine have used
// (/proc/stat: user, nice, system, irq, softirq).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
		if i < len(f) {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// selfCPU is the CPU time of this process: the load generator and the
// relay that receives casegate's mail.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
