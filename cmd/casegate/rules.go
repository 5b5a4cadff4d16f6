package main

import (
	"casegate/vocab"
	"context"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	_ "time/tzdata" // calendars name IANA zones; a minimal host may lack /usr/share/zoneinfo

	gomail "github.com/emersion/go-message/mail"

	"casegate/calendar"
	"casegate/mailin"
	"casegate/templates"
	"casegate/threads"
)

// EscalationSettings are the configuration keys of escalation rules
// (README, "Escalation"), embedded in Config so they sit at the top level:
// [classify], [[rule]], [calendars.NAME] and [escalation].
type EscalationSettings struct {
	Classify   ClassifyConfig            `toml:"classify"`
	Rules      []RuleConfig              `toml:"rule"`
	Calendars  map[string]CalendarConfig `toml:"calendars"`
	Escalation EscalationConfig          `toml:"escalation"`

	// Built by validateEscalation from the keys above.
	rules      []threads.Rule
	classifier *mailin.Classifier
	// now is the clock of the gateway; nil is time.Now (tests move it).
	now func() time.Time
}

// ClassifyConfig is [classify].
type ClassifyConfig struct {
	PressDomains   []string       `toml:"press_domains"`
	PressWords     map[string]int `toml:"press_words"`     // default: mailin.DefaultPressWords
	PressThreshold int            `toml:"press_threshold"` // default 3
	RiskWords      map[string]int `toml:"risk_words"`      // default: mailin.DefaultRiskWords
	RiskHighScore  int            `toml:"risk_high_score"` // default 3
	VIP            []string       `toml:"vip"`
	// RiskPriority is the priority public-risk wording (risk high) raises
	// a case to; default "high", "normal" for no raise.
	RiskPriority string `toml:"risk_priority"`

	riskPriority vocab.Priority // RiskPriority, parsed
}

// RuleConfig is one [[rule]].
type RuleConfig struct {
	Name     string    `toml:"name"`
	Category string    `toml:"category"`
	Risk     string    `toml:"risk"`
	Priority string    `toml:"priority"`
	Status   string    `toml:"status"`
	When     string    `toml:"when"`
	Count    int       `toml:"count"`
	After    *Duration `toml:"after"`
	Calendar string    `toml:"calendar"` // a [calendars.NAME], or "24x7" (default)
	Actions  []string  `toml:"actions"`
}

// CalendarConfig is one [calendars.NAME].
type CalendarConfig struct {
	Timezone string            `toml:"timezone"`
	Hours    map[string]string `toml:"hours"`
	Holidays []string          `toml:"holidays"`
}

// EscalationConfig is [escalation].
type EscalationConfig struct {
	SweepInterval Duration `toml:"sweep_interval"` // default 30s
	BatchSize     int      `toml:"batch_size"`     // default 500
	// HoldingReplyWithin is when a holding reply says she will hear back:
	// this much business time of the rule's calendar; default 4h, "0s"
	// for no time ("as soon as we can").
	HoldingReplyWithin *Duration `toml:"holding_reply_within"`
	// ThanksWords are what a bare thank-you says: such a mail needs no
	// answer and restarts no deadline; default threads.DefaultThanksWords.
	ThanksWords []string `toml:"thanks_words"`
}

// holdingReplyWithin is [escalation] holding_reply_within as
// threads.Options takes it (negative: no promise; 0: the default).
func (e EscalationConfig) holdingReplyWithin() time.Duration {
	switch {
	case e.HoldingReplyWithin == nil:
		return 0
	case e.HoldingReplyWithin.Duration == 0:
		return -1
	}
	return e.HoldingReplyWithin.Duration
}

// ruleField names the key of a [[rule]] that threads.Rule.Validate
// refused, so the error points at its line: ".when", ".count", … or ""
// for the rule as a whole.
func ruleField(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "(use none, medium or high)"):
		return ".risk"
	case strings.Contains(msg, "(use low, normal, high or urgent)"):
		return ".priority"
	case strings.Contains(msg, "no actions"):
		return ".actions"
	}
	for _, field := range []string{"category", "status", "count", "when", "after"} {
		if strings.Contains(msg, ": "+field+" ") {
			return "." + field
		}
	}
	return ""
}

