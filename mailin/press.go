package mailin

import (
	"casegate/vocab"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultPressWords are wording reporters use in subjects and signatures,
// with weights: a message whose matches add up to PressThreshold is from
// the press.
var DefaultPressWords = map[string]int{
	"reporter": 2, "journalist": 2, "correspondent": 2, "editor": 1, "newsroom": 2,
	"for a story": 3, "press inquiry": 3, "press enquiry": 3, "media inquiry": 3, "media enquiry": 3,
	"on deadline": 2, "request for comment": 3, "for comment": 2, "comment for": 1,
}

// DefaultRiskWords are wording of a dispute heading into public, with
// weights: any match makes the risk medium, RiskHighScore makes it high.
var DefaultRiskWords = map[string]int{
	"tweet": 1, "twitter": 1, "post about this": 2, "social media": 1, "go public": 3,
	"go to the press": 3, "going to the press": 3, "contact the press": 3, "tell the press": 3, "contact a journalist": 3, "the media": 2,
	"consumer advocate": 2, "ombudsman": 3, "lawyer": 3, "attorney": 3, "legal action": 3, "sue": 2,
	"chargeback": 2, "review": 1, "bad review": 2, "bbb": 2, "better business bureau": 2, "trading standards": 2,
}

// ClassifyOptions configures a Classifier. Nil maps take the defaults; an
// empty non-nil map turns that wording check off.
type ClassifyOptions struct {
	PressDomains   []string       // sender domains (and their subdomains) of the press
	PressWords     map[string]int // default DefaultPressWords
	PressThreshold int            // default 3
	RiskWords      map[string]int // default DefaultRiskWords
	RiskHighScore  int            // default 3
	VIP            []string       // addresses ("ceo@example.com") or domains ("example.com")
}

// Classifier tells journalists, VIPs and public-risk wording apart. It
// knows nothing of cases: it sets Category, Risk and Evidence on an
// Inbound, and threads decides what they mean.
type Classifier struct {
	opts  ClassifyOptions
	press wordList
	risk  wordList
}

// wordList is a list of weighted words and phrases, indexed by their first
// word so that one pass over a text finds them all.
type wordList struct {
	words []weighted       // sorted by word, for stable evidence
	first map[string][]int // first token → indexes into words
}

type weighted struct {
	word   string
	weight int
	tokens []string // the word or phrase as lower-case words
}

// NewClassifier compiles opts.
func NewClassifier(opts ClassifyOptions) (*Classifier, error) {
	if opts.PressWords == nil {
		opts.PressWords = DefaultPressWords
	}
	if opts.RiskWords == nil {
		opts.RiskWords = DefaultRiskWords
	}
	if opts.PressThreshold <= 0 {
		opts.PressThreshold = 3
	}
	if opts.RiskHighScore <= 0 {
		opts.RiskHighScore = 3
	}
	c := &Classifier{opts: opts}
	var err error
	if c.press, err = compileWords("press_words", opts.PressWords); err != nil {
		return nil, err
	}
	if c.risk, err = compileWords("risk_words", opts.RiskWords); err != nil {
		return nil, err
	}
	c.opts.PressDomains = lowerAll(opts.PressDomains)
	c.opts.VIP = lowerAll(opts.VIP)
	return c, nil
}

func compileWords(key string, list map[string]int) (wordList, error) {
	var out []weighted
	for w, n := range list {
		w = strings.TrimSpace(w)
		if w == "" || n <= 0 {
			return wordList{}, fmt.Errorf("%s: %q = %d: words must be non-empty with a positive weight", key, w, n)
		}
		// Whole words only, any case, any white space or punctuation
		// between words: "editor" must not match "creditor".
		tokens := words(w)
		if len(tokens) == 0 {
			return wordList{}, fmt.Errorf("%s: %q has no letters or digits", key, w)
		}
		out = append(out, weighted{word: strings.ToLower(w), weight: n, tokens: tokens})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].word < out[j].word })
	first := map[string][]int{}
	for i, w := range out {
		first[w.tokens[0]] = append(first[w.tokens[0]], i)
	}
	return wordList{words: out, first: first}, nil
}

