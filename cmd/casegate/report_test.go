package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casegate/internal/gatewaytest"
	"casegate/threads"
	"casegate/vocab"
)

// `casegate report` prints, as a table and as JSON, the figures threads
// computes for the cases in its window (their values are threads'
// TestReportFigures, on the same data set), and the report metrics expose
// them as gauges at scrape time.
func TestReportCommandAndGauges(t *testing.T) {
	g, staff := reportData(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "casegate.toml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(testConfig, g.DatabaseURL)), 0o600); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := run(ctx, []string{"report", "-config", path, "-since", "30d", "-json"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	var rep threads.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	now := time.Now()
	want, err := staff.Report(ctx, now.Add(-30*24*time.Hour), now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep.Total, want.Total) || !reflect.DeepEqual(rep.ByCategory, want.ByCategory) {
		t.Errorf("report -json:\n%+v\nwant the store's figures\n%+v", rep, want)
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }

	// The table names every figure.
	out.Reset()
	if err := run(ctx, []string{"report", "-config", path}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"resolution rate", "75%", "first response, median", "1h0m0s", "CSAT (4–5)", "50%", "escalated to PR: first-response", "vip"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report table lacks %q:\n%s", want, out.String())
		}
	}

	// The same figures as Prometheus gauges, read at scrape time.
	reg := prometheus.NewRegistry()
	reg.MustRegister(&reportCollector{store: staff, log: slog.New(slog.NewTextHandler(testWriter{t}, nil)), now: time.Now})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	gauge := func(name string, labels map[string]string) float64 {
		t.Helper()
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
		metrics:
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if labels[lp.GetName()] != lp.GetValue() {
						continue metrics
					}
				}
				return m.GetGauge().GetValue()
			}
		}
		t.Errorf("no %s %v", name, labels)
		return -1
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"casegate_report_cases_opened", map[string]string{"category": "all"}, 4},
		{"casegate_report_cases_resolved", map[string]string{"category": "customer"}, 2},
		{"casegate_report_resolution_rate", map[string]string{"category": "all"}, 0.75},
		{"casegate_report_resolution_seconds", map[string]string{"category": "all", "quantile": "0.9"}, 36000},
		{"casegate_report_first_response_seconds", map[string]string{"category": "all", "quantile": "0.5"}, 3600},
		{"casegate_report_csat", map[string]string{"category": "all"}, 0.5},
		{"casegate_report_ratings", map[string]string{"category": "vip"}, 0},
		{"casegate_report_escalations_to_pr", map[string]string{"category": "all", "rule": "first-response"}, 1},
	} {
		if got := gauge(c.name, c.labels); !near(got, c.want) {
			t.Errorf("%s %v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// reportData builds the data set of threads' TestReportFigures (see there)
// on a gateway, and returns it with a second Store on it, as the admin
// commands have one.
func reportData(t *testing.T) (*gatewaytest.Gateway, *threads.Store) {
	t.Helper()
	start := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)
	clock := gatewaytest.NewClock(start)
	g := gatewaytest.Start(t, gatewaytest.Options{Clock: clock,
		Followup: threads.FollowupOptions{Delay: 48 * time.Hour, CloseAfter: 96 * time.Hour, ReopenAtOrBelow: 2}})
	staff := g.SecondStore(t)
	ctx := context.Background()
	open := func(addr, tag string) int64 {
		raw := fmt.Sprintf("From: Customer <%s>\nTo: support@support.example.com\nSubject: Printer %s\nMessage-ID: <%s-1@customer.example>\nContent-Type: text/plain; charset=utf-8\n\nMy printer is on fire.\n", addr, tag, tag)
		if err := g.Send(t, addr, []string{"support@support.example.com"}, raw); err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := g.DB.Get(&id, `SELECT id FROM cases WHERE customer = $1`, addr); err != nil {
			t.Fatal(err)
		}
		g.Relay.WaitTo(t, addr, 1) // the acknowledgement
		return id
	}
	rate := func(addr, tag string, m gatewaytest.Mail, text string) {
		id := m.MessageID(t)
		raw := fmt.Sprintf("From: Customer <%s>\nTo: support@support.example.com\nSubject: Re: your case\nMessage-ID: <%s@customer.example>\nIn-Reply-To: <%s>\nReferences: <%s>\nContent-Type: text/plain; charset=utf-8\n\n%s\n\n> quoted 1 of 5 earlier text\n", addr, tag, id, id, text)
		if err := g.Send(t, addr, []string{"support@support.example.com"}, raw); err != nil {
			t.Fatal(err)
		}
	}
	waitStatus := func(id int64, want string) {
		deadline := time.Now().Add(20 * time.Second)
		for g.Case(t, id).Status != want {
			if time.Now().After(deadline) {
				t.Fatalf("case %d is %s, want %s", id, g.Case(t, id).Status, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	a := open("a@customer.example", "a")
	b := open("b@customer.example", "b")
	c := open("c@customer.example", "c")
	open("d@customer.example", "d")
	g.DB.MustExec(`UPDATE cases SET category = 'vip' WHERE id = $1`, c)
	// First staff replies to a after 1h, to b after 3h.
	g.DB.MustExec(`INSERT INTO events (case_id, at, kind, actor, detail) VALUES ($1, $3, 'relayed', 'alice@example.com', ''), ($2, $4, 'relayed', 'alice@example.com', '')`,
		a, b, start.Add(time.Hour), start.Add(3*time.Hour))
	g.DB.MustExec(`INSERT INTO escalations (case_id, rule, since, due_at, fired_at, actions) VALUES ($1, 'first-response', $2, $2, $2, '{cc_pr}'), ($1, 'quiet', $2, $2, $2, '{notify:x@example.com}')`,
		a, start.Add(4*time.Hour))
	resolve := func(id int64, after time.Duration) {
		clock.Set(start.Add(after))
		if err := staff.ChangeStatus(ctx, id, vocab.StatusResolved, "alice@example.com", ""); err != nil {
			t.Fatal(err)
		}
	}
	resolve(a, 2*time.Hour)
	resolve(b, 4*time.Hour)
	resolve(c, 10*time.Hour)
	rate("a@customer.example", "a-rating", gatewaytest.WithSubject(t, g.Relay.WaitTo(t, "a@customer.example", 2), "resolved"), "5 great")
	rate("b@customer.example", "b-rating", gatewaytest.WithSubject(t, g.Relay.WaitTo(t, "b@customer.example", 2), "resolved"), "1 still broken")
	waitStatus(a, "closed")
	waitStatus(b, "open")
	return g, staff
}
