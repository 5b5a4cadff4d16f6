package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"
	"github.com/jmoiron/sqlx"

	"casegate"
	"casegate/mailout"
)

// sink is a local SMTP server that accepts and counts everything.
type sink struct{ n atomic.Int64 }

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return sinkSession{s}, nil }

type sinkSession struct{ s *sink }

func (sinkSession) Reset()                               {}
func (sinkSession) Logout() error                        { return nil }
func (sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (ss sinkSession) Data(r io.Reader) error            { io.Copy(io.Discard, r); ss.s.n.Add(1); return nil }

// runOutbox is scenario 4: queued acknowledgements delivered to a local sink.
func runOutbox(ctx context.Context, e *env, r *report) error {
	total := 10000
	if e.quick {
		total = 300
	}
	var rates []float64
	for run := 0; run < e.runs; run++ {
		rate, err := outboxRate(ctx, e, total)
		if err != nil {
			return err
		}
		rates = append(rates, rate)
	}
	r.add(section{
		Title:   fmt.Sprintf("4. Outbox delivery (%d queued acknowledgements to a local SMTP sink)", total),
		Figures: []figure{newFigure("deliveries/s", "msg/s", rates).withTarget(">=", 1000)},
		Notes:   []string{"mailout's Sender alone (no filing meanwhile), from rendered outbox rows to a local go-smtp sink that accepts everything over reused connections, each delivery recorded as sent after its handoff. No ceiling is run beside it; scenario 8 shows delivery while filing goes on."},
	})
	return nil
}

func outboxRate(ctx context.Context, e *env, total int) (float64, error) {
	dbURL, err := e.freshDatabase("outbox")
	if err != nil {
		return 0, err
	}
	defer e.dropDatabase(dbURL)
	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxIdleConns(20) // as casegate serve does: no reconnect per delivery
	if _, err := casegate.Migrate(ctx, db.DB); err != nil {
		return 0, err
	}
	now := time.Now()
	for i := 0; i < total; {
		tx, err := db.Beginx()
		if err != nil {
			return 0, err
		}
		for j := 0; j < 500 && i < total; j, i = j+1, i+1 {
			m := &mailout.Message{
				From:      mail.Address{Name: "Example Support", Address: "support@support.example.com"},
				To:        []mail.Address{{Address: fmt.Sprintf("c%d@customer.example", i)}},
				Subject:   fmt.Sprintf("Re: Problem [#%d]", 1000+i),
				MessageID: mailout.NewMessageID("support.example.com"),
				Auto:      mailout.AutoReplied,
				Text:      "Thank you for writing to us. Your message has been filed.\n",
			}
			if _, err := mailout.Enqueue(ctx, tx, m, now); err != nil {
				tx.Rollback()
				return 0, err
			}
		}
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}

	s := &sink{}
	srv, addr, err := startSinkWith(s)
	if err != nil {
		return 0, err
	}
	defer srv.Close()
	sender := mailout.NewSender(mailout.SenderOptions{
		DB:        db,
		Transport: mailout.NewSmarthost(mailout.SmarthostOptions{Address: addr, TLS: "none"}),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Poll:      50 * time.Millisecond,
	})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- sender.Run(runCtx) }()
	deadline := time.Now().Add(10 * time.Minute)
	for s.n.Load() < int64(total) {
		if time.Now().After(deadline) {
			cancel()
			<-done
			return 0, fmt.Errorf("outbox: only %d of %d delivered in 10 minutes", s.n.Load(), total)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cancel()
	<-done
	return float64(total) / elapsed.Seconds(), nil
}

// startSink starts a local SMTP server that accepts everything.
func startSink() (*smtp.Server, string, error) { return startSinkWith(&sink{}) }

func startSinkWith(s *sink) (*smtp.Server, string, error) {
	srv := smtp.NewServer(s)
	srv.Domain = "sink.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	go srv.Serve(l)
	return srv, l.Addr().String(), nil
}
