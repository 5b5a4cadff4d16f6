package main

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// decodeConfigFile decodes the TOML document doc (read from path) into c.
// Every problem names the line it is on: a syntax error, a key Config does
// not have, a value of the wrong type or one a key's parser refuses
// ("90 minutes" for a duration). It returns where each key stands, so
// validation errors found later can point at their line too.
func decodeConfigFile(path string, doc []byte, c *Config) (keyLines, error) {
	dec := toml.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	err := dec.Decode(c)
	var strict *toml.StrictMissingError
	var de *toml.DecodeError
	switch {
	case err == nil:
	case errors.As(err, &strict):
		// Every unknown key, each at its own line.
		msgs := make([]string, 0, len(strict.Errors))
		for _, e := range strict.Errors {
			line, _ := e.Position()
			msgs = append(msgs, fmt.Sprintf("%s:%d: %s: unknown key", path, line, strings.Join(e.Key(), ".")))
		}
		key := strings.Join(strict.Errors[0].Key(), ".")
		return nil, &configError{msg: strings.Join(msgs, "\n"), key: key}
	case errors.As(err, &de):
		line, col := de.Position()
		key := strings.Join(de.Key(), ".")
		msg := decodeMessage(strings.TrimPrefix(de.Error(), "toml: "))
		if key == "" {
			return nil, configErrorf("%s:%d:%d: %s", path, line, col, msg)
		}
		return nil, &configError{msg: fmt.Sprintf("%s:%d: %s: %s", path, line, key, msg), key: key}
	default:
		return nil, configErrorf("%s: %v", path, err)
	}
	return readKeyLines(doc), nil
}

var wrongType = regexp.MustCompile(`^cannot decode TOML (\w+) into .* of type (\S+)$`)

// decodeMessage turns go-toml's wording for a value of the wrong type,
// which names Go struct types, into one that names what the key wants.
func decodeMessage(msg string) string {
	m := wrongType.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := m[2]
	switch {
	case strings.HasPrefix(want, "int"), strings.HasPrefix(want, "uint"):
		want = "an integer"
	case want == "string":
		want = "a string"
	case want == "bool":
		want = "true or false"
	case strings.HasPrefix(want, "[]"):
		want = "a list"
	case strings.HasPrefix(want, "map["), strings.HasPrefix(want, "main."):
		want = "a table"
	}
	return fmt.Sprintf("want %s, not a TOML %s", want, m[1])
}

// keyLines is where each key of a configuration file is written: dotted
// keys as validation names them, with an array table's elements numbered
// from 0 ("rule.2.after", "imap.0.tls"), and every table header.
type keyLines map[string]int

// readKeyLines reads the positions of keys with go-toml's own parser, so
// quoting, dotted keys, inline tables and arrays of tables are read the way
// the decoder reads them. doc has been decoded already: a parse error here
// only ends the walk early.
func readKeyLines(doc []byte) keyLines {
	lines := keyLines{}
	arrays := map[string]int{} // array-table path → elements so far
	var p unstable.Parser
	p.Reset(doc)
	line := func(n *unstable.Node) int { return p.Shape(n.Raw).Start.Line }
	// resolve builds the path of key parts, where every part that names an
	// array of tables stands for its last element so far.
	resolve := func(base string, it unstable.Iterator) (string, *unstable.Node) {
		path, first := base, (*unstable.Node)(nil)
		for it.Next() {
			n := it.Node()
			if first == nil {
				first = n
			}
			path = joinKey(path, string(n.Data))
			if count, ok := arrays[path]; ok {
				path = joinKey(path, strconv.Itoa(count-1))
			}
		}
		return path, first
	}
	var keyValue func(base string, kv *unstable.Node)
	keyValue = func(base string, kv *unstable.Node) {
		path, first := resolve(base, kv.Key())
		if first == nil {
			return
		}
		lines.set(path, line(first))
		v := kv.Value()
		switch v.Kind {
		case unstable.InlineTable:
			it := v.Children()
			for it.Next() {
				if c := it.Node(); c.Kind == unstable.KeyValue {
					keyValue(path, c)
				}
			}
		case unstable.Array:
			it := v.Children()
			for i := 0; it.Next(); {
				c := it.Node()
				if c.Kind == unstable.Comment {
					continue
				}
				if c.Kind == unstable.InlineTable {
					elem := joinKey(path, strconv.Itoa(i))
					lines.set(elem, line(first))
					in := c.Children()
					for in.Next() {
						if kv := in.Node(); kv.Kind == unstable.KeyValue {
							keyValue(elem, kv)
						}
					}
				}
				i++
			}
		}
	}
	table := ""
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			keyValue(table, e)
		case unstable.Table:
			path, first := resolve("", e.Key())
			if first != nil {
				table = path
				lines.set(path, line(first))
			}
		case unstable.ArrayTable:
			// All parts but the last resolve as usual; the last adds an
			// element to its array.
			it := e.Key()
			var parts []*unstable.Node
			for it.Next() {
				parts = append(parts, it.Node())
			}
			if len(parts) == 0 {
				continue
			}
			path := ""
			for _, n := range parts[:len(parts)-1] {
				path = joinKey(path, string(n.Data))
				if count, ok := arrays[path]; ok {
					path = joinKey(path, strconv.Itoa(count-1))
				}
			}
			path = joinKey(path, string(parts[len(parts)-1].Data))
			arrays[path]++
			table = joinKey(path, strconv.Itoa(arrays[path]-1))
			lines.set(table, line(parts[0]))
			if _, ok := lines[path]; !ok {
				lines[path] = line(parts[0])
			}
		}
	}
	return lines
}