// validateEscalation checks [classify], [calendars.*] and [[rule]] and
// builds what serve needs; errors name the key.
func (c *Config) validateEscalation() error {
	bad := func(key, format string, args ...any) error {
		return configErrorf("%s: %s: %s", c.path, key, fmt.Sprintf(format, args...))
	}
	classifier, err := mailin.NewClassifier(mailin.ClassifyOptions{
		PressDomains:   c.Classify.PressDomains,
		PressWords:     c.Classify.PressWords,
		PressThreshold: c.Classify.PressThreshold,
		RiskWords:      c.Classify.RiskWords,
		RiskHighScore:  c.Classify.RiskHighScore,
		VIP:            c.Classify.VIP,
	})
	if err != nil {
		return bad("classify", "%v", err)
	}
	c.classifier = classifier

	calendars := make(map[string]*calendar.Calendar)
	for name, cc := range c.Calendars {
		if name == "24x7" {
			return bad("calendars.24x7", "the name 24x7 is reserved for wall time")
		}
		cal, err := calendar.New(name, calendar.Spec{Timezone: cc.Timezone, Hours: cc.Hours, Holidays: cc.Holidays})
		if err != nil {
			return bad("calendars."+name, "%v", err)
		}
		calendars[name] = cal
	}

	c.rules = nil
	for i, rc := range c.Rules {
		key := fmt.Sprintf("rule[%d]", i+1)
		if rc.Name != "" {
			key = fmt.Sprintf("rule %q", rc.Name)
		}
		// Errors point at this rule's line even when two share a name.
		bad := func(k, format string, args ...any) error {
			err := bad(k, format, args...).(*configError)
			err.key, err.at = k, "rule."+strconv.Itoa(i)+strings.TrimPrefix(k, key)
			return err
		}
		r := threads.Rule{
			Name:     rc.Name,
			Category: vocab.Category(rc.Category),
			Risk:     vocab.Risk(rc.Risk),
			Priority: vocab.Priority(rc.Priority),
			Status:   vocab.CaseStatus(rc.Status),
			When:     threads.When(rc.When),
			Count:    rc.Count,
		}
		if rc.After == nil {
			return bad(key+".after", "required, e.g. \"0s\" (at once) or \"4h\"")
		}
		r.After = rc.After.Duration
		switch rc.Calendar {
		case "", "24x7":
		default:
			cal, ok := calendars[rc.Calendar]
			if !ok {
				return bad(key+".calendar", "%q: no [calendars.%s] (or use \"24x7\")", rc.Calendar, rc.Calendar)
			}
			r.Calendar = cal
		}
		for _, a := range rc.Actions {
			action, err := threads.ParseAction(a)
			if err != nil {
				return bad(key+".actions", "%v", err)
			}
			if action.Kind == threads.ActionCCPR && c.Addresses.PR == "" {
				return bad(key+".actions", "cc_pr needs [addresses] pr")
			}
			r.Actions = append(r.Actions, action)
		}
		if err := r.Validate(); err != nil {
			return bad(key+ruleField(err), "%v", err)
		}
		for _, prev := range c.rules {
			if prev.Name == r.Name {
				return bad(key+".name", "%q is used by an earlier rule; names must be unique", r.Name)
			}
		}
		c.rules = append(c.rules, r)
	}
	if c.Escalation.BatchSize < 0 || c.Escalation.SweepInterval.Duration < 0 {
		return bad("escalation", "sweep_interval and batch_size must be positive")
	}
	if w := c.Escalation.HoldingReplyWithin; w != nil && w.Duration < 0 {
		return bad("escalation.holding_reply_within", "must not be negative (\"0s\" promises no time)")
	}
	for _, w := range c.Escalation.ThanksWords {
		if strings.TrimSpace(w) == "" {
			return bad("escalation.thanks_words", "an empty word would make every empty mail a thank-you")
		}
	}
	c.Classify.riskPriority = vocab.PriorityHigh
	if c.Classify.RiskPriority != "" {
		p, err := vocab.ParsePriority(c.Classify.RiskPriority)
		if err != nil {
			return bad("classify.risk_priority", "%v", err)
		}
		c.Classify.riskPriority = p
	}
	return nil
}

// prAddress is [addresses] pr, parsed (validated at load).
func (c *Config) prAddress() gomail.Address {
	if c.Addresses.PR == "" {
		return gomail.Address{}
	}
	a, _ := mail.ParseAddress(c.Addresses.PR)
	return gomail.Address{Name: a.Name, Address: a.Address}
}