// Classify sets in's Category, Risk and Evidence, for every message:
// "automatic" (auto-replies, bulk, lists) only means nobody answers it
// automatically — a journalist's mail sent with Precedence: bulk is still
// a journalist's (issue 16 item 5). What the classification changes is
// threads' business: automatic mail on an existing case changes nothing
// there. A nil Classifier does nothing.
func (c *Classifier) Classify(in *vocab.Inbound) {
	if c == nil {
		return
	}
	from := strings.ToLower(in.From.Address)
	_, domain, _ := strings.Cut(from, "@")

	// Journalists: a press domain, or a reporter's wording in the subject
	// or anywhere in the text (signatures are where reporters say so).
	press := ""
	for _, d := range c.opts.PressDomains {
		if domainMatches(domain, d) {
			press = d
			break
		}
	}
	score, matched := match(c.press, in.Subject+"\n"+in.Text)
	switch {
	case press != "":
		in.Category = vocab.CategoryJournalist
		in.Evidence = append(in.Evidence, "press_domains: "+press)
	case score >= c.opts.PressThreshold:
		in.Category = vocab.CategoryJournalist
		in.Evidence = append(in.Evidence, fmt.Sprintf("press_words: %s (score %d ≥ %d)", matched, score, c.opts.PressThreshold))
	default:
		for _, v := range c.opts.VIP {
			if v == from || !strings.Contains(v, "@") && domainMatches(domain, v) {
				in.Category = vocab.CategoryVIP
				in.Evidence = append(in.Evidence, "vip: "+v)
				break
			}
		}
	}

	// Public risk: what the author wrote now, not the history they quote.
	text := in.NewText
	if strings.TrimSpace(text) == "" {
		text = in.Text
	}
	if score, matched := match(c.risk, in.Subject+"\n"+text); score > 0 {
		in.Risk = vocab.RiskMedium
		if score >= c.opts.RiskHighScore {
			in.Risk = vocab.RiskHigh
		}
		in.Evidence = append(in.Evidence, fmt.Sprintf("risk_words: %s (score %d)", matched, score))
	}
}

// match adds the weights of the words found in text (each word once) and
// lists them as "word (weight)".
func match(list wordList, text string) (int, string) {
	// One pass over the text's words, looking up phrases by their first
	// word, without copying the text: a regular expression per word cost
	// 10 ms of CPU per 10 KB mail (backtracking), a scan of the text per
	// word a tenth of that, lower-casing and splitting the whole text first
	// still a quarter of a millisecond.
	if len(list.words) == 0 {
		return 0, ""
	}
	var hit []bool
	var word, next []byte
	for rest := text; rest != ""; {
		word, rest = nextWord(word[:0], rest)
		ks, ok := list.first[string(word)] // no allocation for a map index
		if !ok {
			continue
		}
		for _, k := range ks {
			if hit != nil && hit[k] {
				continue
			}
			var ok bool
			if ok, next = followedBy(next, rest, list.words[k].tokens[1:]); ok {
				if hit == nil {
					hit = make([]bool, len(list.words))
				}
				hit[k] = true
			}
		}
	}
	score := 0
	var found []string
	for k, ok := range hit {
		if ok {
			w := list.words[k]
			score += w.weight
			found = append(found, fmt.Sprintf("%q (%d)", w.word, w.weight))
		}
	}
	return score, strings.Join(found, ", ")
}

// nextWord appends the next word of s, lower case, to buf and returns it
// with the rest of s after it. A word is a run of letters and digits, as
// in words; at the end of s the word is empty.
func nextWord(buf []byte, s string) ([]byte, string) {
	i := 0
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf { // ASCII, most of most mail: no decoding
			if asciiWord[c] {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if isWordRune(r) {
			break
		}
		i += size
	}
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if !asciiWord[c] {
				break
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf = append(buf, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) {
			break
		}
		buf = utf8.AppendRune(buf, unicode.ToLower(r))
		i += size
	}
	return buf, s[i:]
}

// asciiWord marks the ASCII letters and digits.
var asciiWord = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = isWordRune(rune(c))
	}
	return t
}()

// followedBy reports whether the words of s begin with tokens; buf is
// scratch space, returned for reuse.
func followedBy(buf []byte, s string, tokens []string) (bool, []byte) {
	for _, t := range tokens {
		buf, s = nextWord(buf[:0], s)
		if string(buf) != t {
			return false, buf
		}
	}
	return true, buf
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// words splits s into lower-case words of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

func domainMatches(domain, want string) bool {
	return domain != "" && (domain == want || strings.HasSuffix(domain, "."+want))
}

func lowerAll(in []string) []string {
	out := make([]string, 0, len(in))
	for _, v := range in {
		out = append(out, strings.ToLower(strings.TrimSpace(v)))
	}
	return out
}
