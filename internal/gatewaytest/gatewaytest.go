// Package gatewaytest starts a whole casegate in-process for one test, the
// way `casegate serve` runs it: a fresh, migrated PostgreSQL database
// (internal/pgtest), mailin's SMTP listener (and an LMTP one) on
// 127.0.0.1:0, threads' Store with its committers, composer and sweeper,
// and mailout's Sender delivering over SMTP to a smarthost double (Relay),
// a real go-smtp server on loopback whose failures the test chooses.
// Nothing is mocked: every part is the component serve runs, wired as
// cmd/casegate/serve.go wires it, from Options instead of a TOML file.
//
// Beside the gateway it offers what a behaviour test needs, once: an
// SMTP and LMTP client (Send, Client), a movable clock whose moves wake
// the sweeper (Clock), readers of what casegate queued (Outbox) and what
// the smarthost received (Relay), both parsed into Mail, database
// helpers (Count, Gateway.Case), what customers do (Gateway.OpenCase,
// Reply, OpenCustomerCase) and the mails and checks the behaviour tests
// share (fixtures.go: CustomerMail, StaffReply, RelayedText, Has, …).
//
// The tests of threads, mailin and mailout use it from their external test
// packages (package threads_test, mailin_test, mailout_test), which may
// import it although it imports those packages; their internal test
// packages cannot. views, reportmail and cmd/casegate, which it does not
// import, use it from any test. Their TestMain must call pgtest.Main, as
// each of those packages' TestMain already does.
package gatewaytest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"

	"casegate/internal/pgtest"
	"casegate/mailin"
	"casegate/mailout"
	"casegate/templates"
	"casegate/threads"
	"casegate/vocab"
)

// Options describe the gateway to start. The zero value is a gateway for
// support@support.example.com with one staff member, a PR mailbox, no
// escalation rules, no trusted networks and the wall clock; every field
// documents its default.
type Options struct {
	// Support is the support address and the name mail goes out under;
	// default "Example Support <support@support.example.com>". Its domain
	// is the one recipient domain the listeners accept ([smtp] domains).
	Support string
	// Staff is the staff directory ([addresses] staff), addresses with or
	// without a name; default ["alice@example.com"].
	Staff []string
	// PR is the PR mailbox ([addresses] pr); default "pr@example.com".
	PR string
	// Secret keys the reply tokens ([staff] secret); default
	// "test-secret-0123456789".
	Secret string
	// TrustedNetworks are the client networks or addresses whose
	// connections prove a staff sender's origin ([staff] trusted_networks),
	// e.g. "127.0.0.0/8"; default none, so loopback proves nothing.
	TrustedNetworks []string
	// AuthservID is the upstream MX whose Authentication-Results are
	// believed ([staff] authserv_id); default none.
	AuthservID string
	// ShowNames and AddCCParticipants are [staff] show_names and
	// add_cc_participants; default false.
	ShowNames, AddCCParticipants bool

	// Rules are the escalation rules ([[rule]]); default none.
	Rules []threads.Rule
	// Classify configures the classifier ([classify]); the zero value is
	// mailin's default press and risk wording with no press domains.
	Classify mailin.ClassifyOptions
	// Safety is [safety] for threads; zero values are threads' defaults
	// (5 automatic replies per address and day, 7 days of suppression).
	Safety threads.SafetyOptions
	// DNSTimeout bounds the DNS work of one message ([safety]
	// dns_timeout); default 10 seconds. Lookups go to the system resolver,
	// as in serve.
	DNSTimeout time.Duration
	// Followup is [followup]; zero values are threads' defaults.
	Followup threads.FollowupOptions
	// TimeZone is [templates] timezone: default the calendar of the first
	// no_staff_reply rule, else UTC, as serve chooses it.
	TimeZone *time.Location
	// DefaultLanguage is [templates] default_language; default "".
	DefaultLanguage string
	// TemplatesDir is [templates] dir; default none (the embedded files).
	TemplatesDir string
	// MaxMessageBytes is [smtp] max_message_bytes; default mailin's 25 MiB.
	MaxMessageBytes int64

	// LMTP also starts an LMTP listener on 127.0.0.1:0 (Gateway.LMTPAddr),
	// built from the same options as the SMTP one.
	LMTP bool
	// Clock is the gateway's clock; nil is the wall clock. Moving a Clock
	// wakes the sweeper and the sender of every gateway on it.
	Clock *Clock
	// DatabaseURL is the database to run on; default a fresh one. Give
	// another gateway's to run a second instance, or restart one, on the
	// same data.
	DatabaseURL string
	// Relay is the smarthost outgoing mail goes to; default a new one.
	// Gateways may share one.
	Relay *Relay
	// Sign signs each outgoing delivery ([outbound] dkim_key_file, see
	// mailout.NewDKIMSigner); default none.
	Sign func(raw []byte) ([]byte, error)
	// SweepInterval is [escalation] sweep_interval; default 50 ms, so
	// deadlines fire promptly also between clock moves.
	SweepInterval time.Duration
}

