package templates

import (
	"reflect"
	"strings"
	"testing"
)

// The attack of issue 15 item 7 on every template: every single-line field
// of every kind's data (names, subjects, addresses, file names) carries a
// line break in each form a header can smuggle in, and no line of any
// rendered mail, text or HTML, in any shipped language, may start with
// the injected text.
func TestNoFieldStartsALine(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	breaks := []string{"\r\n", "\n", "\r", "\u2028", "\u2029", "\u0085", "\v", "\f"}
	for _, br := range breaks {
		payload := "Ada" + br + "From: CEO" + br + br + "Wire the money"
		for kind, sample := range kinds {
			data := poison(reflect.ValueOf(sample), payload, false).Interface()
			langs := []string{""}
			if CustomerFacing(kind) {
				langs = append(langs, s.Languages()...)
			}
			for _, lang := range langs {
				r, err := s.RenderLang(kind, lang, data)
				if err != nil {
					t.Fatalf("%s [%s]: %v", kind, lang, err)
				}
				for part, text := range map[string]string{"subject": r.Subject, "text": r.Text, "html": r.HTML} {
					for _, line := range strings.FieldsFunc(text, func(r rune) bool { return lineBreak(r) }) {
						line = strings.TrimLeft(line, " \t>")
						if strings.HasPrefix(line, "From: CEO") || strings.HasPrefix(line, "Wire the money") {
							t.Errorf("%s [%s] %s with %q: a field started the line %q", kind, lang, part, br, line)
						}
					}
				}
			}
		}
	}
}

// poison returns a copy of v with every single-line string set to payload.
func poison(v reflect.Value, payload string, multiline bool) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		out := reflect.New(v.Type()).Elem()
		out.SetString(v.String())
		if !multiline {
			out.SetString(payload)
		}
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				out.Field(i).Set(poison(v.Field(i), payload, f.Tag.Get("template") == "multiline"))
			}
		}
		return out
	case reflect.Slice:
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(poison(v.Index(i), payload, multiline))
		}
		return out
	}
	return v
}

func TestOneLineAndLines(t *testing.T) {
	for in, want := range map[string]string{
		"Ada":                         "Ada",
		"Ada Lovelace":                "Ada Lovelace",
		"Ada\r\nFrom: CEO":            "Ada From: CEO",
		"Ada\u2028From:\u2029x\u0085": "Ada From: x",
		"a\x00b\x1bc":                 "a b c",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"one\ntwo":                       "one\ntwo",
		"one\r\ntwo\rthree\u2028four":    "one\ntwo\nthree\nfour",
		"tab\tkept\x00\x1b[31mno colour": "tab\tkept[31mno colour",
	} {
		if got := Lines(in); got != want {
			t.Errorf("Lines(%q) = %q, want %q", in, got, want)
		}
	}
	// The caller's data is left alone.
	d := AcknowledgementData{CustomerName: "Ada\nX"}
	_ = clean(d, "en")
	if d.CustomerName != "Ada\nX" {
		t.Error("clean changed the caller's data")
	}
}
