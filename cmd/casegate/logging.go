package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"

	slogjournal "github.com/systemd/slog-journal"
)

// newLogger builds the process's logger from [log]. Under systemd, whose
// journal reads stderr, every line goes to the journal natively instead,
// with its syslog priority (journalctl -p err finds the errors) and each
// key as a field of its own (journalctl CASEGATE_CASE=1042).
func newLogger(c *Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(strings.ToUpper(c.Log.Level)))
	if f, ok := w.(*os.File); ok && journalStream(f, os.Getenv("JOURNAL_STREAM")) {
		if h, err := newJournalHandler(level); err == nil {
			return slog.New(h)
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// journalStream reports whether f is the stream systemd connected to the
// journal: JOURNAL_STREAM names its device and inode (systemd.exec(5)).
// Output redirected elsewhere (a file, a pipe to another program) keeps
// plain lines.
func journalStream(f *os.File, env string) bool {
	dev, ino, ok := strings.Cut(env, ":")
	if !ok {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return dev == strconv.FormatUint(uint64(st.Dev), 10) && ino == strconv.FormatUint(st.Ino, 10)
}

// journalHandler writes records to the journal's native socket: MESSAGE is
// the whole line as the text handler writes it (without time and level,
// which the journal records itself), PRIORITY the syslog level of the
// record, and each attribute a field named CASEGATE_<KEY>.
type journalHandler struct {
	journal slog.Handler
	text    func(w io.Writer) slog.Handler // the same line, as text
	level   slog.Level
	with    []func(slog.Handler) slog.Handler // WithAttrs and WithGroup, in order
}

func newJournalHandler(level slog.Level) (*journalHandler, error) {
	j, err := slogjournal.NewHandler(&slogjournal.Options{
		Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			a.Key = journalField(a.Key)
			return a
		},
		// A group's attributes are GROUP_CASEGATE_KEY.
		ReplaceGroup: func(g string) string { return strings.TrimPrefix(journalField(g), "CASEGATE_") },
	})
	if err != nil {
		return nil, err
	}
	plain := func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
			return slog.Attr{}
		}
		return a
	}
	return &journalHandler{
		journal: j,
		level:   level,
		text: func(w io.Writer) slog.Handler {
			return slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: plain})
		},
	}, nil
}

// journalField turns a key into a journal field name, which must be upper
// case letters, digits and underscores, not starting with one: "case" →
// CASEGATE_CASE, "message_id" → CASEGATE_MESSAGE_ID (never the journal's
// own MESSAGE_ID).
func journalField(key string) string {
	var b strings.Builder
	b.WriteString("CASEGATE_")
	for _, r := range strings.ToUpper(key) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func (h *journalHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	var line bytes.Buffer
	text := h.text(&line)
	for _, w := range h.with {
		text = w(text)
	}
	if err := text.Handle(ctx, r); err != nil {
		return err
	}
	msg := strings.TrimSuffix(line.String(), "\n")
	// The text handler writes msg="…"; the journal's MESSAGE is the line
	// as a person reads it: the message, then the keys.
	if rest, ok := strings.CutPrefix(msg, slog.MessageKey+"="); ok {
		msg = rest
		if strings.HasPrefix(rest, `"`) {
			if q, err := strconv.QuotedPrefix(rest); err == nil {
				unq, _ := strconv.Unquote(q)
				msg = unq + rest[len(q):]
			}
		}
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	return h.journal.Handle(ctx, out)
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.wrap(h.journal.WithAttrs(attrs), func(t slog.Handler) slog.Handler { return t.WithAttrs(attrs) })
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return h.wrap(h.journal.WithGroup(name), func(t slog.Handler) slog.Handler { return t.WithGroup(name) })
}

func (h *journalHandler) wrap(journal slog.Handler, w func(slog.Handler) slog.Handler) *journalHandler {
	h2 := *h
	h2.journal = journal
	h2.with = append(append([]func(slog.Handler) slog.Handler(nil), h.with...), w)
	return &h2
}

var _ slog.Handler = (*journalHandler)(nil)
