package mailin_test

// How each mail client the samples imitate lays out its header fields:
// parameter folding, quoting, capitals, boundaries, preambles and the
// fields it adds. The layouts follow what these clients are documented and
// widely seen to write; names, addresses and identifiers are invented.

import (
	"fmt"
	"strings"
)

type kv struct{ k, v string }

// style is one mail client's way of writing MIME.
type style struct {
	id, name string
	// leafSep and multiSep separate Content-Type parameters of a leaf and
	// of a multipart: "; " keeps them on one line, ";\n\t" or ";\n " folds.
	leafSep, multiSep string
	// firstLine names parameters that stay on the first line even when the
	// others are folded (Netscape keeps charset there).
	firstLine    map[string]bool
	quoteCharset bool // charset="iso-8859-1" rather than charset=iso-8859-1
	foldLong     bool // parameters go on lines of their own when the field would pass 78 characters
	upper        bool // TEXT/PLAIN, BASE64: Pine's capitals
	// nameInType and nameInDisposition: where the file name goes.
	nameInType, nameInDisposition bool
	// fieldOrder orders a part's fields: "type", "encoding", "disposition",
	// "id", "description".
	fieldOrder []string
	preamble   string
	boundary   func(sample, i int) string
	// top writes the message header around the root's content fields.
	top func(s *sample, content []string) []string
}

func (st *style) mediaType(t string) string {
	if st.upper {
		major, minor, _ := strings.Cut(t, "/")
		if major == "application" { // Pine: APPLICATION/octet-stream
			return "APPLICATION/" + minor
		}
		return strings.ToUpper(t)
	}
	return t
}

func (st *style) encoding(cte string) string {
	if st.upper {
		return strings.ToUpper(cte)
	}
	return cte
}

// contentType writes a Content-Type field in the style.
func (st *style) contentType(t string, multipart bool, params []kv) string {
	sep := st.leafSep
	if multipart {
		sep = st.multiSep
	}
	var first, rest []string
	for _, p := range params {
		if st.firstLine[p.k] {
			first = append(first, p.k+"="+p.v)
		} else {
			rest = append(rest, p.k+"="+p.v)
		}
	}
	line := "Content-Type: " + st.mediaType(t)
	for _, f := range first {
		line += "; " + f
	}
	return st.fold(line, sep, rest)
}

// fold appends parameters to the first line of a field.
func (st *style) fold(line, sep string, params []string) string {
	if st.foldLong && len(line+"; "+strings.Join(params, "; ")) > 78 {
		sep = ";\n "
	}
	for _, p := range params {
		line += sep + p
	}
	return line
}

func quoted(s string) string { return `"` + s + `"` }

// The MUAs, and the header fields each writes around the content fields.

var outlook2000 = &style{
	id: "outlook2000", name: "Microsoft Outlook 2000 (Internet Mail Only)",
	leafSep: ";\n\t", multiSep: ";\n\t", quoteCharset: true,
	nameInType: true, nameInDisposition: true,
	fieldOrder: []string{"type", "encoding", "disposition", "id"},
	preamble:   "This is a multi-part message in MIME format.\n",
	boundary: func(s, i int) string {
		return fmt.Sprintf("----=_NextPart_%03d_%04X_01BFC0%02X.5A3C%04X", i, 0x10+s, 0x30+s, 0x1000*i+s)
	},
	top: func(s *sample, content []string) []string {
		h := []string{
			fmt.Sprintf("Message-ID: <%06x01bfc0%02x$5a3c%04x$0a00a8c0@lighthouse>", 0x100000+s.n, 0x30+s.n, 0x1000+s.n),
			"From: " + s.fromField(true),
			"To: <support@support.example.com>",
		}
		h = append(h, s.subjectField()...)
		h = append(h, "Date: "+s.date(2000, 5, "+0200", ""), "MIME-Version: 1.0")
		h = append(h, content...)
		return append(h,
			"X-Priority: 3 (Normal)",
			"X-MSMail-Priority: Normal",
			"X-Mailer: Microsoft Outlook IMO, Build 9.0.2416 (9.0.2910.0)",
			"Importance: Normal",
			"X-MimeOLE: Produced By Microsoft MimeOLE V5.00.2314.1300")
	},
}

