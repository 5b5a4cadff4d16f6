package templates

import "sort"

// Source is one template in a loaded Set and the file it came from.
type Source struct {
	Kind Kind
	Path string // "default/<kind>.txt.tmpl" for an embedded default
}

// Sources lists the templates of s by kind, each with its file: what
// `casegate templates check` reports. Load has rendered every one of them
// with sample data already.
func (s *Set) Sources() []Source {
	out := make([]Source, 0, len(s.byKind))
	for k, p := range s.byKind {
		out = append(out, Source{Kind: k, Path: p.path})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}