// Gateway is a casegate serving in-process. It stops when the test ends,
// or on Stop.
type Gateway struct {
	Addr        string         // the SMTP listener, 127.0.0.1:port
	LMTPAddr    string         // the LMTP listener with Options.LMTP, else ""
	DatabaseURL string         // the database the gateway runs on
	DB          *sqlx.DB       // a pool of the test's own, open until the test ends
	Store       *threads.Store // the gateway's store
	Relay       *Relay         // where its outgoing mail goes
	Clock       *Clock         // Options.Clock; nil for the wall clock
	Outbox      *Outbox        // reads what the gateway queued, from DB

	opts    Options // with defaults
	tpl     *templates.Set
	log     *slog.Logger
	stop    func() error
	stopped bool
}

// Defaults of Options (see there).
const (
	defaultSupport = "Example Support <support@support.example.com>"
	defaultSecret  = "test-secret-0123456789"
)

func (o Options) withDefaults() Options {
	if o.Support == "" {
		o.Support = defaultSupport
	}
	if o.Staff == nil {
		o.Staff = []string{"alice@example.com"}
	}
	if o.PR == "" {
		o.PR = "pr@example.com"
	}
	if o.Secret == "" {
		o.Secret = defaultSecret
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = 50 * time.Millisecond
	}
	if o.TimeZone == nil {
		o.TimeZone = time.UTC
		for _, r := range o.Rules {
			if r.When == threads.WhenNoStaffReply && r.Calendar != nil {
				o.TimeZone = r.Calendar.Location()
				break
			}
		}
	}
	return o
}

