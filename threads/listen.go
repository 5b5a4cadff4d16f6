package threads

import (
	"context"
	"log/slog"
	"time"

	"github.com/lib/pq"
)

// ListenIntents returns a channel for ComposerOptions.Listen: it receives a
// value whenever another process commits intents (NOTIFY casegate_intents,
// sent by the write of a plan while no composer runs in that process: an
// admin command), and after a reconnection, when a notification may have
// been missed. A NOTIFY is a wake-up only: the composer's poll is what
// makes sure nothing waits. The listening connection closes when ctx ends.
func ListenIntents(ctx context.Context, dsn string, log *slog.Logger) <-chan struct{} {
	out := make(chan struct{}, 1)
	l := pq.NewListener(dsn, time.Second, time.Minute, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			log.Warn("listen: connection to PostgreSQL for notifications", "err", err)
		}
	})
	if err := l.Listen("casegate_intents"); err != nil {
		log.Warn("listen: LISTEN casegate_intents failed; admin commands' mail waits for the next poll", "err", err)
	}
	go func() {
		defer l.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case <-l.Notify: // nil after a reconnection: look anyway
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out
}
