package templates

import "sort"

// Source is one template in a loaded Set and the files it came from.
type Source struct {
	Kind Kind
	Lang string // "" for the default language
	Path string // "default/<kind>.txt.tmpl" for an embedded default
	HTML string // the HTML body's file; "" for none
}

// Sources lists the templates of s, every kind then every language
// variant, each with its files: what `casegate templates check` reports.
// Load has rendered every one of them with sample data already.
func (s *Set) Sources() []Source {
	var out []Source
	add := func(lang string, m map[Kind]parsed) {
		for k, p := range m {
			src := Source{Kind: k, Lang: lang, Path: p.path}
			if p.html != nil {
				src.HTML = p.html.Name()
			}
			out = append(out, src)
		}
	}
	add("", s.byKind)
	for lang, m := range s.byLang {
		add(lang, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Lang != out[j].Lang {
			return out[i].Lang < out[j].Lang
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

// Samples returns every kind with the sample data it is test-rendered
// from, so callers can check the mail each kind makes.
func Samples() map[Kind]any {
	out := make(map[Kind]any, len(kinds))
	for k, v := range kinds {
		out[k] = v
	}
	return out
}