// rulesCommand is `casegate rules check -config FILE [-case N] [-at TIME]`.
func rulesCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return configErrorf("usage: casegate rules check -config FILE [-case N] [-at 2006-01-02T15:04:05Z07:00]")
	}
	fs := flag.NewFlagSet("rules check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/casegate/casegate.toml", "configuration file")
	caseID := fs.Int64("case", 0, "show the deadlines of this case (needs the database)")
	at := fs.String("at", "", "open the sample cases at this time (RFC 3339; default now)")
	if err := fs.Parse(args[1:]); err != nil {
		return configErrorf("rules check: %v", err)
	}
	c, err := loadConfig(*path, getenv)
	if err != nil {
		return err
	}
	now := time.Now()
	if *at != "" {
		if now, err = time.Parse(time.RFC3339, *at); err != nil {
			return configErrorf("rules check: -at: %v", err)
		}
	}
	fmt.Fprintf(stdout, "%s: configuration valid; %d rule(s), %d calendar(s)\n\n", c.path, len(c.rules), len(c.Calendars))
	for _, r := range c.rules {
		fmt.Fprintf(stdout, "rule %q: when %s → %s\n", r.Name, r.Describe(), actionList(r.Actions))
	}
	if *caseID != 0 {
		st, err := caseStateFromDatabase(ctx, c, *caseID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\ncase #%d: %s, %s, priority %s, risk %s, opened %s, %d unanswered customer mail(s)\n",
			*caseID, st.Status, st.Category, st.Priority, st.Risk, st.OpenedAt.Format(time.RFC3339), len(st.Unanswered))
		printPlan(stdout, c.rules, st, now)
		return nil
	}
	fmt.Fprintf(stdout, "\nSample cases opened %s by one customer mail, no staff reply since:\n", now.Format("Mon 2006-01-02 15:04 MST"))
	for _, sample := range []struct {
		name string
		st   threads.CaseState
	}{
		{"customer", threads.CaseState{Category: vocab.CategoryCustomer, Risk: vocab.RiskNone}},
		{"customer threatening to go public (risk high)", threads.CaseState{Category: vocab.CategoryCustomer, Risk: vocab.RiskHigh}},
		{"journalist", threads.CaseState{Category: vocab.CategoryJournalist, Risk: vocab.RiskNone}},
		{"vip", threads.CaseState{Category: vocab.CategoryVIP, Risk: vocab.RiskNone}},
	} {
		st := sample.st
		st.Status, st.Priority, st.OpenedAt, st.Unanswered = vocab.StatusNew, vocab.PriorityNormal, now, []time.Time{now}
		fmt.Fprintf(stdout, "\n  %s:\n", sample.name)
		printPlan(stdout, c.rules, st, now)
	}
	return nil
}

func printPlan(w io.Writer, rules []threads.Rule, st threads.CaseState, now time.Time) {
	byName := make(map[string]threads.Rule)
	for _, r := range rules {
		byName[r.Name] = r
	}
	plan := threads.Plan(rules, st)
	sort.SliceStable(plan, func(i, j int) bool { return plan[i].Due.Before(plan[j].Due) })
	if len(plan) == 0 {
		fmt.Fprintln(w, "    no rule applies")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, d := range plan {
		r := byName[d.Rule]
		when := "at once"
		if d.Due.After(now) {
			when = fmt.Sprintf("%s (in %s)", d.Due.In(r.Calendar.Location()).Format("Mon 2006-01-02 15:04 MST"), d.Due.Sub(now).Round(time.Minute))
		} else if now.Sub(d.Due) >= time.Minute {
			when = fmt.Sprintf("overdue since %s", d.Due.In(r.Calendar.Location()).Format("Mon 2006-01-02 15:04 MST"))
		}
		fmt.Fprintf(tw, "    %s\tfires %s\t→ %s\n", d.Rule, when, actionList(r.Actions))
	}
	tw.Flush()
}

func actionList(actions []threads.Action) string {
	s := make([]string, len(actions))
	for i, a := range actions {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

func caseStateFromDatabase(ctx context.Context, c *Config, id int64) (threads.CaseState, error) {
	db, err := openDatabase(ctx, c)
	if err != nil {
		return threads.CaseState{}, err
	}
	defer db.Close()
	tpl, err := templates.Load(c.resolve(c.Templates.Dir))
	if err != nil {
		return threads.CaseState{}, configErrorf("%s: templates: %v", c.path, err)
	}
	support, _ := mail.ParseAddress(c.Addresses.Support)
	store, err := threads.NewStore(threads.Options{
		DB: db, Templates: tpl, Support: gomail.Address{Name: support.Name, Address: support.Address},
		Secret: []byte(c.Staff.Secret), Rules: c.rules, PR: c.prAddress(),
	})
	if err != nil {
		return threads.CaseState{}, configErrorf("%s: %v", c.path, err)
	}
	return store.CaseState(ctx, id)
}
