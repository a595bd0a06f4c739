package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/bookstore/bookstore/internal/tracing"
)

// version is set at build time: go build -ldflags "-X main.version=...".
var version = "dev"

const commandsUsage = `Bookstore serves the bookstore REST API described by api/openapi.yaml.

Usage:
  bookstore [serve] [flags]        serve the API (the default command)
  bookstore migrate [flags]        apply the database migrations and exit
  bookstore user create --username NAME [--admin] [flags]
                                   create a user; the password is read from stdin
  bookstore user set-password|grant-admin|revoke-admin USERNAME, bookstore user list
                                   account recovery and admins ('bookstore user --help')
  bookstore keys rotate [flags]    make a new signing key; the old ones retire
  bookstore keys revoke --kid KID [flags]
                                   withdraw a signing key at once (a leaked one)
  bookstore keys list [flags]      list the stored signing keys
  bookstore import-seed [flags] PATH
                                   import the Flask tutorial's bookstore.db (users and books)
  bookstore backup [flags] DEST    copy the live SQLite database to the file DEST
  bookstore copy --from DATABASE --to DATABASE
                                   copy everything between SQLite and PostgreSQL
  bookstore version                print the version (also: bookstore --version)
  bookstore help                   print this help

Run 'bookstore COMMAND --help' for the flags of a command.
`

// run is the whole program: it returns the exit status. 0 is success, 1 a
// failure, 2 a mistake in the command line or configuration.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd, rest := "serve", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		cmd, rest = "version", nil // as most programs take it
	}
	var err error
	switch cmd {
	case "serve":
		err = runServe(ctx, rest, stdout, stderr, getenv)
	case "migrate":
		err = runMigrate(ctx, rest, stdout, stderr, getenv)
	case "user":
		err = runUser(ctx, rest, stdin, stdout, stderr, getenv)
	case "keys":
		err = runKeys(ctx, rest, stdout, stderr, getenv)
	case "import-seed":
		err = runImportSeed(ctx, rest, stdout, stderr, getenv)
	case "backup":
		err = runBackup(ctx, rest, stdout, getenv)
	case "copy":
		err = runCopy(ctx, rest, stdout, getenv)
	case "version":
		err = runVersion(rest, stdout)
	case "help":
		fmt.Fprint(stdout, commandsUsage)
	default:
		fmt.Fprintf(stderr, "bookstore: unknown command %q\n\n%s", cmd, commandsUsage)
		return 2
	}
	var usage *usageError
	var setting *settingError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0 // the command printed its help
	case errors.Is(err, exitSilently{}):
		return 1
	case errors.As(err, &setting):
		fmt.Fprintf(stderr, "bookstore: %v\n", setting)
		return 2
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "bookstore: %v\n", err)
		if usage.syntax {
			fmt.Fprintf(stderr, "Run 'bookstore %s --help' for usage.\n", cmd)
		}
		return 2
	default:
		fmt.Fprintf(stderr, "bookstore: %v\n", err)
		return 1
	}
}

func runVersion(args []string, stdout io.Writer) error {
	f := newFlagSet("version", nil)
	if err := parseFlags(f, args, stdout, "Usage: bookstore version\n       bookstore --version\n\nPrint the version, the Go version and the platform.\n"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bookstore %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// parseFlags parses args into f; on --help it prints help to stdout and
// returns flag.ErrHelp.
func parseFlags(f *flagSet, args []string, stdout io.Writer, synopsis string) error {
	err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "%s\n", synopsis)
		f.printUsage(stdout)
	}
	return err
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	f := newFlagSet("serve", getenv, serveSettings()...)
	if err := parseFlags(f, args, stdout, commandsUsage+"\nUsage: bookstore [serve] [flags]\n"); err != nil {
		return err
	}
	cfg, err := serveConfig(f)
	if err != nil {
		return err
	}
	exporter, err := tracing.FromEnv(getenv)
	if err != nil {
		return usagef("%v", err)
	}
	log := newLogger(stderr, cfg.LogLevel)

	// The first SIGINT or SIGTERM starts a graceful shutdown; stop() then
	// restores the default handling, so a second one ends the process at
	// once when a shutdown hangs.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	m := NewMain(cfg, log)
	tp, err := tracing.NewProvider(ctx, exporter, version)
	if err != nil {
		return err
	}
	if tp != nil {
		log.Info("tracing on", "protocol", exporter.Protocol)
		m.Tracer = tp
		defer func() {
			// Flush the last spans; a collector that is down costs at
			// most this much of the exit.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				log.Warn("tracing: spans not flushed at exit", "error", err.Error())
			}
		}()
	}
	if err := m.Run(ctx); err != nil {
		var se *settingError
		if errors.As(err, &se) {
			return se // one plain line, exit 2: see run
		}
		// Logged rather than printed: a server's stderr is a JSON log.
		log.Error("bookstore stopped", "error", err.Error())
		return exitSilently{}
	}
	return nil
}

// exitSilently makes run exit 1 without printing: the error is logged.
type exitSilently struct{}

func (exitSilently) Error() string { return "" }
