package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// runLargeMail is scenario 7: one 25 MB mail through SMTP and how much the
// gateway's peak memory grows for it, for a base64 attachment and for a
// plain-text body, each announced with SIZE (RFC 1870, as Postfix does
// when the server offers it) and without.
func runLargeMail(ctx context.Context, e *env, r *report) error {
	size := 25 << 20
	if e.quick {
		size = 2 << 20
	}
	sec := section{Title: fmt.Sprintf("7. Large mail (%d MB message): peak RSS growth of the gateway", size>>20)}
	for _, body := range []string{"attachment", "plain text"} {
		raw := bigMail(size, body == "plain text")
		for _, sized := range []bool{true, false} {
			var ratios, secs []float64
			for run := 0; run < e.runs; run++ {
				ratio, took, err := largeMailRun(ctx, e, raw, sized)
				if err != nil {
					return fmt.Errorf("%s, SIZE %v: %w", body, sized, err)
				}
				ratios = append(ratios, ratio)
				secs = append(secs, took.Seconds())
			}
			how := "with SIZE"
			if !sized {
				how = "without SIZE"
			}
			sec.Figures = append(sec.Figures,
				newFigure(fmt.Sprintf("%s, %s: peak RSS growth ÷ message size", body, how), "×", ratios).withTarget("<=", 3),
				newFigure(fmt.Sprintf("%s, %s: time to 250", body, how), "s", secs))
		}
	}
	sec.Notes = append(sec.Notes, "The gateway's peak resident memory (VmHWM, reset before the mail) minus its resident memory before, divided by the message's size. The attachment is random bytes in base64 behind a short text part; the plain-text body is lines of words.")
	r.add(sec)
	return nil
}

func largeMailRun(ctx context.Context, e *env, raw []byte, sized bool) (float64, time.Duration, error) {
	dbURL, err := e.freshDatabase("large")
	if err != nil {
		return 0, 0, err
	}
	defer e.dropDatabase(dbURL)
	g, err := startGateway(ctx, e, dbURL, "")
	if err != nil {
		return 0, 0, err
	}
	defer g.stop()
	pid := g.cmd.Process.Pid
	time.Sleep(200 * time.Millisecond)
	base, _ := readProc(pid)
	resetPeak(pid)
	start := time.Now()
	err = sendLarge(g.addr, raw, sized)
	took := time.Since(start)
	peak, _ := readProc(pid)
	if err != nil {
		return 0, 0, fmt.Errorf("sending %d MB: %w", len(raw)>>20, err)
	}
	return float64(peak.hwm-base.rss) / float64(len(raw)), took, nil
}

// bigMail returns a mail of about size bytes: a base64 attachment of
// random bytes, or a plain-text body.
func bigMail(size int, plain bool) []byte {
	var b bytes.Buffer
	b.Grow(size + size/38 + 1024)
	head := "From: Big Sender <big@customer.example>\r\nTo: support@support.example.com\r\nSubject: Logs attached\r\nMessage-ID: <big-" + fmt.Sprint(time.Now().UnixNano()) + "@customer.example>\r\nMIME-Version: 1.0\r\n"
	if plain {
		b.WriteString(head + "Content-Type: text/plain; charset=utf-8\r\n\r\n")
		line := strings.Repeat("the printer prints nothing since the update, log follows ", 2)[:74] + "\r\n"
		for b.Len() < size {
			b.WriteString(line)
		}
		return b.Bytes()
	}
	blob := make([]byte, size*3/4)
	rand.Read(blob)
	enc := base64.StdEncoding.EncodeToString(blob)
	b.WriteString(head + "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nLogs attached.\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"logs.tar\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--b1--\r\n")
	return b.Bytes()
}

// sendLarge sends raw, announcing its size (RFC 1870) when sized.
func sendLarge(addr string, raw []byte, sized bool) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	var opts *smtp.MailOptions
	if sized {
		opts = &smtp.MailOptions{Size: int64(len(raw))}
	}
	if err := c.Mail("big@customer.example", opts); err != nil {
		return err
	}
	if err := c.Rcpt("support@support.example.com", nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
