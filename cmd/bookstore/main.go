// Command bookstore serves the Bookstore REST API and administers its
// database. Everything but the process itself lives in run, so tests drive
// the real program with their own arguments, environment and streams.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
