package threads

import "testing"

func TestParseFollowupReply(t *testing.T) {
	for _, c := range []struct {
		text string
		want followupReply
	}{
		{"4 works now, thanks\n\n> Did this fix it?", followupReply{score: 4, comment: "works now, thanks"}},
		{"5/5", followupReply{score: 5}},
		{"  2 of 5 meh\nstill slow\n", followupReply{score: 2, comment: "meh\nstill slow", reopen: true}},
		{"4 but it is not fixed on the second PC", followupReply{score: 4, comment: "but it is not fixed on the second PC", reopen: true}},
		{"Reopen please", followupReply{comment: "Reopen please", reopen: true}},
		{"STOP", followupReply{stop: true}},
		{"unsubscribe me", followupReply{stop: true}},
		{"Thanks! 5 stars from me", followupReply{comment: "Thanks! 5 stars from me"}}, // no leading number: not a rating
		{"10 out of 10", followupReply{comment: "10 out of 10"}},
		{"> 5 quoted only", followupReply{}},
	} {
		got := parseFollowupReply(c.text, 2)
		if got != c.want {
			t.Errorf("%q: got %+v, want %+v", c.text, got, c.want)
		}
	}
}
