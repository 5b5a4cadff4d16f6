package mailin

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var languageTag = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{2,8})*$`)

// language picks the customer's language for the templates: the first tag
// of Content-Language (RFC 3282: the language the mail is written in),
// else the most preferred of Accept-Language (RFC 3282/9110 q-values),
// lower case. Anything that is not a plain language tag ("*", garbage) is
// ignored; "" means no language.
func language(contentLanguage, acceptLanguage string) string {
	for _, tag := range strings.Split(contentLanguage, ",") {
		if t := strings.ToLower(strings.TrimSpace(tag)); languageTag.MatchString(t) {
			return t
		}
	}
	type choice struct {
		tag string
		q   float64
	}
	var choices []choice
	for _, item := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(item, ";")
		t := strings.ToLower(strings.TrimSpace(tag))
		if !languageTag.MatchString(t) {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f <= 0 {
				continue
			}
			q = f
		}
		choices = append(choices, choice{t, q})
	}
	sort.SliceStable(choices, func(i, j int) bool { return choices[i].q > choices[j].q })
	if len(choices) == 0 {
		return ""
	}
	return choices[0].tag
}
