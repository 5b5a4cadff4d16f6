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
		if _, err := p.render(sample); err != nil {
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
			return p.render(data)
		}
		i := strings.LastIndex(lang, "-")
		if i < 0 {
			break
		}
		lang = lang[:i]
	}
	return s.Render(kind, data)
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
