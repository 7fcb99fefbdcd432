package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/edgevault/edgevault/broker"
)

// passwdCommand reads a password from stdin and prints its bcrypt hash, the
// form mqtt.users[].password_hash takes in the config.
func passwdCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("passwd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: edgevault passwd < password-file\n\nPrints the bcrypt hash of the password read from the first line of standard input.")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintf(stderr, "edgevault passwd: read password: %v\n", err)
		return 1
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		fmt.Fprintln(stderr, "edgevault passwd: empty password")
		return 2
	}
	hash, err := broker.HashPassword(pw)
	if err != nil {
		fmt.Fprintf(stderr, "edgevault passwd: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, hash)
	return 0
}
