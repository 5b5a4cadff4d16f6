package mailin

import (
	"casegate/vocab"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/abadojack/whatlanggo"
)

var languageTag = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{2,8})*$`)

// languages lists the author's languages for the templates, most
// preferred first, lower case: every tag of Content-Language (RFC 3282:
// the language the mail is written in), then Accept-Language by q-value
// (RFC 3282, RFC 9110 §12.5.4). Anything that is not a plain language tag
// ("*", garbage) and q=0 are left out; nil means none is named.
func languages(contentLanguage, acceptLanguage string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, tag := range strings.Split(contentLanguage, ",") {
		if t := strings.ToLower(strings.TrimSpace(tag)); languageTag.MatchString(t) {
			add(t)
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
	for _, c := range choices {
		add(c.tag)
	}
	return out
}

// Language detection, for mail that names no language (issue 16 item 10).
//
// whatlanggo (github.com/abadojack/whatlanggo, MIT) was chosen over
// lingua-go, the other library the Go module proxy serves. On 50 short
// support mails in ten languages lingua-go was right on 49, whatlanggo on
// 39, but lingua-go adds about 130 MB to the binary (its models for 75
// languages are compiled in), takes 190 MB of memory and 2 s to load for
// ten languages (1 GB and 9 s for all) and 2–5 ms a mail; whatlanggo adds
// under 1 MB and needs no loading (BenchmarkDetectLanguage: about a third
// of BenchmarkParse for a small mail). whatlanggo has not changed since
// 2020 (trigram profiles of 84 languages; nothing in it goes stale). Its
// weakness is very short text, which it reports with a low confidence:
// below minDetectConfidence the language stays unknown and the configured
// default applies, so a wrong guess is rarer than no
// guess (TestDetectLanguage measures both on testdata/language).

// minDetectConfidence is the least whatlanggo confidence taken as the
// author's language.
const minDetectConfidence = 0.25

// detectSampleBytes bounds the text detection reads: enough for a
// reliable guess, and its cost stays flat for long mail.
const detectSampleBytes = 400

// detectCandidates are the languages detection chooses among: the widely
// written ones of Europe and its neighbours (other scripts are told by
// their script). Comparing a text with every one of whatlanggo's 84
// profiles costs twice the time for mail nobody writes to a European
// support desk, and on our samples changed no verdict.
var detectCandidates = whatlanggo.Options{Whitelist: map[whatlanggo.Lang]bool{
	whatlanggo.Eng: true, whatlanggo.Deu: true, whatlanggo.Fra: true, whatlanggo.Spa: true, whatlanggo.Ita: true,
	whatlanggo.Nld: true, whatlanggo.Por: true, whatlanggo.Pol: true, whatlanggo.Swe: true, whatlanggo.Dan: true,
	whatlanggo.Nob: true, whatlanggo.Fin: true, whatlanggo.Ces: true, whatlanggo.Hun: true, whatlanggo.Ron: true,
	whatlanggo.Tur: true, whatlanggo.Rus: true, whatlanggo.Ukr: true,
}}

// detectLanguage guesses the language the author wrote subject and text
// in, as an ISO 639-1 code ("de"); "" when unsure.
func detectLanguage(subject, text string) string {
	sample := strings.TrimSpace(replyPrefixes.ReplaceAllString(subject, "") + "\n" + text)
	if len(sample) > detectSampleBytes {
		cut := detectSampleBytes
		for cut > 0 && !utf8.RuneStart(sample[cut]) {
			cut--
		}
		sample = sample[:cut]
	}
	if sample == "" {
		return ""
	}
	info := whatlanggo.DetectWithOptions(sample, detectCandidates)
	if info.Lang < 0 || info.Confidence < minDetectConfidence {
		return ""
	}
	return info.Lang.Iso6391()
}

// replyPrefixes are the "Re:"/"AW:" a client puts before a subject, which
// say more about the client than about the author's language.
var replyPrefixes = regexp.MustCompile(`(?i)^\s*((re|fwd?|aw|wg|sv|vs)\s*:\s*)+`)

// readLanguages sets in.Languages: the languages the header names, else,
// for mail that can open a case (written by a person, not a reply), the
// language detected in what the author wrote, signature left out.
func readLanguages(in *vocab.Inbound, contentLanguage, acceptLanguage string) {
	in.Languages = languages(contentLanguage, acceptLanguage)
	if len(in.Languages) > 0 || in.Automatic || len(in.InReplyTo)+len(in.References) > 0 {
		return
	}
	text := strings.TrimSuffix(in.NewText, in.Signature)
	if l := detectLanguage(in.Subject, text); l != "" {
		in.Languages = []string{l}
	}
}
