package threads

import (
	"casegate/vocab"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
)

func TestParseCommands(t *testing.T) {
	s := &Store{opts: Options{StaffAddresses: []string{"alice@example.com", "bob@example.com"}, PR: mail.Address{Address: "pr@example.com"}}}
	d := s.decider(time.Now())
	for _, tc := range []struct {
		text  string
		cmds  []string // name or name=argument
		rest  string
		error string // part of the one error expected
	}{
		{text: "Hello", rest: "Hello"},
		{text: "#resolve\nDone.", cmds: []string{"resolve"}, rest: "Done."},
		{text: "\n#Priority HIGH\n\n#assign <Bob@Example.com>\n#escalate\n\nText\n#close", cmds: []string{"priority=high", "assign=bob@example.com", "escalate"}, rest: "Text\n#close"},
		{text: "#1042 is fixed", rest: "#1042 is fixed"},
		{text: "#note\nCalled them.", cmds: []string{"note"}, rest: "Called them."},
		{text: "#reslove\nHi", error: `unknown command #reslove`},
		{text: "#priority extreme", error: `unknown priority "extreme"`},
		{text: "#priority", error: "use #priority"},
		{text: "#assign eve@evil.example", error: "not in the staff directory"},
		{text: "#assign pr@example.com", cmds: []string{"assign=pr@example.com"}},
		{text: "#resolve now", error: "takes no argument"},
		{text: "#merge #1042\nSame problem.", cmds: []string{"merge=1042"}, rest: "Same problem."},
		{text: "#merge soon", error: "use #merge <case number>"},
	} {
		cmds, rest, errs := d.parseCommands(tc.text)
		var got []string
		for _, c := range cmds {
			switch {
			case c.priority != "":
				got = append(got, c.name+"="+string(c.priority))
			case c.address != "":
				got = append(got, c.name+"="+c.address)
			case c.caseID != 0:
				got = append(got, fmt.Sprintf("%s=%d", c.name, c.caseID))
			default:
				got = append(got, c.name)
			}
		}
		if tc.error != "" {
			if len(errs) != 1 || !strings.Contains(errs[0], tc.error) {
				t.Errorf("%q: errors %q, want one with %q", tc.text, errs, tc.error)
			}
			continue
		}
		if len(errs) > 0 || !reflect.DeepEqual(got, tc.cmds) || rest != tc.rest {
			t.Errorf("%q: got %q, rest %q, errors %q; want %q, rest %q", tc.text, got, rest, errs, tc.cmds, tc.rest)
		}
	}
	// Without a PR mailbox there is nowhere to escalate to.
	s.opts.PR = mail.Address{}
	if _, _, errs := d.parseCommands("#escalate"); len(errs) != 1 {
		t.Errorf("#escalate without PR: errors %q", errs)
	}
}

func TestStatusRequest(t *testing.T) {
	for _, tc := range []struct {
		subject, text string
		want          bool
	}{
		{"status", "", true},
		{"Re: Printer on fire [#1042]", "Status?", true},
		{"RE: status [#1042]", "thanks\n\nOn Mon wrote:", true},
		{"status #1042", "", true},
		{"Printer status", "what is the status of my order", false},
		{"Re: help", "status of the printer is bad", false},
		{"Status", "case 1042", true},
	} {
		in := &vocab.Inbound{Subject: tc.subject, NewText: tc.text}
		if got := isStatusRequest(in); got != tc.want {
			t.Errorf("subject %q text %q: %v, want %v", tc.subject, tc.text, got, tc.want)
		}
	}
}
