package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"casegate/templates"
)

// templatesCommand is `casegate templates check -config FILE`: it loads the
// templates serve would (embedded defaults and the [templates] dir),
// renders each with sample data, and names the file and line of the first
// error. Exit status 2 on an error, like any configuration error.
func templatesCommand(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return configErrorf("usage: casegate templates check -config FILE")
	}
	fs := flag.NewFlagSet("templates check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/casegate/casegate.toml", "configuration file")
	if err := fs.Parse(args[1:]); err != nil {
		return configErrorf("templates check: %v", err)
	}
	c, err := loadConfig(*path, getenv)
	if err != nil {
		return err
	}
	dir := c.resolve(c.Templates.Dir)
	set, err := templates.Load(dir)
	if err != nil {
		return &configError{msg: fmt.Sprintf("%s: templates.dir: %v", c.path, err), key: "templates.dir"}
	}
	overrides := 0
	for _, src := range set.Sources() {
		from := "default"
		if !strings.HasPrefix(src.Path, "default/") {
			from, overrides = src.Path, overrides+1
		}
		if src.HTML != "" {
			from += " + HTML " + src.HTML
		}
		name := string(src.Kind)
		if src.Lang != "" {
			name += " [" + src.Lang + "]"
		}
		fmt.Fprintf(stdout, "%-34s ok  %s\n", name, from)
	}
	fmt.Fprintf(stdout, "%d templates rendered with sample data, %d from %s\n", len(set.Sources()), overrides, orNone(dir))
	return nil
}

func orNone(dir string) string {
	if dir == "" {
		return "no [templates] dir"
	}
	return dir
}
