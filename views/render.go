package views

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// reportCategoryColumns are the columns of the text report.
var reportCategoryColumns = []string{"total", "customer", "journalist", "vip"}

func (rep Report) figures(cat string) Figures {
	if cat == "total" || cat == "all" {
		return rep.Total
	}
	return rep.ByCategory[cat]
}

// rules lists the escalation rules of the report, sorted.
func (rep Report) rules() []string {
	var rules []string
	for r := range rep.Total.EscalationsPR {
		rules = append(rules, r)
	}
	sort.Strings(rules)
	return rules
}

// duration formats seconds of business time for people: "–" for none.
func duration(seconds float64, n int) string {
	if n == 0 {
		return "–"
	}
	return (time.Duration(seconds) * time.Second).Round(time.Minute).String()
}

func percent(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }

// WriteText writes the figures of rep as the table `casegate report`
// prints (and the weekly mail's text part carries).
func WriteText(w io.Writer, rep Report) error {
	fmt.Fprintf(w, "Cases opened %s – %s; times in business hours of %s\n\n",
		rep.From.Format("2006-01-02 15:04"), rep.To.Format("2006-01-02 15:04 MST"), rep.Calendar)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(name string, v func(Figures) string) {
		fmt.Fprint(tw, name+"\t")
		for _, c := range reportCategoryColumns {
			fmt.Fprint(tw, v(rep.figures(c))+"\t")
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprint(tw, "\t")
	for _, c := range reportCategoryColumns {
		fmt.Fprint(tw, c+"\t")
	}
	fmt.Fprintln(tw)
	row("opened", func(f Figures) string { return strconv.Itoa(f.Opened) })
	row("resolved", func(f Figures) string { return strconv.Itoa(f.Resolved) })
	row("resolution rate", func(f Figures) string { return percent(f.ResolutionRate) })
	row("first response, median", func(f Figures) string { return duration(f.FirstResponse.MedianSeconds, f.FirstResponse.Count) })
	row("first response, p90", func(f Figures) string { return duration(f.FirstResponse.P90Seconds, f.FirstResponse.Count) })
	row("resolution, median", func(f Figures) string { return duration(f.Resolution.MedianSeconds, f.Resolution.Count) })
	row("resolution, p90", func(f Figures) string { return duration(f.Resolution.P90Seconds, f.Resolution.Count) })
	row("reopen rate", func(f Figures) string { return percent(f.ReopenRate) })
	row("ratings", func(f Figures) string { return strconv.Itoa(f.Ratings) })
	row("CSAT (4–5)", func(f Figures) string {
		if f.Ratings == 0 {
			return "–"
		}
		return percent(f.CSAT)
	})
	for _, r := range rep.rules() {
		row("escalated to PR: "+r, func(f Figures) string { return strconv.Itoa(f.EscalationsPR[r]) })
	}
	return tw.Flush()
}

// WriteCSV writes every figure of p as one CSV row: section, key, figure,
// value (durations in seconds, ratios 0–1), for a spreadsheet.
func WriteCSV(w io.Writer, p Page) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"section", "key", "figure", "value"})
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, c := range append([]string{"all"}, reportCategoryColumns[1:]...) {
		f := p.Report.figures(c)
		for _, kv := range [][2]string{
			{"opened", strconv.Itoa(f.Opened)}, {"resolved", strconv.Itoa(f.Resolved)},
			{"resolution_ratio", num(f.ResolutionRate)},
			{"first_response_count", strconv.Itoa(f.FirstResponse.Count)},
			{"first_response_median_seconds", num(f.FirstResponse.MedianSeconds)},
			{"first_response_p90_seconds", num(f.FirstResponse.P90Seconds)},
			{"resolution_median_seconds", num(f.Resolution.MedianSeconds)},
			{"resolution_p90_seconds", num(f.Resolution.P90Seconds)},
			{"reopened", strconv.Itoa(f.Reopened)}, {"reopen_ratio", num(f.ReopenRate)},
			{"ratings", strconv.Itoa(f.Ratings)}, {"csat", num(f.CSAT)},
		} {
			cw.Write([]string{"category", c, kv[0], kv[1]})
		}
		for _, r := range p.Report.rules() {
			cw.Write([]string{"escalations_to_pr", c + ":" + r, "count", strconv.Itoa(f.EscalationsPR[r])})
		}
	}
	for _, wk := range p.Weeks {
		key := wk.Start.Format("2006-01-02")
		cw.Write([]string{"week", key, "opened", strconv.Itoa(wk.Opened)})
		cw.Write([]string{"week", key, "resolved", strconv.Itoa(wk.Resolved)})
		cw.Write([]string{"week", key, "first_response_median_seconds", num(wk.FirstResponseMedianSeconds)})
		cw.Write([]string{"week", key, "ratings", strconv.Itoa(wk.Ratings)})
		cw.Write([]string{"week", key, "csat", num(wk.CSAT)})
	}
	for _, b := range p.FirstResponses {
		cw.Write([]string{"first_response", b.Label, "cases", strconv.Itoa(b.Count)})
	}
	for _, b := range p.OpenByAge {
		cw.Write([]string{"open_by_age", b.Label, "cases", strconv.Itoa(b.Count)})
	}
	for _, s := range p.Staff {
		cw.Write([]string{"staff", s.Actor, "replies", strconv.Itoa(s.Replies)})
		cw.Write([]string{"staff", s.Actor, "resolved", strconv.Itoa(s.Resolved)})
		cw.Write([]string{"staff", s.Actor, "changes", strconv.Itoa(s.Changes)})
		cw.Write([]string{"staff", s.Actor, "cases", strconv.Itoa(s.Cases)})
		cw.Write([]string{"staff", s.Actor, "open_assigned", strconv.Itoa(s.OpenAssigned)})
	}
	cw.Flush()
	return cw.Error()
}

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"bars":     barChart,
	"hbars":    hbarChart,
	"trend":    trendChart,
	"percent":  percent,
	"duration": duration,
	"date":     func(t time.Time) string { return t.Format("2006-01-02") },
	"datetime": func(t time.Time) string { return t.Format("2006-01-02 15:04 MST") },
	"columns":  func() []string { return reportCategoryColumns },
}).Parse(reportHTML))

