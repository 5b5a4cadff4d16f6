package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// ackSink is a local SMTP server that notes when each mail answering one
// of the load's messages arrives (by the Message-ID in its In-Reply-To).
type ackSink struct {
	mu       sync.Mutex
	received map[string]time.Time
}

func (s *ackSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &ackSession{s: s}, nil }

type ackSession struct{ s *ackSink }

func (*ackSession) Reset()                               {}
func (*ackSession) Logout() error                        { return nil }
func (*ackSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*ackSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (a *ackSession) Data(r io.Reader) error {
	br := bufio.NewReader(r)
	h, err := textproto.NewReader(br).ReadMIMEHeader()
	at := time.Now()
	io.Copy(io.Discard, br)
	if err != nil {
		return nil
	}
	if id := strings.Trim(strings.TrimSpace(h.Get("In-Reply-To")), "<>"); id != "" {
		a.s.mu.Lock()
		if _, seen := a.s.received[id]; !seen {
			a.s.received[id] = at
		}
		a.s.mu.Unlock()
	}
	return nil
}

// backlogSample is the outbox backlog at one moment.
type backlogSample struct {
	at time.Duration // since the start of the steady load
	n  int64
}

// runSustained is scenario 8: an offered load the gateway should carry
// without falling behind, then a burst above what it can carry.
func runSustained(ctx context.Context, e *env, r *report) error {
	// The backlog fills up from empty during the first seconds (warm).
	rate, steady, burst, warm := 500.0, 60*time.Second, 10*time.Second, 10*time.Second
	if e.sustain > 0 {
		rate = e.sustain
	}
	if e.quick {
		rate, steady, burst, warm = 100, 4*time.Second, 2*time.Second, time.Second
	}
	dbURL, err := e.freshDatabase("sustained")
	if err != nil {
		return err
	}
	defer e.dropDatabase(dbURL)
	sink := &ackSink{received: map[string]time.Time{}}
	srv := smtp.NewServer(sink)
	srv.Domain = "sink.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go srv.Serve(l)
	defer srv.Close()
	g, err := startGateway(ctx, e, dbURL, fmt.Sprintf("smarthost = %q\nstarttls = false", l.Addr().String()))
	if err != nil {
		return err
	}
	defer g.stop()
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	backlog := func() (int64, error) {
		var n int64
		err := db.QueryRowContext(ctx, benchMark+`SELECT
			(SELECT count(*) FROM deliveries WHERE status = 'queued') +
			(SELECT count(*) FROM intents WHERE rendered_at IS NULL)`).Scan(&n)
		return n, err
	}

	// The backlog every second, from the start of the steady load to the
	// start of the burst.
	start := time.Now()
	sampleCtx, stopSampling := context.WithCancel(ctx)
	samples := make(chan []backlogSample, 1)
	go func() {
		var out []backlogSample
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-sampleCtx.Done():
				samples <- out
				return
			case <-tick.C:
				if n, err := backlog(); err == nil {
					out = append(out, backlogSample{at: time.Since(start), n: n})
				}
			}
		}
	}()
	steadyRes := drive(g.addr, "steady", traffic{conc: 32, perConn: 50, rate: rate, dur: steady})
	stopSampling()
	series := <-samples
	if steadyRes.failed > 0 {
		return fmt.Errorf("steady load: %d messages not answered 250", steadyRes.failed)
	}

	burstRes := drive(g.addr, "burst", traffic{conc: 32, perConn: 50, dur: burst})
	burstEnd := time.Now()
	if burstRes.failed > 0 {
		return fmt.Errorf("burst: %d messages not answered 250", burstRes.failed)
	}
	var peak int64
	drainLimit := 5 * time.Minute
	var drained time.Duration
	for {
		n, err := backlog()
		if err != nil {
			return err
		}
		peak = max(peak, n)
		if n == 0 {
			drained = time.Since(burstEnd)
			break
		}
		if time.Since(burstEnd) > drainLimit {
			return fmt.Errorf("the backlog (%d) did not drain within %s after the burst", n, drainLimit)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// Every acknowledgement of the steady load, 250 → the sink.
	sink.mu.Lock()
	var lat []time.Duration
	missing := 0
	for id, at := range steadyRes.opened {
		got, ok := sink.received[id]
		if !ok {
			missing++
			continue
		}
		lat = append(lat, got.Sub(at))
	}
	var burstLat []time.Duration
	for id, at := range burstRes.opened {
		if got, ok := sink.received[id]; ok {
			burstLat = append(burstLat, got.Sub(at))
		}
	}
	sink.mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	sort.Slice(burstLat, func(i, j int) bool { return burstLat[i] < burstLat[j] })
	pct := func(s []time.Duration, p float64) float64 {
		if len(s) == 0 {
			return 0
		}
		return ms(s[int(float64(len(s)-1)*p)])
	}
	if missing > 0 {
		return fmt.Errorf("%d of %d new cases of the steady load had no acknowledgement at the sink after the backlog drained", missing, len(steadyRes.opened))
	}

	first, last, slope := backlogTrend(series, warm)
	ackRate := float64(len(steadyRes.opened)) / steadyRes.wall.Seconds()
	sec := section{
		Title: fmt.Sprintf("8. Sustained load: %.0f msg/s offered for %s over 32 connections, then %s as fast as possible", rate, steady, burst),
		Figures: []figure{
			withBeside(newFigure("filing rate achieved under the offered load", "msg/s", []float64{steadyRes.rate()}).withTarget(">=", rate*0.99),
				fmt.Sprintf("offered %.0f msg/s", rate)),
			newFigure("behind the offered schedule at the end", "s", []float64{max(0, steady.Seconds()-float64(steadyRes.sent+steadyRes.failed)/rate)}),
			newFigure("p99 end of DATA → 250 under the offered load", "ms", []float64{ms(steadyRes.percentile(0.99))}),
			newFigure("acknowledgement p50, 250 → received by the sink", "ms", []float64{pct(lat, 0.50)}),
			withBeside(newFigure("acknowledgement p99, 250 → received by the sink", "ms", []float64{pct(lat, 0.99)}).withTarget("<=", 5000),
				fmt.Sprintf("offered %.0f msg/s, filed %s msg/s", rate, num(steadyRes.rate()))),
			newFigure(fmt.Sprintf("outbox backlog, first: mean of 10 s after a %s warm-up", warm), "mails", []float64{first}),
			newFigure("outbox backlog, last: mean of the last 10 s", "mails", []float64{last}),
			withBeside(newFigure("outbox backlog growth after the warm-up (least-squares slope)", "mails/s", []float64{slope}).withTarget("<=", rate/100),
				fmt.Sprintf("backlog first %s, last %s", num(first), num(last))),
			newFigure("burst: filing rate", "msg/s", []float64{burstRes.rate()}),
			newFigure("burst: acknowledgement p99, 250 → sink", "ms", []float64{pct(burstLat, 0.99)}),
			newFigure("burst: outbox backlog at its end", "mails", []float64{float64(peak)}),
			withBeside(newFigure("burst: time for the backlog to drain after it", "s", []float64{drained.Seconds()}).withTarget("<=", 60),
				fmt.Sprintf("backlog %d at the burst's end, burst filed %s msg/s", peak, num(burstRes.rate()))),
		},
		Notes: []string{
			fmt.Sprintf("Open loop: message n is sent n/%.0f s after the start whatever the answers, over 32 connections (50 mails each), with scenario 1's mix; the gateway delivers to a local SMTP sink, and each acknowledgement is matched to its message by In-Reply-To. %d new cases were acknowledged (%.0f a second), every one. The outbox backlog is the deliveries not yet handed over plus the intents not yet rendered, sampled every second; the growth target (≤ 1 %% of the offered rate) says it does not grow. Then %s of load as fast as 32 connections go (%d mails), and the time from its end until the backlog is empty. One run.", rate, len(steadyRes.opened), ackRate, burst, burstRes.sent),
			"Backlog each 5 s of the offered load: " + seriesText(series, 5),
		},
	}
	r.add(sec)
	return nil
}

// backlogTrend returns the mean backlog of the first ten seconds from
// skip, that of the last ten, and the least-squares slope from skip on.
func backlogTrend(s []backlogSample, skip time.Duration) (first, last, slope float64) {
	var xs, ys []float64
	for _, x := range s {
		if x.at >= skip {
			xs = append(xs, x.at.Seconds())
			ys = append(ys, float64(x.n))
		}
	}
	if len(xs) == 0 {
		return 0, 0, 0
	}
	mean := func(v []float64) float64 {
		t := 0.0
		for _, x := range v {
			t += x
		}
		return t / float64(len(v))
	}
	k := min(10, len(ys))
	first, last = mean(ys[:k]), mean(ys[len(ys)-k:])
	if len(xs) < 2 {
		return first, last, 0
	}
	mx, my := mean(xs), mean(ys)
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	return first, last, num / den
}

func seriesText(s []backlogSample, every int) string {
	var parts []string
	for i, x := range s {
		if i%every == every-1 {
			parts = append(parts, fmt.Sprintf("%d", x.n))
		}
	}
	return strings.Join(parts, ", ")
}