// Start starts a gateway with o and stops it when the test ends.
func Start(t testing.TB, o Options) *Gateway {
	t.Helper()
	o = o.withDefaults()
	if o.DatabaseURL == "" {
		o.DatabaseURL = pgtest.URL(t)
	}
	if o.Relay == nil {
		o.Relay = StartRelay(t)
	}
	g := &Gateway{DatabaseURL: o.DatabaseURL, Relay: o.Relay, Clock: o.Clock, opts: o,
		log: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
	var err error
	if g.tpl, err = templates.Load(o.TemplatesDir); err != nil {
		t.Fatalf("gatewaytest: templates: %v", err)
	}
	g.DB = sqlx.MustOpen("postgres", o.DatabaseURL)
	t.Cleanup(func() { g.DB.Close() })
	g.Outbox = NewOutbox(g.DB)
	if err := g.start(t); err != nil {
		t.Fatalf("gatewaytest: %v", err)
	}
	t.Cleanup(func() {
		if err := g.stopOnce(); err != nil {
			t.Errorf("gatewaytest: stop: %v", err)
		}
	})
	return g
}

// Stop stops the gateway as serve stops at a signal: listeners first,
// then filing, the sweeper, the composer (rendering what was committed)
// and the sender. The database and Relay stay for the test to read.
func (g *Gateway) Stop(t testing.TB) {
	t.Helper()
	if err := g.stopOnce(); err != nil {
		t.Fatalf("gatewaytest: stop: %v", err)
	}
}

func (g *Gateway) stopOnce() error {
	if g.stopped {
		return nil
	}
	g.stopped = true
	return g.stop()
}

// storeOptions are the threads options the gateway's Store runs with, as
// serve's storeOptions makes them from a configuration; Outbox and
// AfterCommit are the gateway's own.
func (g *Gateway) storeOptions(db *sqlx.DB) threads.Options {
	o := g.opts
	support, _ := mail.ParseAddress(o.Support) // checked at start
	var pr gomail.Address
	if a, err := mail.ParseAddress(o.PR); err == nil {
		pr = gomail.Address{Name: a.Name, Address: a.Address}
	}
	var staff []string
	for _, s := range o.Staff {
		if a, err := mail.ParseAddress(s); err == nil {
			staff = append(staff, strings.ToLower(a.Address))
		}
	}
	now := time.Now
	if o.Clock != nil {
		now = o.Clock.Now
	}
	return threads.Options{
		DB:                db,
		Templates:         g.tpl,
		Support:           gomail.Address{Name: support.Name, Address: support.Address},
		Secret:            []byte(o.Secret),
		Logger:            g.log,
		StaffAddresses:    staff,
		PR:                pr,
		ShowNames:         o.ShowNames,
		AddCCParticipants: o.AddCCParticipants,
		Safety:            o.Safety,
		Rules:             o.Rules,
		Now:               now,
		Followup:          o.Followup,
		DefaultLanguage:   strings.ToLower(o.DefaultLanguage),
		TimeZone:          o.TimeZone,
		Attachments:       func(raw []byte) []vocab.Attachment { return mailin.Parse(raw).Attachments },
	}
}

// SecondStore is another threads.Store on the gateway's database, with the
// same options, as an admin command or a second instance has one: staff
// actions and extra sweeps through it reach the gateway only through the
// database (its mail is rendered by the gateway's composer, woken by
// NOTIFY).
func (g *Gateway) SecondStore(t testing.TB) *threads.Store {
	t.Helper()
	db := sqlx.MustOpen("postgres", g.DatabaseURL)
	t.Cleanup(func() { db.Close() })
	s, err := threads.NewStore(g.storeOptions(db))
	if err != nil {
		t.Fatalf("gatewaytest: second store: %v", err)
	}
	return s
}

// start builds and runs the components as serve does.
func (g *Gateway) start(t testing.TB) error {
	o := g.opts
	support, err := mail.ParseAddress(o.Support)
	if err != nil {
		return fmt.Errorf("support address %q: %w", o.Support, err)
	}
	_, domain, _ := strings.Cut(support.Address, "@")
	var trusted []netip.Prefix
	for _, n := range o.TrustedNetworks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			a, aerr := netip.ParseAddr(n)
			if aerr != nil {
				return fmt.Errorf("trusted network %q: %w", n, err)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		trusted = append(trusted, p.Masked())
	}
	classifier, err := mailin.NewClassifier(o.Classify)
	if err != nil {
		return err
	}
	now := time.Now
	if o.Clock != nil {
		now = o.Clock.Now
	}

	ctx := context.Background()
	db, err := sqlx.Open("postgres", withBinaryParameters(o.DatabaseURL))
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	outbox := mailout.NewOutbox(db)
	var store *threads.Store // set below; the sender runs only after that
	sender := mailout.NewSender(mailout.SenderOptions{DB: db, Outbox: outbox, Logger: g.log, Sign: o.Sign, Now: now,
		Transport:  mailout.NewSmarthost(mailout.SmarthostOptions{Address: o.Relay.Addr, TLS: "none"}),
		ReturnPath: func(delivery int64) string { return store.BounceAddress(delivery) },
		OnFailed: func(d mailout.FailedDelivery) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := store.DeliveryFailed(ctx, d); err != nil {
				g.log.Error("outbox: telling staff of a failed delivery failed", "delivery", d.DeliveryID, "err", err)
			}
		}})
	so := g.storeOptions(db)
	so.Outbox = outbox
	so.AfterCommit = sender.Wake
	if store, err = threads.NewStore(so); err != nil {
		db.Close()
		return err
	}
	if err := store.Prepare(ctx); err != nil {
		db.Close()
		return err
	}
	g.Store = store

	listenerOptions := func(kind string) mailin.SMTPOptions {
		return mailin.SMTPOptions{
			Filer:           store,
			Domains:         []string{domain},
			MaxMessageBytes: o.MaxMessageBytes,
			Logger:          g.log.With("listener", kind),
			Now:             now,
			TrustedNetworks: trusted,
			Auth: mailin.NewAuthenticator(mailin.AuthOptions{
				Timeout: o.DNSTimeout, TrustedAuthservID: o.AuthservID}),
			Classifier: classifier,
		}
	}
	type listener struct {
		srv *mailin.SMTPServer
		l   net.Listener
	}
	var listeners []listener
	closeAll := func() {
		for _, l := range listeners {
			l.l.Close()
		}
	}
	bind := func(srv *mailin.SMTPServer) (string, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		listeners = append(listeners, listener{srv, l})
		return l.Addr().String(), nil
	}
	if g.Addr, err = bind(mailin.NewSMTPServer(listenerOptions("smtp"))); err != nil {
		db.Close()
		return err
	}
	if o.LMTP {
		if g.LMTPAddr, err = bind(mailin.NewLMTPServer(listenerOptions("lmtp"))); err != nil {
			closeAll()
			db.Close()
			return err
		}
	}

	// Run and stop in serve's order: the listeners stop first (draining
	// sessions), the committers outlive them, then the sweeper, the
	// composer with a last render, the sender, and the database.
	listenCtx, stopListening := context.WithCancel(ctx)
	listening := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { listening <- l.srv.Serve(listenCtx, l.l) }()
	}
	run := func(f func(context.Context) error) (stop func() error) {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- f(ctx) }()
		return func() error { cancel(); return <-done }
	}
	stopSender := run(sender.Run)
	stopStore := run(store.Run)
	listenIntents, stopListenIntents := context.WithCancel(ctx)
	notified := threads.ListenIntents(listenIntents, o.DatabaseURL, g.log)
	stopComposer := run(func(ctx context.Context) error {
		return store.RunComposer(ctx, threads.ComposerOptions{Listen: notified})
	})
	sweeper := threads.NewSweeper(store, threads.SweeperOptions{Interval: o.SweepInterval, Logger: g.log})
	stopSweeper := run(sweeper.Run)
	unwake := func() {}
	if o.Clock != nil {
		unwake = o.Clock.onMove(func() { sweeper.Wake(); sender.Wake() })
	}

	g.stop = func() error {
		unwake()
		stopListening()
		var errs []error
		timeout := time.After(30 * time.Second)
		for range listeners {
			select {
			case err := <-listening:
				errs = append(errs, err)
			case <-timeout:
				return errors.New("the listeners did not stop within 30s")
			}
		}
		errs = append(errs, stopStore(), stopSweeper(), stopComposer())
		if _, err := store.ComposeOnce(context.Background(), 1000); err != nil { // what the last filings committed
			errs = append(errs, err)
		}
		errs = append(errs, stopSender())
		stopListenIntents()
		errs = append(errs, db.Close())
		return errors.Join(errs...)
	}
	return nil
}