// WriteHTML writes p as one self-contained HTML page: no script, no
// stylesheet or font from elsewhere, every chart an inline SVG, so it opens
// from a file, a mail or a web server alike.
func WriteHTML(w io.Writer, p Page) error {
	return reportTemplate.Execute(w, p)
}

// Charts. Each is an inline SVG built here; every text in it goes through
// template.HTMLEscapeString.

const chartColor = "#2b6cb0"

func esc(s string) string { return template.HTMLEscapeString(s) }

// barChart draws buckets as vertical bars with their counts.
func barChart(title string, buckets []Bucket) template.HTML {
	const width, height, top, bottom = 560, 220, 24, 36
	max := 0
	for _, b := range buckets {
		max = int(math.Max(float64(max), float64(b.Count)))
	}
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`,
		esc(title), width, height, width, height)
	n := len(buckets)
	if n == 0 {
		n = 1
	}
	slot := float64(width) / float64(n)
	plot := float64(height - top - bottom)
	for i, b := range buckets {
		h := 0.0
		if max > 0 {
			h = plot * float64(b.Count) / float64(max)
		}
		x := float64(i)*slot + slot*0.15
		y := float64(top) + plot - h
		fmt.Fprintf(&s, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %d</title></rect>`,
			x, y, slot*0.7, math.Max(h, 1), chartColor, esc(b.Label), b.Count)
		fmt.Fprintf(&s, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="12">%d</text>`, x+slot*0.35, y-4, b.Count)
		fmt.Fprintf(&s, `<text x="%.1f" y="%d" text-anchor="middle" font-size="12">%s</text>`, x+slot*0.35, height-bottom+18, esc(b.Label))
	}
	fmt.Fprintf(&s, `<line x1="0" y1="%d" x2="%d" y2="%d" stroke="#888"/></svg>`, height-bottom, width, height-bottom)
	return template.HTML(s.String())
}

// hbarChart draws labelled horizontal bars, for rules and people.
func hbarChart(title string, buckets []Bucket) template.HTML {
	const width, row, label = 560, 26, 220
	max := 0
	for _, b := range buckets {
		max = int(math.Max(float64(max), float64(b.Count)))
	}
	height := row*len(buckets) + 8
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`,
		esc(title), width, height, width, height)
	for i, b := range buckets {
		w := 0.0
		if max > 0 {
			w = float64(width-label-50) * float64(b.Count) / float64(max)
		}
		y := i*row + 4
		fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end" font-size="12">%s</text>`, label-8, y+15, esc(b.Label))
		fmt.Fprintf(&s, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %d</title></rect>`,
			label, y+2, math.Max(w, 1), row-8, chartColor, esc(b.Label), b.Count)
		fmt.Fprintf(&s, `<text x="%.1f" y="%d" font-size="12">%d</text>`, float64(label)+w+6, y+15, b.Count)
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String())
}

// trendChart draws one value per week as a line; a week without data (no
// case, no rating) is a gap, not a zero. kind is "percent" or "duration".
func trendChart(title, kind string, weeks []Week) template.HTML {
	const width, height, left, top, bottom = 560, 220, 56, 16, 40
	type point struct {
		x   float64
		y   float64
		ok  bool
		lab string
	}
	value := func(w Week) (float64, bool) {
		switch title {
		case "Resolution rate":
			return w.ResolutionRatio, w.Opened > 0
		case "CSAT":
			return w.CSAT, w.Ratings > 0
		default: // first response
			return w.FirstResponseMedianSeconds, w.FirstResponses > 0
		}
	}
	max := 0.0
	for _, w := range weeks {
		if v, ok := value(w); ok {
			max = math.Max(max, v)
		}
	}
	if kind == "percent" || max == 0 {
		max = math.Max(max, 1)
	}
	format := func(v float64) string {
		if kind == "percent" {
			return percent(v)
		}
		return duration(v, 1)
	}
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`,
		esc(title), width, height, width, height)
	plotW, plotH := float64(width-left-36), float64(height-top-bottom)
	for _, f := range []float64{0, 0.5, 1} {
		y := float64(top) + plotH*(1-f)
		fmt.Fprintf(&s, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`, left, y, width-36, y)
		fmt.Fprintf(&s, `<text x="%d" y="%.1f" text-anchor="end" font-size="11">%s</text>`, left-6, y+4, esc(format(max*f)))
	}
	n := len(weeks)
	var path strings.Builder
	pen := false
	for i, w := range weeks {
		x := float64(left) + plotW/2
		if n > 1 {
			x = float64(left) + plotW*float64(i)/float64(n-1)
		}
		fmt.Fprintf(&s, `<text x="%.1f" y="%d" text-anchor="middle" font-size="11">%s</text>`, x, height-bottom+16, w.Start.Format("Jan 2"))
		v, ok := value(w)
		if !ok {
			pen = false
			continue
		}
		y := float64(top) + plotH*(1-v/max)
		if pen {
			fmt.Fprintf(&path, " L%.1f %.1f", x, y)
		} else {
			fmt.Fprintf(&path, " M%.1f %.1f", x, y)
			pen = true
		}
		fmt.Fprintf(&s, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>week of %s: %s</title></circle>`,
			x, y, chartColor, w.Start.Format("2006-01-02"), esc(format(v)))
	}
	if path.Len() > 0 {
		fmt.Fprintf(&s, `<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.TrimSpace(path.String()), chartColor)
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String())
}

// EscalationBuckets are the escalations to PR by rule, for hbars.
func (rep Report) EscalationBuckets() []Bucket {
	var out []Bucket
	for _, r := range rep.rules() {
		out = append(out, Bucket{Label: r, Count: rep.Total.EscalationsPR[r]})
	}
	return out
}

// ReplyBuckets are the replies per person, for hbars.
func (p Page) ReplyBuckets() []Bucket {
	var out []Bucket
	for _, s := range p.Staff {
		out = append(out, Bucket{Label: s.Actor, Count: s.Replies})
	}
	return out
}

// Figure returns the figures of one column of the report: "total" (or
// "all") or a category.
func (rep Report) Figure(cat string) Figures { return rep.figures(cat) }
