package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"log"
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
// transactions per connection, and records each end-of-DATA → reply time.
func generate(addr, run string, conc, total, perConn int) load {
	f := newMailFactory(run)
	var next atomic.Int64
	var mu sync.Mutex
	var res load
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			var mine []thread
			var lat []time.Duration
			sent, failed := 0, 0
			for next.Load() < int64(total) {
				c, err := smtp.Dial(addr)
				if err != nil {
					failed++
					time.Sleep(10 * time.Millisecond)
					continue
				}
				for i := 0; i < perConn; i++ {
					n := int(next.Add(1)) - 1
					if n >= total {
						break
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

// runSMTPIngest is scenario 1.
func runSMTPIngest(ctx context.Context, e *env, r *report) error {
	total := map[int]int{1: 1500, 8: 4000, 32: 6000}
	if e.quick {
		total = map[int]int{1: 50, 8: 200, 32: 320}
	}
	sec := section{Title: "1. SMTP ingest (10 KB mails, 30 % replies, 20 % with attachment; durable: 250 after commit)"}
	for _, conc := range e.smtpConc {
		var rates, p50s, p99s, rss, cpu, loadCPU, rest []float64
		for run := 0; run < e.runs; run++ {
			dbURL, err := e.freshDatabase("smtp")
			if err != nil {
				return err
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
			rates = append(rates, res.rate())
			p50s = append(p50s, ms(res.percentile(0.50)))
			p99s = append(p99s, ms(res.percentile(0.99)))
			rss = append(rss, float64(after.hwm)/(1<<20))
			gw := after.cpu - before.cpu
			cpu = append(cpu, perMessage(gw, res.sent))
			loadCPU = append(loadCPU, perMessage(self, res.sent))
			rest = append(rest, perMessage(busy-gw-self, res.sent))
		}
		rate := newFigure(fmt.Sprintf("messages/s at %d connections", conc), "msg/s", rates)
		p99 := newFigure(fmt.Sprintf("p99 end of DATA → 250 at %d", conc), "ms", p99s)
		mem := newFigure(fmt.Sprintf("gateway peak RSS at %d", conc), "MB", rss)
		if conc == 32 {
			rate = rate.withTarget(">=", 1000)
			p99 = p99.withTarget("<=", 100)
			mem = mem.withTarget("<=", 150)
		}
		sec.Figures = append(sec.Figures, rate,
			newFigure(fmt.Sprintf("p50 end of DATA → 250 at %d", conc), "ms", p50s), p99, mem,
			newFigure(fmt.Sprintf("gateway CPU per message at %d", conc), "ms", cpu),
			newFigure(fmt.Sprintf("load generator and relay CPU per message at %d", conc), "ms", loadCPU),
			newFigure(fmt.Sprintf("PostgreSQL and the rest of the machine, CPU per message at %d", conc), "ms", rest))
		if conc == 32 {
			r.ingest32 = rate.Median
		}
	}
	r.add(sec)
	return nil
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