func (k keyLines) set(path string, line int) {
	if _, ok := k[path]; !ok {
		k[path] = line
	}
}

func joinKey(base, part string) string {
	if base == "" {
		return part
	}
	return base + "." + part
}

// line returns the line of path ("smtp.listen", "rule.1.after"), or of the
// nearest table that holds it when the key itself is not written (a
// required key left out); 0 when none of it is in the file.
func (k keyLines) line(path string) int {
	for path != "" {
		if n, ok := k[path]; ok {
			return n
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// displayKey matches how validation names keys in its messages: "smtp.listen",
// "imap[0].tls", `rule "press".after`, "rule[2].after".
var displayKey = regexp.MustCompile(`^([a-z_]+)(?:\[(\d+)\]| "((?:[^"\\]|\\.)*)")?((?:\.[A-Za-z0-9_-]+)*)$`)

// keyPath turns a key as an error names it into a path of keyLines. Rules
// named by their name are found by it in c; "rule[N]" counts from 1 and
// "imap[N]" from 0, as their messages do.
func (c *Config) keyPath(key string) string {
	m := displayKey.FindStringSubmatch(key)
	if m == nil {
		return ""
	}
	path := m[1]
	switch {
	case m[2] != "":
		n, _ := strconv.Atoi(m[2])
		if m[1] == "rule" {
			n-- // rule[1] is the first rule
		}
		path = joinKey(path, strconv.Itoa(n))
	case m[3] != "" && m[1] == "rule":
		name, err := strconv.Unquote(`"` + m[3] + `"`)
		if err != nil {
			return ""
		}
		// The later of two rules of one name is the one to blame.
		for i := len(c.Rules) - 1; i >= 0; i-- {
			if c.Rules[i].Name == name {
				path = joinKey(path, strconv.Itoa(i))
				break
			}
		}
	}
	return path + m[4]
}

// atLine puts the line of err's key into its message ("casegate.toml:12:
// smtp.listen: …"). An error whose key is not written in the file, or
// that names no key, is returned unchanged.
func (c *Config) atLine(err error) error {
	var ce *configError
	if !errors.As(err, &ce) || c.lines == nil {
		return err
	}
	key := ce.key
	rest, ok := strings.CutPrefix(ce.msg, c.path+": ")
	if !ok {
		return err
	}
	if key == "" {
		key, _, _ = strings.Cut(rest, ": ")
	}
	at := ce.at
	if at == "" {
		at = c.keyPath(key)
	}
	line := c.lines.line(at)
	if line == 0 {
		return err
	}
	return &configError{msg: c.path + ":" + strconv.Itoa(line) + ": " + rest, key: key}
}
