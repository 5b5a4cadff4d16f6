package views

import (
	"bytes"
	"casegate/vocab"
	"context"
	"encoding/csv"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// reportFixture files four weeks of cases: staff answer most of them (one
// an hour later than the one before), resolve some, and customers rate a
// few; one case escalated to PR.
func reportFixture(t *testing.T) (*fixture, time.Time, time.Time) {
	t.Helper()
	f := newFixture(t, nil)
	ctx := context.Background()
	start := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC) // a Monday
	f.clock.Set(start)
	n := 0
	for week := 0; week < 4; week++ {
		for i := 0; i < 3+week; i++ {
			n++
			opened := start.AddDate(0, 0, 7*week).Add(time.Duration(i) * time.Hour)
			f.clock.Set(opened)
			id := f.file(t, "m"+itoa(n)+"@x", "c"+itoa(n)+"@customer.example", "Case "+itoa(n), "Something broke, case "+itoa(n))
			staff := []string{"alice@example.com", "bob@example.com"}[n%2]
			if i < 2+week/2 {
				f.db.MustExec(`INSERT INTO events (case_id, at, kind, actor, detail) VALUES ($1, $2, 'relayed', $3, '')`,
					id, opened.Add(time.Duration(1+i)*time.Hour), staff)
			}
			if i%2 == 0 {
				f.clock.Set(opened.Add(time.Duration(2+i) * time.Hour))
				if err := f.store.ChangeStatus(ctx, id, vocab.StatusResolved, staff, ""); err != nil {
					t.Fatal(err)
				}
				f.db.MustExec(`INSERT INTO ratings (case_id, message_id, score, reopened, rated_at)
					SELECT $1, min(id), $2, false, $3 FROM messages WHERE case_id = $1`, id, 2+(n%4), opened.Add(48*time.Hour))
			}
			if n == 5 {
				f.db.MustExec(`INSERT INTO escalations (case_id, rule, since, due_at, fired_at, actions) VALUES ($1, 'first-response', $2, $2, $2, '{cc_pr}')`, id, opened)
			}
		}
	}
	f.db.MustExec(`UPDATE cases SET assignee = 'alice@example.com' WHERE status = 'new' AND id % 3 = 0`)
	to := start.AddDate(0, 0, 28)
	f.clock.Set(to)
	return f, start.Add(-time.Hour), to
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestReportPageFigures checks what the charts draw.
func TestReportPageFigures(t *testing.T) {
	f, from, to := reportFixture(t)
	p, err := f.reader.ReportPage(context.Background(), from, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Report.Total.Opened != 18 {
		t.Errorf("opened = %d, want 18", p.Report.Total.Opened)
	}
	if len(p.Weeks) != 5 || p.Weeks[0].Opened != 3 || p.Weeks[3].Opened != 6 || p.Weeks[4].Opened != 0 {
		t.Errorf("weeks = %+v, want 3, 4, 5, 6 cases, then a week without", p.Weeks)
	}
	total := 0
	for _, b := range p.FirstResponses {
		total += b.Count
	}
	if total != p.Report.Total.FirstResponse.Count || p.FirstResponses[0].Count != 0 || p.FirstResponses[1].Count == 0 {
		t.Errorf("first responses = %+v (%d answered)", p.FirstResponses, p.Report.Total.FirstResponse.Count)
	}
	open := 0
	for _, b := range p.OpenByAge {
		open += b.Count
	}
	if open != 18-p.Report.Total.Resolved {
		t.Errorf("open by age = %+v, want %d open cases", p.OpenByAge, 18-p.Report.Total.Resolved)
	}
	var alice StaffFigures
	for _, s := range p.Staff {
		if s.Actor == "alice@example.com" {
			alice = s
		}
	}
	if alice.Replies == 0 || alice.Resolved == 0 || alice.OpenAssigned == 0 {
		t.Errorf("alice = %+v, want replies, resolutions and open assigned cases", alice)
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, p); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rows {
		found = found || r[0] == "category" && r[1] == "all" && r[2] == "opened" && r[3] == "18"
	}
	if !found || rows[0][0] != "section" {
		t.Errorf("CSV lacks the opened figure:\n%s", b.String())
	}
}

// TestHTMLReportInBrowser renders the HTML report in headless Chromium (the
// Debian package; make test installs it) and checks that the page is
// self-contained, that the browser built every chart from it, and that
// the screenshot shows them: not blank, with the charts' colour.
func TestHTMLReportInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (make test installs the Debian package chromium): %v", err)
	}
	f, from, to := reportFixture(t)
	p, err := f.reader.ReportPage(context.Background(), from, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, p); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	if n := strings.Count(html, "<svg"); n != 7 {
		t.Errorf("page has %d charts, want 7", n)
	}
	// Self-contained: nothing is loaded from anywhere.
	if m := regexp.MustCompile(`(?i)<script|<link|<img|\bsrc=|url\(|@import|href="http`).FindString(html); m != "" {
		t.Errorf("page loads something from elsewhere: %q", m)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	browse := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, chromium, append([]string{"--headless", "--no-sandbox", "--disable-gpu",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
			"--user-data-dir=" + t.TempDir()}, append(args, "file://"+file)...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.Bytes()
	}

	// The DOM the browser built: every chart is an SVG element with its
	// bars and points, and the figures are there.
	dom := string(browse("--dump-dom"))
	if n := strings.Count(dom, "<svg"); n != 7 {
		t.Errorf("the browser's DOM has %d charts, want 7", n)
	}
	if n := strings.Count(dom, "<rect"); n < 12 {
		t.Errorf("the browser's DOM has %d bars", n)
	}
	if !strings.Contains(dom, `<div class="v" id="opened">18</div>`) {
		t.Error("the opened tile does not say 18")
	}

	shot := filepath.Join(dir, "report.png")
	if keep := os.Getenv("CASEGATE_REPORT_SCREENSHOT"); keep != "" {
		shot = keep // to look at it
	}
	browse("--screenshot="+shot, "--window-size=1280,2200", "--hide-scrollbars")
	fh, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer fh.Close()
	img, err := png.Decode(fh)
	if err != nil {
		t.Fatal(err)
	}
	bounds := img.Bounds()
	var ink, chart int
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			r, g, b = r>>8, g>>8, b>>8
			if r < 240 || g < 240 || b < 240 {
				ink++
			}
			// The charts' blue, #2b6cb0, give or take anti-aliasing.
			if near(r, 0x2b) && near(g, 0x6c) && near(b, 0xb0) {
				chart++
			}
		}
	}
	total := bounds.Dx() * bounds.Dy()
	t.Logf("screenshot %dx%d: %d pixels not white, %d of the charts' blue", bounds.Dx(), bounds.Dy(), ink, chart)
	if ink < total/50 {
		t.Errorf("the page looks blank: %d of %d pixels not white", ink, total)
	}
	if chart < 5000 {
		t.Errorf("only %d pixels of the charts' colour: the charts did not draw", chart)
	}
}

func near(v, want uint32) bool { return v+12 >= want && v <= want+12 }
