package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"reflect"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"casegate/mailin"
	"casegate/templates"
	"casegate/threads"
)

// service is what makes `casegate serve` a well-behaved system service:
// sd_notify readiness and watchdog (sd_notify(3)), SIGHUP reloads, and the
// optional HTTP listener with /metrics, /healthz and /readyz. serve owns it.
type service struct {
	log     *slog.Logger
	db      *sqlx.DB
	store   *threads.Store
	metrics *metrics
	config  atomic.Pointer[Config] // in force; replaced by a good reload
	hup     chan os.Signal
	http    net.Listener // nil without [http] listen

	listening atomic.Bool // every listener is accepting
	sending   atomic.Bool // the outbox sender runs

	// Set by serve before Run (listeners.go): what /readyz reports on
	// one by one, and the submission logins a reload replaces.
	mailListeners []*mailListener
	imap          []*mailin.IMAPPoller
	delivery      *deliveryHealth
	submission    *mailin.Submission
}

// newService binds the HTTP listener and starts catching SIGHUP at once,
// before readiness is announced: a SIGHUP that arrives before Run must not
// kill the process with the signal's default action.
func newService(c *Config, log *slog.Logger, db *sqlx.DB, store *threads.Store, m *metrics) (*service, error) {
	s := &service{log: log, db: db, store: store, metrics: m, hup: make(chan os.Signal, 1)}
	s.config.Store(c)
	if c.HTTP.Listen != "" {
		l, err := net.Listen("tcp", c.HTTP.Listen)
		if err != nil {
			return nil, fmt.Errorf("http.listen %s: %w", c.HTTP.Listen, err)
		}
		s.http = l
	}
	m.observeReadiness(s.readinessProblems)
	signal.Notify(s.hup, syscall.SIGHUP)
	return s, nil
}

// close releases what newService took, for a serve that ends early; after
// Run it is harmless.
func (s *service) close() {
	signal.Stop(s.hup)
	if s.http != nil {
		s.http.Close()
	}
}

// httpAddr is the bound HTTP address, or nil.
func (s *service) httpAddr() net.Addr {
	if s.http == nil {
		return nil
	}
	return s.http.Addr()
}

// ready tells systemd (Type=notify) that the database, the listeners and
// the workers are up. Without NOTIFY_SOCKET it does nothing.
func (s *service) ready(status string) {
	s.notify(daemon.SdNotifyReady + "\nSTATUS=" + status)
}

// stopping tells systemd that shutdown has begun.
func (s *service) stopping() { s.notify(daemon.SdNotifyStopping + "\nSTATUS=draining") }

func (s *service) notify(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		s.log.Warn("systemd: sd_notify failed", "err", err)
	}
}

// listener wraps a listener's Serve: when it ends with an error, the
// gateway is no longer ready and the watchdog stops being fed.
func (s *service) listener(serve func() error) func() error {
	return func() error {
		err := serve()
		if err != nil {
			s.listening.Store(false) // serve reports err when it returns
		}
		return err
	}
}

// alive is what the watchdog vouches for: the listeners accept and the
// sender runs. A database outage is not in it, on purpose: a restart does
// not cure it, while casegate keeps answering 451 so senders retry; it
// shows on /readyz and in the logs instead.
func (s *service) alive() bool { return s.listening.Load() && s.sending.Load() }

// Run serves HTTP, keeps the watchdog fed and applies SIGHUP reloads until
// ctx ends.
func (s *service) Run(ctx context.Context) error {
	defer signal.Stop(s.hup)
	var httpDone chan error // nil, never ready, without an HTTP listener
	var srv *http.Server
	if s.http != nil {
		httpDone = make(chan error, 1)
		srv = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { httpDone <- srv.Serve(s.http) }()
	}

	// sd_watchdog_enabled(3): ping at half the interval at least.
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		s.log.Warn("systemd: watchdog settings unreadable; not pinging", "err", err)
	}
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval / 3)
		defer t.Stop()
		tick = t.C
	}

	for {
		select {
		case <-ctx.Done():
			s.stopping()
			if srv == nil {
				return nil
			}
			shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			srv.Shutdown(shut)
			cancel()
			if err := <-httpDone; !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
			return nil
		case err := <-httpDone:
			return fmt.Errorf("http: %w", err)
		case <-tick:
			if s.alive() {
				s.notify(daemon.SdNotifyWatchdog)
			} else {
				s.log.Error("systemd: not feeding the watchdog: a listener or the sender has stopped")
			}
		case <-s.hup:
			s.notify(daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec())
			err := s.reload()
			if err != nil {
				s.metrics.reloads.WithLabelValues("refused").Inc()
				s.log.Error("reload refused; the previous configuration stays in force", "err", err)
				s.ready("reload refused: " + err.Error())
			} else {
				s.metrics.reloads.WithLabelValues("ok").Inc()
				s.metrics.reloaded.SetToCurrentTime()
				s.ready("serving; configuration reloaded")
			}
		}
	}
}

