package threads

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"casegate/internal/sqlfile"
)

// written is what the writer made of one plan.
type written struct {
	Outcome string `json:"outcome"` // filed, duplicate, conflict, quarantined
	Case    int64  `json:"case"`
	Message int64  `json:"message"`
}

// The JSON the writer reads (casegate_write in schema.sql): a plan, its
// message's bytes given as slices of the batch's blob.
type (
	writePlan struct {
		*plan
		Now       time.Time     `json:"now"`
		AnswerCap int           `json:"answer_cap"`
		Message   *writeMessage `json:"message,omitempty"`
		Events    []writeEvent  `json:"events,omitempty"`
		Intents   []writeIntent `json:"intents,omitempty"`
	}
	writeMessage struct {
		*messageRow
		Hash string `json:"hash"`
		Raw  [2]int `json:"raw"`  // offset, length in the blob
		Text [2]int `json:"text"` // offset, length in the blob
	}
	writeEvent struct {
		event
		OnCase int64 `json:"on_case,omitempty"`
	}
	writeIntent struct {
		Kind      string          `json:"kind"`
		MessageID string          `json:"message_id"`
		Spec      json.RawMessage `json:"spec"`
		Source    int64           `json:"source,omitempty"`
		AnswerTo  string          `json:"answer_to,omitempty"`
	}
)

// write stores plans in one statement on r (the database: one implicit
// transaction; or a transaction the caller commits) and says what became
// of each.
func (s *Store) write(ctx context.Context, r sqlfile.Runner, plans []*plan, now time.Time) ([]written, error) {
	var blob bytes.Buffer
	wps := make([]writePlan, len(plans))
	for i, p := range plans {
		wp := writePlan{plan: p, Now: now, AnswerCap: s.opts.Safety.MaxAutoRepliesPerDay}
		if m := p.Message; m != nil {
			wm := &writeMessage{messageRow: m, Hash: hex.EncodeToString(m.BodySHA256)}
			wm.Raw = [2]int{blob.Len(), len(m.Raw)}
			blob.Write(m.Raw)
			wm.Text = [2]int{blob.Len(), len(m.Text)}
			blob.WriteString(m.Text)
			wp.Message = wm
		}
		for _, e := range p.Events {
			wp.Events = append(wp.Events, writeEvent{event: e, OnCase: e.Case})
		}
		for i := range p.Intents {
			in := &p.Intents[i]
			spec, err := in.marshal()
			if err != nil {
				return nil, fmt.Errorf("intent %s: %w", in.Kind, err)
			}
			wp.Intents = append(wp.Intents, writeIntent{Kind: string(in.Kind), MessageID: in.MessageID, Spec: spec, Source: in.Source, AnswerTo: in.AnswerTo})
		}
		wps[i] = wp
	}
	doc, err := json.Marshal(wps)
	if err != nil {
		return nil, err
	}
	b := blob.Bytes()
	if b == nil {
		b = []byte{} // a nil []byte would reach PostgreSQL as NULL
	}
	var out []byte
	if err := s.q.Write.QueryRow(ctx, r, string(doc), b).Scan(&out); err != nil {
		return nil, fmt.Errorf("write %d plans: %w", len(plans), err)
	}
	var res []written
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	if len(res) != len(plans) {
		return nil, fmt.Errorf("write: %d results for %d plans", len(res), len(plans))
	}
	return res, nil
}