var netscape47 = &style{
	id: "netscape47", name: "Netscape Communicator 4.7",
	leafSep: ";\n ", multiSep: ";\n ", firstLine: map[string]bool{"charset": true},
	nameInType: true, nameInDisposition: true,
	fieldOrder: []string{"type", "encoding", "id", "disposition"},
	preamble:   "This is a multi-part message in MIME format.\n",
	boundary: func(s, i int) string {
		return fmt.Sprintf("------------%08X%04X%012X", 0x0BBC657D+s*0x1111, 0x4A00+i, 0x8454627FD+s*0x10+i)
	},
	top: func(s *sample, content []string) []string {
		h := []string{
			fmt.Sprintf("Message-ID: <3927%04X.%08X@harbour.example>", 0xF100+s.n, 0x5D3B8C41+s.n),
			"Date: " + s.date(2000, 5, "-0700", ""),
			"From: " + s.fromField(false),
			"X-Mailer: Mozilla 4.7 [en] (WinNT; I)",
			"X-Accept-Language: en,pl",
			"MIME-Version: 1.0",
			"To: support@support.example.com",
		}
		h = append(h, s.subjectField()...)
		return append(h, content...)
	},
}

var eudora42 = &style{
	id: "eudora42", name: "QUALCOMM Eudora Pro 4.2",
	leafSep: "; ", multiSep: ";\n\t", quoteCharset: true,
	nameInType: true, nameInDisposition: true,
	fieldOrder: []string{"type", "encoding", "id", "disposition"},
	boundary: func(s, i int) string {
		suffix := []string{"", ".REL", ".ALT", ".ALT"}[min(i, 3)]
		return fmt.Sprintf("=====================_7149%05d==_%s", 67308+97*s+10*i, suffix)
	},
	top: func(s *sample, content []string) []string {
		h := []string{
			fmt.Sprintf("Message-Id: <4.2.0.58.2000051911%04d.00a8%04x@mail.meadow.example>", 3806+s.n, 0xd8e0+s.n),
			"X-Sender: " + s.from.addr,
			"X-Mailer: QUALCOMM Windows Eudora Pro Version 4.2.0.58 ",
			"Date: " + s.date(2000, 5, "-0700", ""),
			"To: support@support.example.com",
			"From: " + s.fromField(false),
		}
		h = append(h, s.subjectField()...)
		h = append(h, "Mime-Version: 1.0")
		return append(h, content...)
	},
}

var pine421 = &style{
	id: "pine421", name: "Pine 4.21 (Linux)",
	leafSep: "; ", multiSep: "; ", upper: true,
	nameInType: true, nameInDisposition: true,
	fieldOrder: []string{"type", "encoding", "id", "description", "disposition"},
	preamble: "  This message is in MIME format.  The first part should be readable text,\n" +
		"  while the remaining parts are likely unreadable without MIME-aware tools.\n",
	boundary: func(s, i int) string {
		return fmt.Sprintf("-1463757054-%09d-9587%05d=:%d", 952513540+s*1013+i, 44548+s, 8452+i)
	},
	top: func(s *sample, content []string) []string {
		h := []string{
			"Date: " + s.date(2000, 5, "-0600", " (MDT)"),
			"From: " + s.fromField(false),
			"To: support@support.example.com",
		}
		h = append(h, s.subjectField()...)
		h = append(h,
			fmt.Sprintf("Message-ID: <Pine.LNX.4.21.000519%04d0.%d-%d@penguin.example>", 1211+s.n, 8452+s.n, 100000+s.n),
			"MIME-Version: 1.0")
		return append(h, content...)
	},
}

var thunderbird115 = &style{
	id: "thunderbird115", name: "Mozilla Thunderbird 115",
	leafSep: "; ", multiSep: "; ", foldLong: true,
	nameInType: true, nameInDisposition: true,
	fieldOrder: []string{"type", "disposition", "encoding", "id"},
	preamble:   "This is a multi-part message in MIME format.\n",
	boundary: func(s, i int) string {
		const letters = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		var b strings.Builder
		x := uint64(s*7919 + i*104729 + 1)
		for range 24 {
			x = x*6364136223846793005 + 1442695040888963407
			b.WriteByte(letters[(x>>33)%uint64(len(letters))])
		}
		return "------------" + b.String()
	},
	top: func(s *sample, content []string) []string {
		h := []string{
			fmt.Sprintf("Message-ID: <%08x-%04x-4c2e-9a51-%012x@fjord.example>", 0x7a3c0000+s.n, 0x1000+s.n, 0x5e0000000000+s.n),
			"Date: " + s.date(2024, 3, "+0100", ""),
			"MIME-Version: 1.0",
			"User-Agent: Mozilla Thunderbird",
			"Content-Language: " + s.language,
			"To: support@support.example.com",
			"From: " + s.fromField(false),
		}
		h = append(h, s.subjectField()...)
		return append(h, content...)
	},
}

