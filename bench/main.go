// Command bench measures casegate the way a mail server is measured: a load
// generator speaks SMTP to a real casegate process backed by a real
// PostgreSQL, and the same database work is run through pgbench so the
// report can show ingest as a ratio of what this machine can commit.
//
// It is run by `make bench` (scripts/bench.sh), which starts PostgreSQL and
// passes its URL; results go to bench/results/ as Markdown and JSON.
//
//	go run ./bench -pg postgres://… -casegate /path/to/casegate [-quick]
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/lib/pq"
)

// env is what every scenario needs.
type env struct {
	adminURL string  // a database URL with rights to CREATE DATABASE
	casegate string  // the casegate binary under test
	pgBin    string  // PostgreSQL binaries (pgbench)
	quick    bool    // smoke run: tiny sizes, one run each
	profile  string  // directory for CPU profiles of the gateway, or ""
	nested   bool    // count statements inside functions too (diagnosis)
	smtpConc []int   // connection counts of scenario 1
	sustain  float64 // messages/s scenario 8 offers; 0: the 500
	runs     int
	work     string // scratch directory
}

func main() {
	var e env
	flag.StringVar(&e.adminURL, "pg", os.Getenv("CASEGATE_BENCH_DATABASE_URL"), "admin URL of the PostgreSQL to use")
	flag.StringVar(&e.casegate, "casegate", "", "casegate binary")
	flag.StringVar(&e.pgBin, "pgbin", "", "PostgreSQL bin directory (pgbench)")
	flag.BoolVar(&e.quick, "quick", false, "smoke run: small sizes, one run each")
	flag.StringVar(&e.profile, "profile", "", "write CPU profiles of the gateway under load to this directory")
	flag.BoolVar(&e.nested, "nested", false, "diagnosis: have PostgreSQL count the statements inside casegate's functions at 32 connections (slows it down)")
	conc := flag.String("smtp-conc", "1,8,32", "connection counts of the SMTP ingest scenario")
	flag.Float64Var(&e.sustain, "sustained-rate", 500, "messages/s the sustained-load scenario offers")
	out := flag.String("out", "bench/results", "directory for the report")
	only := flag.String("only", "", "comma-separated scenarios to run (default all)")
	runs := flag.Int("runs", 3, "runs of each measurement (medians are reported)")
	flag.Parse()
	if e.adminURL == "" || e.casegate == "" {
		log.Fatal("bench: -pg and -casegate are required (use make bench)")
	}
	for _, c := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			log.Fatalf("bench: -smtp-conc %q: want numbers like 1,8,32", *conc)
		}
		e.smtpConc = append(e.smtpConc, n)
	}
	e.runs = *runs
	if e.quick {
		e.runs = 1
	}
	var err error
	if e.work, err = os.MkdirTemp("", "casegate-bench-"); err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(e.work)

	r := &report{Started: time.Now().UTC(), Quick: e.quick, Machine: machine(), ingest: map[int]float64{}}
	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s != "" {
			want[s] = true
		}
	}
	for _, sc := range scenarios {
		if len(want) > 0 && !want[sc.name] {
			continue
		}
		log.Printf("bench: scenario %s", sc.name)
		start := time.Now()
		if err := sc.run(context.Background(), &e, r); err != nil {
			log.Printf("bench: scenario %s failed: %v", sc.name, err)
			r.Failures = append(r.Failures, fmt.Sprintf("%s: %v", sc.name, err))
		}
		log.Printf("bench: scenario %s took %s", sc.name, time.Since(start).Round(time.Second))
	}
	r.Finished = time.Now().UTC()
	if err := r.write(*out); err != nil {
		log.Fatal(err)
	}
	if len(r.Failures) > 0 {
		os.Exit(1)
	}
}

var scenarios = []struct {
	name string
	run  func(context.Context, *env, *report) error
}{
	{"smtp", runSMTPIngest},
	{"ceiling", runCeilings},
	{"imap", runIMAPDrain},
	{"outbox", runOutbox},
	{"sweep", runSweep},
	{"threading", runThreading},
	{"largemail", runLargeMail},
	{"sustained", runSustained},
	{"onesender", runOneSender},
}

// freshDatabase creates an empty database and returns its URL.
func (e *env) freshDatabase(name string) (string, error) {
	db, err := sql.Open("postgres", e.adminURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	name = fmt.Sprintf("bench_%s_%d", name, time.Now().UnixNano())
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		return "", err
	}
	u, _ := url.Parse(e.adminURL)
	u.Path = "/" + name
	return u.String(), nil
}

func (e *env) dropDatabase(dbURL string) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return
	}
	db, err := sql.Open("postgres", e.adminURL)
	if err != nil {
		return
	}
	defer db.Close()
	db.Exec("DROP DATABASE IF EXISTS " + strings.TrimPrefix(u.Path, "/") + " WITH (FORCE)")
}

