package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/emersion/go-smtp"
)

// runLargeMail is scenario 7: one 25 MB attachment through SMTP and how much
// the gateway's peak memory grows for it.
func runLargeMail(ctx context.Context, e *env, r *report) error {
	size := 25 << 20
	if e.quick {
		size = 2 << 20
	}
	raw := bigMail(size)
	var ratios, secs []float64
	for run := 0; run < e.runs; run++ {
		dbURL, err := e.freshDatabase("large")
		if err != nil {
			return err
		}
		g, err := startGateway(ctx, e, dbURL, "")
		if err != nil {
			return err
		}
		pid := g.cmd.Process.Pid
		time.Sleep(200 * time.Millisecond)
		base, _ := readProc(pid)
		resetPeak(pid)
		start := time.Now()
		err = sendSized(g.addr, raw)
		took := time.Since(start)
		peak, _ := readProc(pid)
		g.stop()
		e.dropDatabase(dbURL)
		if err != nil {
			return fmt.Errorf("sending %d MB: %w", len(raw)>>20, err)
		}
		ratios = append(ratios, float64(peak.hwm-base.rss)/float64(len(raw)))
		secs = append(secs, took.Seconds())
	}
	r.add(section{
		Title: fmt.Sprintf("7. Large mail (%d MB message with one attachment)", len(raw)>>20),
		Figures: []figure{
			newFigure("peak RSS growth ÷ message size", "×", ratios).withTarget("<=", 3),
			newFigure("time to 250", "s", secs),
		},
	})
	return nil
}

func bigMail(size int) []byte {
	blob := make([]byte, size*3/4)
	rand.Read(blob)
	enc := base64.StdEncoding.EncodeToString(blob)
	var b bytes.Buffer
	b.Grow(size + size/38 + 1024)
	b.WriteString("From: Big Sender <big@customer.example>\r\nTo: support@support.example.com\r\nSubject: Logs attached\r\nMessage-ID: <big-" + fmt.Sprint(time.Now().UnixNano()) + "@customer.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nLogs attached.\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"logs.tar\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--b1--\r\n")
	return b.Bytes()
}

// sendSized sends raw announcing its size (RFC 1870), as Postfix and other
// MTAs do when the server offers SIZE.
func sendSized(addr string, raw []byte) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Mail("big@customer.example", &smtp.MailOptions{Size: int64(len(raw))}); err != nil {
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
