// Package templates renders the text of every mail casegate writes from Go
// text/template files: embedded defaults under default/, each of which an
// admin may override file by file from a directory of their own.
//
// A template file is a mail in miniature: a "Subject:" line, a blank line,
// then the plain-text body. Templates are parsed and test-rendered when the
// Set is loaded, so a broken template stops the gateway at start, not when a
// customer is waiting for the mail.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

//go:embed default/*.tmpl
var defaults embed.FS

// Kind names one kind of outgoing mail.
type Kind string

// The kinds of mail casegate writes, with the data each one is rendered from.
const (
	Acknowledgement Kind = "acknowledgement" // AcknowledgementData
	SafetyNotice    Kind = "safety-notice"   // SafetyNoticeData
	// Escalation rules (see escalation.go).
	JournalistAcknowledgement Kind = "journalist-acknowledgement" // AcknowledgementData
	EscalationDigest          Kind = "escalation-digest"          // DigestData
	HoldingReply              Kind = "holding-reply"              // HoldingReplyData
	// Merged tells the customer that one of her cases is now part of another.
	Merged Kind = "merged" // MergedData
)

// kinds lists every Kind with sample data used to test-render it at load.
var kinds = map[Kind]any{
	Acknowledgement: AcknowledgementData{Case: 1042, Subject: "Printer on fire", CustomerName: "Ada", Team: "Example Support"},
	// Staff work by mail (staff.go).
	Notification:  sampleNotification,
	Relayed:       sampleRelayed,
	StatusReply:   sampleStatus,
	CommandError:  sampleCommandError,
	NotAuthorised: sampleNotAuthorised,
	Escalation:    sampleEscalation,
	SafetyNotice:  SafetyNoticeData{Case: 1042, Subject: "Printer on fire", Event: "bounce", Address: "ada@customer.example", Detail: "5.1.1 user unknown", Team: "Example Support"},

	JournalistAcknowledgement: AcknowledgementData{Case: 1042, Subject: "Request for comment", CustomerName: "Jo", Team: "Example Support"},
	EscalationDigest:          sampleDigest,
	HoldingReply:              sampleHoldingReply,
	Merged:                    sampleMerged,
	// Resolution follow-ups (followup.go).
	Resolution:      sampleFollowup,
	Followup:        sampleFollowup,
	RatingThanks:    sampleFollowup,
	DeliveryFailure: sampleDeliveryFailure,
}

// AcknowledgementData is what an acknowledgement is rendered from.
type AcknowledgementData struct {
	Case         int64  // case number
	Subject      string // the customer's subject, without our tag
	CustomerName string // display name from the customer's From, may be empty
	Team         string // signature, e.g. "Example Support"
}

// Rendered is the text of one mail.
type Rendered struct {
	Subject string // one line, safe to put in a header
	Text    string // plain-text body, LF line endings
	HTML    string // HTML body, "" when the kind has no .html.tmpl
}

// ErrMissingSubject means a template file does not start with a Subject line.
var ErrMissingSubject = errors.New("template must start with a \"Subject:\" line and a blank line")

// Set holds the parsed templates of every kind.
type Set struct {
	byKind map[Kind]parsed
	// byLang holds the language variants (<kind>.<lang>.txt.tmpl) by
	// lower-case language tag (language.go).
	byLang map[string]map[Kind]parsed
}

type parsed struct {
	subject, body *template.Template
	path          string                 // the file it came from, for templates check
	html          *htmltemplate.Template // the optional HTML body (language.go); nil for none
}

// Load parses the embedded templates and, when dir is not empty, those in
// dir that override them (same file names). Every template is rendered once
// with sample data; any error names the file.
func Load(dir string) (*Set, error) {
	s := &Set{byKind: make(map[Kind]parsed), byLang: make(map[string]map[Kind]parsed)}
	for kind, sample := range kinds {
		name := string(kind) + ".txt.tmpl"
		src, path, err := read(dir, name)
		if err != nil {
			return nil, err
		}
		p, err := parse(path, src)
		if err != nil {
			return nil, err
		}
		p.path = path
		if p.html, err = loadHTML(dir, string(kind)); err != nil {
			return nil, err
		}
		s.byKind[kind] = p
		if _, err := s.Render(kind, sample); err != nil {
			return nil, err
		}
	}
	if err := s.loadLanguages(dir); err != nil {
		return nil, err
	}
	if err := s.checkLanguages(dir); err != nil {
		return nil, err
	}
	return s, nil
}

// parse splits a template file into its Subject line and body and parses
// both; the body keeps its line numbers for error messages.
func parse(path, src string) (parsed, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	head, body, ok := strings.Cut(src, "\n\n")
	subject, found := strings.CutPrefix(head, "Subject:")
	if !ok || !found || strings.Contains(head, "\n") {
		return parsed{}, fmt.Errorf("template %s: %w", path, ErrMissingSubject)
	}
	st, err := template.New(path).Option("missingkey=error").Parse(subject)
	if err != nil {
		return parsed{}, fmt.Errorf("template %s: %w", path, err)
	}
	// Pad with the two lines the subject took so errors give file lines.
	bt, err := template.New(path).Option("missingkey=error").Parse("{{/* subject */}}\n\n" + body)
	if err != nil {
		return parsed{}, fmt.Errorf("template %s: %w", path, err)
	}
	return parsed{subject: st, body: bt}, nil
}

// Render renders the template of kind with data.
func (s *Set) Render(kind Kind, data any) (Rendered, error) {
	p, ok := s.byKind[kind]
	if !ok {
		return Rendered{}, fmt.Errorf("template %q: unknown kind", kind)
	}
	return p.render(data, DefaultFilesLanguage)
}

// render renders p, written in language lang, with data made safe by clean.
func (p parsed) render(data any, lang string) (Rendered, error) {
	data = clean(data, lang)
	var subject, body bytes.Buffer
	if err := p.subject.Execute(&subject, data); err != nil {
		return Rendered{}, fmt.Errorf("template %s: %w", p.subject.Name(), err)
	}
	if err := p.body.Execute(&body, data); err != nil {
		return Rendered{}, fmt.Errorf("template %s: %w", p.body.Name(), err)
	}
	r := Rendered{Subject: HeaderValue(subject.String()), Text: strings.TrimPrefix(body.String(), "\n\n")}
	if p.html != nil {
		var html bytes.Buffer
		if err := p.html.Execute(&html, data); err != nil {
			return Rendered{}, fmt.Errorf("template %s: %w", p.html.Name(), err)
		}
		r.HTML = html.String()
	}
	return r, nil
}

// HeaderValue makes s safe to use as one header value: line breaks
// (Unicode's too) and other control characters become spaces (so no value can start a new header) and
// runs of white space fold to one.
func HeaderValue(s string) string {
	return strings.Join(strings.Fields(OneLine(s)), " ")
}

// read returns the source of template file name: from dir when it has the
// file, else the embedded default.
func read(dir, name string) (src, path string, err error) {
	if dir != "" {
		path = filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err == nil {
			return string(b), path, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", path, fmt.Errorf("template %s: %w", path, err)
		}
	}
	b, err := defaults.ReadFile("default/" + name)
	if err != nil {
		return "", "", fmt.Errorf("template %s: %w", name, err)
	}
	return string(b), "default/" + name, nil
}
