package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"runtime/debug"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/jmoiron/sqlx"
	"golang.org/x/sync/errgroup"

	"casegate"
	"casegate/mailin"
	"casegate/mailout"
	"casegate/templates"
	"casegate/threads"
	"casegate/views"
	"casegate/vocab"
)

func parseFlags(name string, args []string, stderr io.Writer) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/casegate/casegate.toml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return "", configErrorf("%s: %v", name, err)
	}
	return *path, nil
}

func openDatabase(ctx context.Context, c *Config) (*sqlx.DB, error) {
	return openPool(ctx, c, c.Database.URL, c.Database.MaxConnections)
}

// openAsyncDatabase is a second, small pool whose commits do not wait for
// the disk (synchronous_commit = off), for the sender's records: each
// delivery is recorded as sent right after its handoff, and a record lost
// in a database crash only means the mail goes again, with the same
// Message-ID. Filing never uses it: a 250 waits for a durable commit.
func openAsyncDatabase(ctx context.Context, c *Config) (*sqlx.DB, error) {
	return openPool(ctx, c, withParameter(c.Database.URL, "synchronous_commit", "off"), max(2, c.Database.MaxConnections/4))
}

func openPool(ctx context.Context, c *Config, dsn string, conns int) (*sqlx.DB, error) {
	db, err := sqlx.Open("postgres", withBinaryParameters(dsn))
	if err != nil {
		return nil, configErrorf("%s: database.url: %v", c.path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return db, nil
}

// withParameter adds a run-time parameter to a PostgreSQL URL or key=value
// string (lib/pq sends unknown keys to the server as settings).
func withParameter(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if strings.Contains(dsn, "?") {
			return dsn + "&" + key + "=" + value
		}
		return dsn + "?" + key + "=" + value
	}
	return dsn + " " + key + "=" + value
}

// withBinaryParameters asks lib/pq to send parameters in binary, which
// lets it send a parameterised query in one round trip instead of two and
// passes bytea without hex-encoding it (PERF-NOTES.md: ~25 % more ingest).
// An explicit binary_parameters setting in the URL wins.
func withBinaryParameters(dsn string) string {
	if strings.Contains(dsn, "binary_parameters") {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if strings.Contains(dsn, "?") {
			return dsn + "&binary_parameters=yes"
		}
		return dsn + "?binary_parameters=yes"
	}
	return dsn + " binary_parameters=yes"
}

func migrateCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	path, err := parseFlags("migrate", args, stderr)
	if err != nil {
		return err
	}
	c, err := loadConfig(path, getenv)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := casegate.Migrate(ctx, db.DB)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "schema is up to date (version %d)\n", casegate.SchemaVersion())
	} else {
		fmt.Fprintf(stdout, "applied migrations %v; schema is at version %d\n", applied, casegate.SchemaVersion())
	}
	return nil
}

func versionCommand(stdout io.Writer) error {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	fmt.Fprintf(stdout, "casegate %s, schema version %d\n", v, casegate.SchemaVersion())
	return nil
}

func serveCommand(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	path, err := parseFlags("serve", args, stderr)
	if err != nil {
		return err
	}
	c, err := loadConfig(path, getenv)
	if err != nil {
		return err
	}
	log := newLogger(c, stderr)
	return serve(ctx, c, log, nil)
}