var appleMail = &style{
	id: "applemail16", name: "Apple Mail 16 (macOS)",
	leafSep: ";\n\t", multiSep: ";\n\t",
	nameInType: true, nameInDisposition: true,
	fieldOrder: []string{"encoding", "disposition", "type", "id"},
	boundary: func(s, i int) string {
		return fmt.Sprintf("Apple-Mail=_%08X-%04X-4E21-B7C5-%012X", 0x6A1B0000+s, 0x3F00+i, 0xC0FFEE000000+s*16+i)
	},
	top: func(s *sample, content []string) []string {
		h := []string{"From: " + s.fromField(false)}
		h = append(h, content...)
		h = append(h, "Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3774.500.171.1.1\\))")
		h = append(h, s.subjectField()...)
		return append(h,
			"Date: "+s.date(2024, 4, "+0200", ""),
			fmt.Sprintf("Message-Id: <%08X-%04X-4B1D-8F3E-%012X@orchard.example>", 0x2E5D0000+s.n, 0x9A00+s.n, 0x7B3C00000000+s.n),
			"To: support@support.example.com",
			"X-Mailer: Apple Mail (2.3774.500.171.1.1)")
	},
}

var gmailWeb = &style{
	id: "gmail", name: "Gmail (web)",
	leafSep: "; ", multiSep: "; ", quoteCharset: true, foldLong: true,
	nameInType: true, nameInDisposition: true,
	fieldOrder: []string{"type", "disposition", "encoding", "id", "attachment-id"},
	boundary: func(s, i int) string {
		return fmt.Sprintf("0000000000%06x%02x%08x", 0xa1b2c3+s, i, 0x0615f2e1+s*3+i)
	},
	top: func(s *sample, content []string) []string {
		h := []string{
			"MIME-Version: 1.0",
			"Date: " + s.date(2024, 5, "+0200", ""),
			fmt.Sprintf("Message-ID: <CAF%08xq%06x-Xk2wE_%04x@mail.gmail.example>", 0x3b1d0000+s.n, 0x9e7a00+s.n, 0x5c00+s.n),
		}
		h = append(h, s.subjectField()...)
		h = append(h, "From: "+s.fromField(false), "To: support@support.example.com")
		return append(h, content...)
	},
}

var outlook365 = &style{
	id: "outlook365", name: "Microsoft Outlook (Microsoft 365)",
	leafSep: "; ", multiSep: ";\n\t", quoteCharset: true,
	nameInType: true, nameInDisposition: true,
	fieldOrder: []string{"type", "description", "disposition", "id", "encoding"},
	boundary: func(s, i int) string {
		return fmt.Sprintf("_%03d_AM9PR07MB7%03dEURPRD07PROD_", 4-min(i, 2)*2, 100+s)
	},
	top: func(s *sample, content []string) []string {
		h := []string{"From: " + s.fromField(false), "To: Support <support@support.example.com>"}
		h = append(h, s.subjectField()...)
		topic := strings.TrimPrefix(s.subjectField()[0], "Subject: ")
		topic = strings.TrimPrefix(strings.TrimPrefix(topic, "RE: "), "AW: ")
		h = append(h,
			"Thread-Topic: "+topic,
			fmt.Sprintf("Thread-Index: AdqV%06xR2k7pLmHQk2wP1%04x==", 0x4c1a00+s.n, 0x7e00+s.n),
			"Date: "+s.date(2024, 6, "+0000", ""),
			fmt.Sprintf("Message-ID: <AM9PR07MB7%03d%08X@AM9PR07MB7%03d.eurprd07.prod.outlook.example>", 100+s.n, 0xA3C4D500+s.n, 100+s.n),
			"Accept-Language: "+s.language+", en-US",
			"Content-Language: "+s.language)
		h = append(h, content...)
		return append(h, "MIME-Version: 1.0")
	},
}
