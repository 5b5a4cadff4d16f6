package threads

import (
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

// The JSON the writer reads (casegate_write in functions.sql): a plan, its
// message's raw bytes and text given as slices of the batch's raws and
// texts.
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
		Raw  [2]int `json:"raw"`  // offset, length in raws
		Text [2]int `json:"text"` // offset, length in texts
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
	// The messages' raw bytes and texts, each in one buffer of its exact
	// size; a batch of one message passes its raw bytes as they are, so a
	// 25 MB mail is not copied once more before the driver's own copy.
	var rawLen, textLen, withRaw int
	for _, p := range plans {
		if m := p.Message; m != nil {
			rawLen, textLen, withRaw = rawLen+len(m.Raw), textLen+len(m.Text), withRaw+1
		}
	}
	texts, raws := make([]byte, 0, textLen), []byte{}
	if withRaw > 1 {
		raws = make([]byte, 0, rawLen)
	}
	wps := make([]writePlan, len(plans))
	for i, p := range plans {
		wp := writePlan{plan: p, Now: now, AnswerCap: s.opts.Safety.MaxAutoRepliesPerDay}
		if m := p.Message; m != nil {
			wm := &writeMessage{messageRow: m, Hash: hex.EncodeToString(m.BodySHA256)}
			wm.Raw = [2]int{len(raws), len(m.Raw)}
			if withRaw == 1 && len(m.Raw) > 0 {
				raws = m.Raw
			} else {
				raws = append(raws, m.Raw...)
			}
			wm.Text = [2]int{len(texts), len(m.Text)}
			texts = append(texts, m.Text...)
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
	// Neither is nil, so neither reaches PostgreSQL as NULL.
	var out []byte
	if err := s.q.Write.QueryRow(ctx, r, string(doc), texts, raws).Scan(&out); err != nil {
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