// withBinaryParameters is serve's DSN setting: lib/pq sends parameters in
// binary, one round trip per statement.
func withBinaryParameters(dsn string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&binary_parameters=yes"
	}
	return dsn + "?binary_parameters=yes"
}

// Send submits raw to the gateway's SMTP listener as a client does (see
// Send) and returns its verdict, nil for 250.
func (g *Gateway) Send(t testing.TB, from string, to []string, raw string) error {
	t.Helper()
	return Send(t, g.Addr, from, to, raw)
}

// Count runs a count query on the gateway's database once the mail
// decided so far is rendered (see Count).
func (g *Gateway) Count(t testing.TB, query string, args ...any) int {
	t.Helper()
	return Count(t, g.DB, query, args...)
}

// Case is what a test usually checks of a case row.
type Case struct {
	Status   string `db:"status"`
	Priority string `db:"priority"`
	Assignee string `db:"assignee"`
}

// Case reads case id's status, priority and assignee.
func (g *Gateway) Case(t testing.TB, id int64) Case {
	t.Helper()
	return GetCase(t, g.DB, id)
}

// GetCase reads case id's status, priority and assignee from db.
func GetCase(t testing.TB, db *sqlx.DB, id int64) Case {
	t.Helper()
	var c Case
	if err := db.Get(&c, `SELECT status, priority, assignee FROM cases WHERE id = $1`, id); err != nil {
		t.Fatalf("case %d: %v", id, err)
	}
	return c
}

// Count runs a count query on db once every intent committed so far has
// been rendered into the outbox (the composer works after the commit; see
// Rendered).
func Count(t testing.TB, db *sqlx.DB, query string, args ...any) int {
	t.Helper()
	Rendered(t, db)
	var n int
	if err := db.Get(&n, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// Rendered waits (bounded) until every intent committed so far has been
// rendered into the outbox by a running composer.
func Rendered(t testing.TB, db *sqlx.DB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pending int
		if err := db.Get(&pending, `SELECT count(*) FROM intents WHERE rendered_at IS NULL`); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d intents still not rendered after 10s", pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testWriter sends the gateway's log to the test's.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