// reload reads the configuration file again and applies what can change
// without dropping a connection: templates and the staff directory. A file
// that fails any check changes nothing.
func (s *service) reload() error {
	old := s.config.Load()
	c, err := loadConfig(old.path, old.getenv)
	if err != nil {
		return err
	}
	tpl, err := templates.Load(c.resolve(c.Templates.Dir))
	if err != nil {
		return configErrorf("%s: templates: %v", c.path, err)
	}
	if err := s.store.Reload(threads.Settings{Templates: tpl, Staff: staffAddresses(c)}); err != nil {
		return err
	}
	if s.submission != nil && c.submissionAccounts != nil {
		s.submission.SetAccounts(c.submissionAccounts)
	}
	for _, key := range restartNeeded(old, c) {
		s.log.Warn("reload: changed setting takes effect only after a restart", "key", key)
	}
	s.config.Store(c)
	s.log.Info("reload: configuration reloaded", "config", c.path, "templates", c.resolve(c.Templates.Dir), "staff", len(c.Addresses.Staff))
	return nil
}

// restartNeeded names the sections that changed but are read only at start.
func restartNeeded(old, c *Config) []string {
	var keys []string
	for _, f := range []struct {
		key      string
		old, new any
	}{
		{"database", old.Database, c.Database},
		{"smtp", old.SMTP, c.SMTP},
		{"lmtp", old.LMTP, c.LMTP},
		{"submission", withoutUsersFile(old.Submission), withoutUsersFile(c.Submission)},
		{"http", old.HTTP, c.HTTP},
		{"addresses.support", old.Addresses.Support, c.Addresses.Support},
		{"addresses.pr", old.Addresses.PR, c.Addresses.PR},
		{"staff.secret", old.Staff.Secret, c.Staff.Secret},
		{"staff.previous_secrets", old.Staff.PreviousSecrets, c.Staff.PreviousSecrets},
		{"staff.token_ttl", old.Staff.TokenTTL, c.Staff.TokenTTL},
		{"outbound", old.Outbound, c.Outbound},
		{"log", old.Log, c.Log},
	} {
		if !reflect.DeepEqual(f.old, f.new) {
			keys = append(keys, f.key)
		}
	}
	return keys
}

// withoutUsersFile is s less the one key a reload applies.
func withoutUsersFile(s SubmissionConfig) SubmissionConfig {
	s.UsersFile = ""
	return s
}

func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		problems := s.readinessProblems(r.Context())
		if len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, p := range problems {
				fmt.Fprintln(w, p)
			}
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if s.config.Load().HTTP.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// readinessProblems checks what /readyz promises: the database answers,
// every mail listener accepts on the socket it bound (one line each), the
// workers run and outgoing delivery is not failing.
func (s *service) readinessProblems(ctx context.Context) []string {
	var problems []string
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		problems = append(problems, "database: unreachable")
		s.log.Warn("readyz: database unreachable", "err", err)
	}
	if !s.listening.Load() {
		problems = append(problems, "listeners: not accepting")
	}
	for _, ml := range s.mailListeners {
		if p := ml.problem(); p != "" {
			problems = append(problems, p)
		}
	}
	for _, p := range s.imap {
		problems = append(problems, p.Problems(time.Now())...)
	}
	if !s.sending.Load() {
		problems = append(problems, "outbox sender: not running")
	}
	if s.delivery != nil {
		if p := s.delivery.problem(); p != "" {
			problems = append(problems, p)
		}
	}
	return problems
}
