package templates

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Optional files beside <kind>.txt.tmpl:
//
//	<kind>.html.tmpl          an HTML body (html/template: escaped by default);
//	                          the mail becomes multipart/alternative
//	<kind>.<lang>.txt.tmpl    the kind in language lang (e.g. "de", "pt-br")
//	<kind>.<lang>.html.tmpl   its HTML body
//
// A language variant stands alone: it does not borrow the default's HTML,
// so a mail never mixes two languages.

// langTag is what a language in a file name may look like (BCP 47, lower
// case): "de", "pt-br", "zh-hant".
var langTag = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{2,8})*$`)

// loadHTML parses the optional HTML body of name ("acknowledgement",
// "acknowledgement.de"): from dir, else embedded, else nil.
func loadHTML(dir, name string) (*htmltemplate.Template, error) {
	src, path, ok, err := readOptional(dir, name+".html.tmpl")
	if err != nil || !ok {
		return nil, err
	}
	t, err := htmltemplate.New(path).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	return t, nil
}

// loadLanguages finds the language variants in the embedded defaults and
// dir, parses and test-renders each one.
func (s *Set) loadLanguages(dir string) error {
	names, err := templateFiles(dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimSuffix(name, ".txt.tmpl"), ".html.tmpl")
		kind, lang, ok := strings.Cut(base, ".")
		if !ok {
			continue // <kind>.txt.tmpl or <kind>.html.tmpl
		}
		sample, known := kinds[Kind(kind)]
		if !known {
			return fmt.Errorf("template %s: no mail kind %q", name, kind)
		}
		if !langTag.MatchString(lang) {
			return fmt.Errorf("template %s: %q is not a language tag in lower case (e.g. de, pt-br)", name, lang)
		}
		if !CustomerFacing(Kind(kind)) {
			return fmt.Errorf("template %s: %s is mail to staff, which is always written in the default files' language; only mail to customers has language variants", name, kind)
		}
		if _, done := s.byLang[lang][Kind(kind)]; done {
			continue
		}
		src, path, ok, err := readOptional(dir, base+".txt.tmpl")
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("template %s: an HTML variant needs %s.txt.tmpl for its subject and text", name, base)
		}
		p, err := parse(path, src)
		if err != nil {
			return err
		}
		p.path = path
		if p.html, err = loadHTML(dir, base); err != nil {
			return err
		}
		if _, err := p.render(sample, lang); err != nil {
			return err
		}
		if s.byLang[lang] == nil {
			s.byLang[lang] = make(map[Kind]parsed)
		}
		s.byLang[lang][Kind(kind)] = p
	}
	return nil
}

// RenderLang renders kind in language lang: the variant for lang
// ("de-at"), else for its primary language ("de"), else the default.
func (s *Set) RenderLang(kind Kind, lang string, data any) (Rendered, error) {
	lang = strings.ToLower(strings.TrimSpace(lang))
	for lang != "" {
		if p, ok := s.byLang[lang][kind]; ok {
			return p.render(data, lang)
		}
		i := strings.LastIndex(lang, "-")
		if i < 0 {
			break
		}
		lang = lang[:i]
	}
	return s.Render(kind, data)
}

// Has reports whether s writes customer mail in lang: a language with
// variants (exactly, or its primary language: "de-at" has "de"), or the
// language of the default files.
func (s *Set) Has(lang string) bool {
	lang = strings.ToLower(strings.TrimSpace(lang))
	return lang != "" && (len(s.byLang[lang]) > 0 || len(s.byLang[primaryLanguage(lang)]) > 0 || primaryLanguage(lang) == DefaultFilesLanguage)
}

// Choose returns the first of the customer's languages, most preferred
// first, that s writes mail in (see Has), else fallback: content
// negotiation, so a customer who reads French and German gets German when
// there is no French.
func (s *Set) Choose(preferred []string, fallback string) string {
	for _, l := range preferred {
		if s.Has(l) {
			return strings.ToLower(strings.TrimSpace(l))
		}
	}
	return fallback
}

// Languages lists the languages that have at least one variant.
func (s *Set) Languages() []string {
	var out []string
	for l := range s.byLang {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// templateFiles lists the template file names in the embedded defaults and
// in dir.
func templateFiles(dir string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if (strings.HasSuffix(name, ".txt.tmpl") || strings.HasSuffix(name, ".html.tmpl")) && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	embedded, err := fs.ReadDir(defaults, "default")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	for _, e := range embedded {
		add(e.Name())
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("templates %s: %w", dir, err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				add(e.Name())
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// readOptional is read for a file that may be absent from both places.
func readOptional(dir, name string) (src, file string, ok bool, err error) {
	src, file, err = read(dir, name)
	if err == nil {
		return src, file, true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", false, nil
	}
	return "", "", false, err
}

// DefaultFilesLanguage is the language the default files
// (<kind>.txt.tmpl) are written in.
const DefaultFilesLanguage = "en"

// customerKinds are the kinds of mail that go to customers: each exists in
// every language the Set has, with the same parts.
var customerKinds = []Kind{Acknowledgement, JournalistAcknowledgement, StatusReply, HoldingReply, Relayed,
	Resolution, Followup, RatingThanks, Merged}

// CustomerFacing reports whether mail of kind goes to customers (and so is
// written in the case's language); the rest goes to staff, in English.
func CustomerFacing(kind Kind) bool {
	for _, k := range customerKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// CustomerKinds lists the kinds of mail that go to customers.
func CustomerKinds() []Kind { return append([]Kind(nil), customerKinds...) }

// checkLanguages makes sure every language writes every customer mail with
// the same parts as the default files: a language without the
// acknowledgement would answer a customer in another language than the
// rest of her case, and an HTML part in one language but not another would
// make her mail look different by language. The error names the missing
// file and where it would go.
func (s *Set) checkLanguages(dir string) error {
	where := "default"
	if dir != "" {
		where = dir
	}
	for _, lang := range s.Languages() {
		for _, kind := range customerKinds {
			p, ok := s.byLang[lang][kind]
			if !ok {
				return fmt.Errorf("template %s/%s.%s.txt.tmpl: missing: the language %q has customer mail, so it needs every kind (%s); copy %s and translate it",
					where, kind, lang, lang, joinKinds(customerKinds), s.byKind[kind].path)
			}
			base := s.byKind[kind]
			switch {
			case base.html != nil && p.html == nil:
				return fmt.Errorf("template %s/%s.%s.html.tmpl: missing: %s has an HTML part in the default language (%s), so it needs one in %q too",
					where, kind, lang, kind, base.html.Name(), lang)
			case base.html == nil && p.html != nil:
				return fmt.Errorf("template %s: %s has an HTML part in %q but not in the default language; add %s/%s.html.tmpl or remove this one",
					p.html.Name(), kind, lang, where, kind)
			}
		}
	}
	return nil
}

func joinKinds(ks []Kind) string {
	var names []string
	for _, k := range ks {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}