// figure is one measured quantity over several runs.
type figure struct {
	Name   string    `json:"name"`
	Unit   string    `json:"unit"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
	Target string    `json:"target,omitempty"` // e.g. ">= 1000"
	Met    *bool     `json:"met,omitempty"`
	Note   string    `json:"note,omitempty"`
	// Beside is the ceiling or comparison measured in the same run, for
	// the summary of targets.
	Beside string `json:"beside,omitempty"`
}

// withBeside sets what the figure is compared with (Beside).
func withBeside(f figure, beside string) figure { f.Beside = beside; return f }

func newFigure(name, unit string, runs []float64) figure {
	s := append([]float64(nil), runs...)
	sort.Float64s(s)
	f := figure{Name: name, Unit: unit, Runs: runs}
	if len(s) > 0 {
		f.Min, f.Max, f.Median = s[0], s[len(s)-1], s[len(s)/2]
		if len(s)%2 == 0 {
			f.Median = (s[len(s)/2-1] + s[len(s)/2]) / 2
		}
	}
	return f
}

// withTarget marks whether the median meets "op value" (op is >= or <=).
func (f figure) withTarget(op string, value float64) figure {
	f.Target = fmt.Sprintf("%s %g", op, value)
	met := f.Median >= value
	if op == "<=" {
		met = f.Median <= value
	}
	f.Met = &met
	return f
}

type report struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Quick    bool      `json:"quick"`
	Machine  string    `json:"machine"`
	Sections []section `json:"sections"`
	Failures []string  `json:"failures,omitempty"`

	ingest32  float64         // scenario 1's median at 32 connections, for the ceiling ratio
	pgbench32 []float64       // the pgbench runs at 32 clients between scenario 1's runs
	ingest    map[int]float64 // scenario 1's median by connections
}

type section struct {
	Title   string   `json:"title"`
	Figures []figure `json:"figures"`
	Notes   []string `json:"notes,omitempty"`
	// Skipped says why the scenario measured nothing in this run.
	Skipped string `json:"skipped,omitempty"`
}

func (r *report) add(s section) { r.Sections = append(r.Sections, s) }

// besides notes a comparison beside the figure named name, measured by a
// later scenario.
func (r *report) besides(name, beside string) {
	for i := range r.Sections {
		for j := range r.Sections[i].Figures {
			if r.Sections[i].Figures[j].Name == name {
				r.Sections[i].Figures[j].Beside = beside
			}
		}
	}
}

func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	stamp := r.Started.Format("20060102-150405")
	js, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, stamp+".json"), js, 0o644); err != nil {
		return err
	}
	md := r.markdown()
	if err := os.WriteFile(filepath.Join(dir, stamp+".md"), []byte(md), 0o644); err != nil {
		return err
	}
	os.WriteFile(filepath.Join(dir, "latest.md"), []byte(md), 0o644)
	os.WriteFile(filepath.Join(dir, "latest.json"), js, 0o644)
	fmt.Print(md)
	return nil
}

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# casegate benchmark report\n\n%s, %s", r.Started.Format(time.RFC3339), r.Machine)
	if r.Quick {
		b.WriteString(" — **quick smoke run, figures not meaningful**")
	}
	b.WriteString("\n\nMedians of several runs, with min–max.\n")
	b.WriteString("\n## Targets (issue 17), each beside its ceiling from the same run\n\n| target | median | min–max | target | met | beside it | section |\n|---|---|---|---|---|---|---|\n")
	for _, s := range r.Sections {
		number, title, _ := strings.Cut(s.Title, " ")
		if s.Skipped != "" {
			fmt.Fprintf(&b, "| %s | not measured: %s |  |  |  |  | %s |\n", title, s.Skipped, strings.TrimSuffix(number, "."))
		}
		for _, f := range s.Figures {
			if f.Met == nil {
				continue
			}
			met := map[bool]string{true: "yes", false: "**no**"}[*f.Met]
			fmt.Fprintf(&b, "| %s | %s %s | %s–%s | %s | %s | %s | %s |\n", f.Name, num(f.Median), f.Unit, num(f.Min), num(f.Max), f.Target, met, f.Beside, strings.TrimSuffix(number, "."))
		}
	}
	for _, s := range r.Sections {
		fmt.Fprintf(&b, "\n## %s\n\n", s.Title)
		if s.Skipped != "" {
			fmt.Fprintf(&b, "Not measured: %s\n", s.Skipped)
		}
		if len(s.Figures) > 0 {
			b.WriteString("| figure | median | min–max | target | met |\n|---|---|---|---|---|\n")
		}
		for _, f := range s.Figures {
			met := ""
			if f.Met != nil {
				met = map[bool]string{true: "yes", false: "**no**"}[*f.Met]
			}
			name := f.Name
			if f.Note != "" {
				name += " (" + f.Note + ")"
			}
			fmt.Fprintf(&b, "| %s | %s %s | %s–%s | %s | %s |\n", name, num(f.Median), f.Unit, num(f.Min), num(f.Max), f.Target, met)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "\n%s\n", n)
		}
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "\n**failed:** %s\n", f)
	}
	return b.String()
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func machine() string {
	host, _ := os.Hostname()
	b, _ := os.ReadFile("/proc/cpuinfo")
	cores := strings.Count(string(b), "processor\t:")
	return fmt.Sprintf("%s, %d cores", host, cores)
}
