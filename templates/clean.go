package templates

import (
	"reflect"
	"strings"
)

// Every value a template prints passes through clean first, whatever the
// template (text or HTML, any language, an admin's override): the one place
// that keeps header-borne text from shaping the mail casegate writes.
//
// A display name, subject, address or file name comes from a header, where
// an RFC 2047 encoded-word can carry a CR, an LF or a Unicode line
// separator. Printed as it is, "Ada=0D=0AFrom: CEO" would start a line of
// its own in the acknowledgement's greeting or the digest's "Who:" line, and
// a sender could write lines into mail from support. So every string field
// is one line unless its struct field is tagged `template:"multiline"` (the
// texts people wrote, which are bodies anyway); a multiline field keeps its
// line breaks, normalised to "\n", and loses other control characters.

// clean returns a copy of data (a struct or a pointer to one; anything else
// passes unchanged) with every string made safe as above, and every Moment
// bound to lang, the language of the template about to print it. The
// caller's data is never changed.
func clean(data any, lang string) any {
	if data == nil {
		return nil
	}
	return cleanValue(reflect.ValueOf(data), lang, false).Interface()
}

var momentType = reflect.TypeFor[Moment]()

func cleanValue(v reflect.Value, lang string, multiline bool) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		out := reflect.New(v.Type()).Elem()
		if multiline {
			out.SetString(Lines(v.String()))
		} else {
			out.SetString(OneLine(v.String()))
		}
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		if v.Type() == momentType {
			m := v.Interface().(Moment)
			m.lang = lang
			out.Set(reflect.ValueOf(m))
			return out
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			out.Field(i).Set(cleanValue(v.Field(i), lang, f.Tag.Get("template") == "multiline"))
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		elem := cleanValue(v.Elem(), lang, multiline)
		out := reflect.New(elem.Type())
		out.Elem().Set(elem)
		return out
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		if v.Kind() == reflect.Slice {
			out.Set(reflect.MakeSlice(v.Type(), v.Len(), v.Len()))
		}
		for i := range v.Len() {
			out.Index(i).Set(cleanValue(v.Index(i), lang, multiline))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(cleanValue(it.Key(), lang, false), cleanValue(it.Value(), lang, multiline))
		}
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(cleanValue(v.Elem(), lang, multiline))
		return out
	}
	return v
}

// lineBreak reports whether r ends a line somewhere: CR, LF, VT, FF, NEL
// (U+0085) and the Unicode line and paragraph separators.
func lineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', '\u0085', '\u2028', '\u2029':
		return true
	}
	return false
}

// OneLine makes s one line of text: when it holds a line break or another
// control character, each becomes a space, runs of white space fold to one
// and the ends are trimmed. Every single-line template field gets it.
func OneLine(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || lineBreak(r) }) {
		return s
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || lineBreak(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// Lines normalises the line breaks of a multi-line text to "\n" (CRLF, a
// lone CR, NEL, U+2028 and U+2029 each become one) and drops the other
// control characters but tab.
func Lines(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || lineBreak(r)) }) {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case lineBreak(r):
			return '\n'
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
}
