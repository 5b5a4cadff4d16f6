package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"casegate/mailin"
)

// hashPasswordCommand is `casegate hash-password [-from FILE] [LOGIN]`: it
// reads a password (the first line of FILE, or of standard input) and
// prints its bcrypt hash, as "LOGIN:hash" when a login is given: a line
// for the [submission] users_file. The password never appears in the
// process list or the shell history.
func hashPasswordCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hash-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "-", "file holding the password on its first line; - for standard input")
	if err := fs.Parse(args); err != nil {
		return configErrorf("hash-password: %v", err)
	}
	if fs.NArg() > 1 || strings.Contains(fs.Arg(0), ":") {
		return configErrorf("usage: casegate hash-password [-from FILE] [LOGIN] (a login has no \":\")")
	}
	var in io.Reader = os.Stdin
	if *from != "-" {
		f, err := os.Open(*from)
		if err != nil {
			return configErrorf("hash-password: %v", err)
		}
		defer f.Close()
		in = f
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("hash-password: read the password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return configErrorf("hash-password: no password given (the first line is empty)")
	}
	hash, err := mailin.HashPassword(password)
	if err != nil {
		return fmt.Errorf("hash-password: %w", err)
	}
	if login := strings.ToLower(fs.Arg(0)); login != "" {
		fmt.Fprintf(stdout, "%s:%s\n", login, hash)
	} else {
		fmt.Fprintln(stdout, hash)
	}
	return nil
}