// serve runs the gateway until ctx ends. ready, when not nil, receives the
// bound addresses once everything is up (tests listen on port 0): those of
// [smtp] listen in order, then the LMTP listener's, then those of
// [submission] listen, then the HTTP listener's, when configured.
func serve(ctx context.Context, c *Config, log *slog.Logger, ready chan<- []net.Addr) error {
	tpl, err := templates.Load(c.resolve(c.Templates.Dir))
	if err != nil {
		return configErrorf("%s: templates: %v", c.path, err)
	}
	db, err := openDatabase(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close() // last: after every component has stopped
	if err := casegate.CheckSchema(ctx, db.DB); err != nil {
		return err
	}

	m := newMetrics(db, log, time.Now)
	delivery := newDeliveryHealth(c) // for /readyz
	transport, err := newTransport(c)
	if err != nil {
		return err
	}
	sign, err := dkimSigner(c)
	if err != nil {
		return err
	}
	async, err := openAsyncDatabase(ctx, c)
	if err != nil {
		return err
	}
	defer async.Close()
	outbox := mailout.NewOutbox(db)
	var store *threads.Store // set below; the sender runs only after that
	sender := mailout.NewSender(mailout.SenderOptions{DB: async, Outbox: outbox, Transport: transport, Logger: log, Sign: sign, Now: c.now,
		OnAttempt:  func(result string) { m.observeDelivery(result); delivery.observe(result) },
		ReturnPath: func(delivery int64) string { return store.BounceAddress(delivery) },
		OnFailed:   func(d mailout.FailedDelivery) { deliveryFailed(store, log, d) }})

	opts := storeOptions(c, db, tpl, log)
	opts.Outbox = outbox
	opts.AfterCommit = sender.Wake
	store, err = threads.NewStore(opts)
	if err != nil {
		return configErrorf("%s: %v", c.path, err)
	}
	if err := store.Prepare(ctx); err != nil {
		return err
	}
	// The report figures (report.go) come from the read side.
	reader, err := views.New(db, c.now)
	if err != nil {
		return err
	}
	m.registerReport(reader, c, log)
	// The weekly report mail ([report] weekly_to), stopped with the sweeper.
	weekly, err := weeklyReportMailer(c, db, reader, log, sender.Wake)
	if err != nil {
		return configErrorf("%s: report: %v", c.path, err)
	}
	svc, err := newService(c, log, db, store, m) // catches SIGHUP from here on
	if err != nil {
		return err
	}
	defer svc.close()
	svc.delivery = delivery

	// The certificate's expiry is a metric (alerts warn before it ends).
	if tlsConfig, err := smtpTLS(c); err != nil {
		return err
	} else {
		m.observeCertificate(tlsConfig)
	}
	pollers, err := newIMAPPollers(c, db, store, log)
	if err != nil {
		return err
	}
	// SMTP, LMTP and submission are built from one configuration path
	// (listeners.go), so each files a message the same way.
	sub := newSubmission(c)
	servers := map[string]*mailin.SMTPServer{}
	for _, kind := range []string{kindSMTP, kindLMTP, kindSubmission} {
		o, err := mailListenerOptions(c, kind, store, log, m.observeMessage, sub)
		if err != nil {
			return err
		}
		if kind == kindLMTP {
			servers[kind] = mailin.NewLMTPServer(o)
		} else {
			servers[kind] = mailin.NewSMTPServer(o)
		}
	}
	mailListeners, err := bindMailListeners(c)
	if err != nil {
		return err
	}
	defer closeMailListeners(mailListeners) // removes our LMTP socket file, and only ours
	var addrs []net.Addr
	for _, ml := range mailListeners {
		ml.server = servers[ml.kind]
		addrs = append(addrs, ml.l.Addr())
	}
	if a := svc.httpAddr(); a != nil {
		addrs = append(addrs, a)
	}
	svc.mailListeners, svc.submission, svc.imap = mailListeners, sub, pollers

	// Listeners stop first (draining sessions), then the sender, then the
	// database closes (deferred above).
	listenCtx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	senderCtx, stopSender := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSender()

	var listening errgroup.Group
	for _, ml := range mailListeners {
		ml.serving.Store(true)
		listening.Go(svc.listener(func() error {
			defer ml.serving.Store(false)
			return ml.server.Serve(listenCtx, ml.l)
		}))
	}
	for _, p := range pollers { // IMAP pollers stop with the listeners
		listening.Go(svc.listener(func() error { return p.Run(listenCtx) }))
	}
	listening.Go(func() error { return svc.Run(listenCtx) })
	svc.listening.Store(true)
	senderDone := make(chan error, 1)
	svc.sending.Store(true)
	go func() { senderDone <- sender.Run(senderCtx); svc.sending.Store(false) }()
	// The committers outlive the listeners so sessions draining at shutdown
	// still get their messages filed.
	storeCtx, stopStore := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStore()
	storeDone := make(chan error, 1)
	go func() { storeDone <- store.Run(storeCtx) }()
	// Intents committed by other processes (admin commands) wake the
	// composer through LISTEN casegate_intents; its own filings wake it
	// directly.
	notified := threads.ListenIntents(senderCtx, c.Database.URL, log)
	composerCtx, stopComposer := context.WithCancel(context.WithoutCancel(ctx))
	defer stopComposer()
	composerDone := make(chan error, 1)
	go func() { composerDone <- store.RunComposer(composerCtx, threads.ComposerOptions{Listen: notified}) }()
	sweeper := threads.NewSweeper(store, threads.SweeperOptions{
		Interval: c.Escalation.SweepInterval.Duration, BatchSize: c.Escalation.BatchSize, Logger: log})
	sweeperCtx, stopSweeper := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSweeper()
	sweeperDone := make(chan error, 1)
	go func() { sweeperDone <- sweeper.Run(sweeperCtx) }()
	// The search index is built after the commit (views/indexer.go), so
	// filing never waits for it; mail is found within seconds.
	indexer := views.NewIndexer(reader, views.IndexerOptions{Busy: store.Filing, Logger: log})
	indexerDone := make(chan error, 1)
	go func() { indexerDone <- indexer.Run(sweeperCtx) }()
	weeklyDone := make(chan error, 1)
	if weekly != nil {
		go func() { weeklyDone <- weekly.Run(sweeperCtx) }()
	}

	bound := make([]string, len(addrs)) // strings, not structs, in the log
	for i, a := range addrs {
		bound[i] = a.String()
	}
	log.Info("casegate: serving", "listen", strings.Join(bound, " "), "imap_accounts", len(pollers), "schema", casegate.SchemaVersion(), "outbound", transportName(c))
	svc.ready("serving")
	if ready != nil {
		ready <- addrs
	}
	err = listening.Wait()
	svc.listening.Store(false)
	stopListening()
	stopStore()
	<-storeDone
	stopSweeper() // before the composer and the sender, so what it decided is still sent
	<-sweeperDone
	<-indexerDone
	if weekly != nil {
		<-weeklyDone
	}
	stopComposer()
	<-composerDone
	store.ComposeOnce(context.Background(), 1000) // what the last filings committed
	stopSender()
	<-senderDone
	log.Info("casegate: stopped")
	return err
}

// storeOptions is the one place a configuration becomes threads.Options, for
// the service and the admin commands alike, so a message filed by either
// is handled the same way.
func storeOptions(c *Config, db *sqlx.DB, tpl *templates.Set, log *slog.Logger) threads.Options {
	support, _ := mail.ParseAddress(c.Addresses.Support) // validated
	return threads.Options{
		DB:        db,
		Templates: tpl,
		Support:   gomail.Address{Name: support.Name, Address: support.Address},
		Domains:   c.SMTP.Domains,
		Secret:    []byte(c.Staff.Secret),
		Logger:    log,
		// Reply tokens go stale (issue 15 item 2): token_ttl after the case
		// ended, and when signed with a key rotated out.
		PreviousSecrets: previousSecrets(c),
		TokenTTL:        c.Staff.TokenTTL.Duration,

		StaffAddresses:    staffAddresses(c),
		PR:                c.prAddress(),
		ShowNames:         c.Staff.ShowNames,
		AddCCParticipants: c.Staff.AddCCParticipants,
		Safety:            safetyOptions(c),
		Rules:             c.rules,
		// What counts (issue 16): the priority risk wording raises a case
		// to, a holding reply's promise, what a bare thank-you says.
		RiskPriority:       c.Classify.riskPriority,
		HoldingReplyWithin: c.Escalation.holdingReplyWithin(),
		ThanksWords:        c.Escalation.ThanksWords,
		Now:                c.now,
		Followup:           c.followupOptions(),
		DefaultLanguage:    strings.ToLower(c.Templates.DefaultLanguage),
		TimeZone:           c.Templates.zone,
		// Group commit takes at most a quarter of the pool: the composer,
		// the sender, the sweeper and the IMAP pollers need connections too.
		Committers: min(4, max(1, c.Database.MaxConnections/4)),
		// A stored message's attachments are read again when a mail
		// carries them (a staff notification, a relayed reply).
		Attachments: func(raw []byte) []vocab.Attachment { return mailin.Parse(raw).Attachments },
	}
}

func newTransport(c *Config) (mailout.Transport, error) {
	if c.Outbound.Maildir != "" {
		return mailout.NewMaildir(c.resolve(c.Outbound.Maildir))
	}
	mode := "starttls"
	switch {
	case c.Outbound.ImplicitTLS:
		mode = "implicit"
	case c.Outbound.StartTLS != nil && !*c.Outbound.StartTLS:
		mode = "none"
	case c.Outbound.StartTLS == nil && smarthostOnLoopback(c.Outbound.Smarthost):
		// The MTA on this machine (Postfix on 127.0.0.1:25): the mail
		// never crosses a network, and Debian's Postfix offers STARTTLS
		// with a self-signed certificate that verification would refuse.
		// starttls = true still demands it.
		mode = "none"
	}
	return mailout.NewSmarthost(mailout.SmarthostOptions{
		Address:  c.Outbound.Smarthost,
		Username: c.Outbound.Username,
		Password: c.Outbound.Password,
		TLS:      mode,
		HeloName: c.SMTP.Hostname,
	}), nil
}

// smarthostOnLoopback reports whether the relay host:port is this machine.
func smarthostOnLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	return err == nil && isLoopbackHost(host)
}

func transportName(c *Config) string {
	if c.Outbound.Maildir != "" {
		return "maildir " + c.resolve(c.Outbound.Maildir)
	}
	return "smarthost " + c.Outbound.Smarthost
}
